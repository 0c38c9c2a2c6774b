"""``tp.DimensionSize``: the size of a dimension as a tensor, usable wherever tripy takes a size."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from tripy import dtypes
from tripy.errors import raise_error
from tripy.export import public
from tripy.tensor import Tensor


@public
class DimensionSize(Tensor):
    """A size: a rank-0 :class:`tripy.int32` tensor that also holds its value as a Python int (``size``).

    Ops that take sizes (``tp.reshape``, ``tp.expand``, ``tp.iota``, ``tp.full``, ``tp.ones``, ``tp.zeros``)
    accept it where they accept an int; sums, differences, products and floor quotients with ints or other
    sizes stay sizes; with tensors it is an int32 scalar operand. ``t.shape[i]`` is a plain int here (it
    works in the same places). Under :func:`tripy.compile`, a size that follows a dynamic dimension, or an
    argument declared with :class:`tripy.DimensionInputInfo`, follows it in the compiled function too.

    .. code-block:: python

        x = tp.ones((2, 3, 4))
        rows = tp.DimensionSize(x.shape[0]) * x.shape[1]
        assert isinstance(rows, tp.DimensionSize) and rows.size == 6
        assert tp.reshape(x, (rows, -1)).shape == (6, 4)
        print(rows)
    """

    __slots__ = ("size",)
    size: int

    def __init__(self, data: Any) -> None:
        value = _int_value(data)
        if value is None or value < 0:
            raise_error(f"tp.DimensionSize: `data` must be a non-negative int, not {data!r}.")
        super().__init__(value, dtype=dtypes.int32)
        self.size = value

    def __int__(self) -> int:
        return self.size

    def __index__(self) -> int:
        return self.size

    def _sized(self, other: Any, fn: Callable[[int, int], int], reflected: bool = False) -> DimensionSize | None:
        value = _int_value(other)
        if value is None:
            return None
        result = fn(value, self.size) if reflected else fn(self.size, value)
        return DimensionSize(result) if result >= 0 else None

    def __add__(self, other: Any) -> Tensor:
        out = self._sized(other, operator.add)
        return super().__add__(other) if out is None else out

    def __radd__(self, other: Any) -> Tensor:
        out = self._sized(other, operator.add, True)
        return super().__radd__(other) if out is None else out

    def __sub__(self, other: Any) -> Tensor:
        out = self._sized(other, operator.sub)
        return super().__sub__(other) if out is None else out

    def __rsub__(self, other: Any) -> Tensor:
        out = self._sized(other, operator.sub, True)
        return super().__rsub__(other) if out is None else out

    def __mul__(self, other: Any) -> Tensor:
        out = self._sized(other, operator.mul)
        return super().__mul__(other) if out is None else out

    def __rmul__(self, other: Any) -> Tensor:
        out = self._sized(other, operator.mul, True)
        return super().__rmul__(other) if out is None else out

    def __floordiv__(self, other: Any) -> Tensor:
        if _int_value(other) == 0:
            raise_error("tp.DimensionSize: floor division by zero.")
        out = self._sized(other, operator.floordiv)
        return super().__floordiv__(other) if out is None else out

    def __rfloordiv__(self, other: Any) -> Tensor:
        if self.size == 0 and _int_value(other) is not None:
            raise_error("tp.DimensionSize: floor division by zero.")
        out = self._sized(other, operator.floordiv, True)
        return super().__rfloordiv__(other) if out is None else out


def _int_value(data: Any) -> int | None:
    """``data`` as an int if it is one (a Python or NumPy integer, or a size), else None."""
    if isinstance(data, DimensionSize):
        return data.size
    if isinstance(data, bool) or isinstance(data, Tensor):
        return None
    try:
        value = operator.index(data)
    except TypeError:
        return None
    return int(value)


def plain_size(value: Any) -> Any:
    """A size argument as an int where it is a :class:`DimensionSize` or a rank-0 integer tensor (computed now);
    anything else unchanged, for the caller to check."""
    if isinstance(value, DimensionSize):
        return value.size
    if isinstance(value, Tensor) and value.rank == 0 and value.dtype.is_integer and not value.dtype.is_quantized:
        return int(value)
    return value
