"""``tp.InputInfo``: the shape and data type that a compiled function accepts for one argument."""

from __future__ import annotations

from collections.abc import Sequence

from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public

DimSpec = int | tuple[int, int, int]


@public
class InputInfo:
    """Shape and data type of one argument of :func:`tripy.compile`.

    Each dimension of ``shape`` is an int (static) or a ``(min, opt, max)`` range (dynamic): the compiled
    function then accepts any size from ``min`` to ``max`` there, and TensorRT tunes for ``opt``.

    .. code-block:: python

        info = tp.InputInfo(shape=((1, 4, 16), 8), dtype=tp.float32)
        assert info.min == (1, 8) and info.opt == (4, 8) and info.max == (16, 8)
    """

    def __init__(self, shape: Sequence[DimSpec], dtype: DataType) -> None:
        if not isinstance(dtype, DataType):
            raise_error(f"`dtype` of tp.InputInfo must be a tripy data type such as tp.float32, not {dtype!r}.")
        if isinstance(shape, (int, str)) or not isinstance(shape, Sequence):
            raise_error(f"`shape` of tp.InputInfo must be a tuple of dimensions, not {shape!r}.")
        ranges = []
        for i, dim in enumerate(shape):
            if isinstance(dim, bool) or not isinstance(dim, (int, tuple, list)):
                raise_error(
                    f"Dimension {i} of `shape` of tp.InputInfo is {dim!r}: expected an int or a "
                    "(min, opt, max) tuple of ints."
                )
            if isinstance(dim, int):
                if dim < 0:
                    raise_error(f"Dimension {i} of `shape` of tp.InputInfo is {dim}: sizes must be >= 0.")
                ranges.append((dim, dim, dim))
                continue
            if len(dim) != 3 or not all(isinstance(d, int) and not isinstance(d, bool) for d in dim):
                raise_error(
                    f"Dimension {i} of `shape` of tp.InputInfo is {tuple(dim)!r}: a dynamic dimension is a "
                    "(min, opt, max) tuple of three ints."
                )
            lo, opt, hi = dim
            if not 0 <= lo <= opt <= hi:
                raise_error(
                    f"Dimension {i} of `shape` of tp.InputInfo is {tuple(dim)!r}: a range (min, opt, max) "
                    "needs 0 <= min <= opt <= max."
                )
            ranges.append((lo, opt, hi))
        self.dtype = dtype
        self.ranges: tuple[tuple[int, int, int], ...] = tuple(ranges)

    @property
    def min(self) -> tuple[int, ...]:
        """The smallest accepted shape."""
        return tuple(r[0] for r in self.ranges)

    @property
    def opt(self) -> tuple[int, ...]:
        """The shape TensorRT optimizes for."""
        return tuple(r[1] for r in self.ranges)

    @property
    def max(self) -> tuple[int, ...]:
        """The largest accepted shape."""
        return tuple(r[2] for r in self.ranges)

    @property
    def dynamic_axes(self) -> tuple[int, ...]:
        """The dimensions whose size may vary."""
        return tuple(i for i, (lo, _, hi) in enumerate(self.ranges) if lo != hi)

    def accepts(self, shape: Sequence[int]) -> bool:
        return len(shape) == len(self.ranges) and all(lo <= s <= hi for s, (lo, _, hi) in zip(shape, self.ranges))

    def shape_text(self) -> str:
        """The accepted shape, dynamic dimensions as ``min..max``: ``(1..16, 8)``."""
        dims = [str(lo) if lo == hi else f"{lo}..{hi}" for lo, _, hi in self.ranges]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InputInfo) and (self.ranges, self.dtype) == (other.ranges, other.dtype)

    def __hash__(self) -> int:
        return hash((self.ranges, self.dtype.name))

    def __repr__(self) -> str:
        shape = tuple(lo if lo == hi else (lo, opt, hi) for lo, opt, hi in self.ranges)
        return f"InputInfo(shape={shape}, dtype={self.dtype})"
