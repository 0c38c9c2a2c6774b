"""Data types of tripy tensors and their NumPy equivalents (``ml_dtypes`` for the non-standard ones)."""

from __future__ import annotations

import builtins

import ml_dtypes
import numpy as np


class DataType:
    """A tensor element type such as ``tp.float32`` or ``tp.int8``; prints as its name."""

    __slots__ = ("name", "itemsize_bits", "is_float", "is_integer", "is_quantized", "_np")

    def __init__(
        self, name: str, np_dtype, itemsize_bits: int, is_float: builtins.bool, is_quantized: builtins.bool = False
    ):
        self.name = name
        self.itemsize_bits = itemsize_bits
        self.is_float = is_float
        self.is_integer = not is_float and name != "bool"
        self.is_quantized = is_quantized
        self._np = np.dtype(np_dtype)

    @property
    def numpy(self) -> np.dtype:
        """The NumPy dtype that holds this type's values on the host."""
        return self._np

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __reduce__(self):
        return (from_name, (self.name,))


float32 = DataType("float32", np.float32, 32, True)
float16 = DataType("float16", np.float16, 16, True)
bfloat16 = DataType("bfloat16", ml_dtypes.bfloat16, 16, True)
float8 = DataType("float8", ml_dtypes.float8_e4m3fn, 8, True, is_quantized=True)
int4 = DataType("int4", ml_dtypes.int4, 4, False, is_quantized=True)
int8 = DataType("int8", np.int8, 8, False, is_quantized=True)
int32 = DataType("int32", np.int32, 32, False)
int64 = DataType("int64", np.int64, 64, False)
bool = DataType("bool", np.bool_, 8, False)  # noqa: A001 - mirrors tp.bool

ALL: tuple[DataType, ...] = (float32, float16, bfloat16, float8, int4, int8, int32, int64, bool)
_BY_NAME = {dt.name: dt for dt in ALL}
_BY_NUMPY = {dt.numpy: dt for dt in ALL}


class DataTypeGroup:
    """A family of data types, such as ``tp.floating`` or ``tp.integer``; ``dtype in group`` tests membership,
    as do ``isinstance`` and ``issubclass`` (nvtripy's data types are classes, so its users write the latter).

    .. code-block:: python

        assert tp.float16 in tp.floating and tp.int8 not in tp.floating
        assert issubclass(tp.float32, tp.floating) and isinstance(tp.int32, tp.integer)
        assert tp.int8 in tp.integer and tp.bool not in tp.integer
        assert list(tp.integer) == [tp.int4, tp.int8, tp.int32, tp.int64]
    """

    __slots__ = ("name", "members")

    def __init__(self, name: str, members: tuple[DataType, ...]) -> None:
        self.name = name
        self.members = members

    def __contains__(self, dtype: object) -> builtins.bool:
        return any(dtype is member for member in self.members)

    __instancecheck__ = __contains__
    __subclasscheck__ = __contains__

    def __iter__(self):
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


#: The floating-point types, float8 included.
floating = DataTypeGroup("floating", (float32, float16, bfloat16, float8))
#: The signed integer types, int4 and int8 included.
integer = DataTypeGroup("integer", (int4, int8, int32, int64))
GROUPS: tuple[DataTypeGroup, ...] = (floating, integer)

#: Inclusive range of each quantized type; float8 (e4m3) saturates at +-448.
QUANT_RANGE: dict[DataType, tuple[float, float]] = {int8: (-128, 127), int4: (-8, 7), float8: (-448.0, 448.0)}


def lowest(dtype: DataType) -> float | int:
    """The smallest value of ``dtype``: -inf for floats, the bottom of the range for integers."""
    if dtype.is_float:
        return float("-inf")
    if dtype in QUANT_RANGE:
        return int(QUANT_RANGE[dtype][0])
    return 0 if dtype is bool else -(2 ** (dtype.itemsize_bits - 1))


def from_name(name: str) -> DataType:
    return _BY_NAME[name]


def from_numpy(np_dtype) -> DataType | None:
    """The tripy type for a NumPy dtype, or None if there is none (float64 and friends map down)."""
    np_dtype = np.dtype(np_dtype)
    if np_dtype in _BY_NUMPY:
        return _BY_NUMPY[np_dtype]
    if np_dtype.kind == "f":
        return float32
    if np_dtype.kind in "iu":
        return int64 if np_dtype.itemsize > 4 else int32
    return None
