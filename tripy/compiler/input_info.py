"""``tp.InputInfo``: the shape and data type that a compiled function accepts for one argument."""

from __future__ import annotations

from collections.abc import Sequence

from tripy import dtypes
from tripy.compiler.dimension import Bounds, NamedDimension
from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.dimension_size import DimensionSize

DimSpec = int | tuple[int, int, int] | NamedDimension


@public
class InputInfo:
    """Shape and data type of one argument of :func:`tripy.compile`.

    Each dimension of ``shape`` is an int (static), a ``(min, opt, max)`` range (dynamic: the compiled
    function then accepts any size from ``min`` to ``max`` there, and TensorRT tunes for ``opt``), or a
    :class:`tripy.NamedDimension`, a range with a name: dimensions of one name must be equal in each call.

    .. code-block:: python

        info = tp.InputInfo(shape=((1, 4, 16), 8), dtype=tp.float32)
        assert info.min == (1, 8) and info.opt == (4, 8) and info.max == (16, 8)
        assert info.shape_bounds == tp.Bounds(min=(1, 8), opt=(4, 8), max=(16, 8))
    """

    def __init__(self, shape: Sequence[DimSpec], dtype: DataType) -> None:
        if not isinstance(dtype, DataType):
            raise_error(f"`dtype` of tp.InputInfo must be a tripy data type such as tp.float32, not {dtype!r}.")
        if isinstance(shape, (int, str)) or not isinstance(shape, Sequence):
            raise_error(f"`shape` of tp.InputInfo must be a tuple of dimensions, not {shape!r}.")
        ranges = []
        names: dict[int, str] = {}
        for i, given in enumerate(shape):
            dim: object = given
            if isinstance(dim, NamedDimension):
                ranges.append(dim.bounds)
                names[i] = dim.name
                continue
            if isinstance(dim, DimensionSize):
                dim = dim.size
            elif isinstance(dim, (tuple, list)):
                dim = tuple(d.size if isinstance(d, DimensionSize) else d for d in dim)
            if isinstance(dim, bool) or not isinstance(dim, (int, tuple, list)):
                raise_error(
                    f"Dimension {i} of `shape` of tp.InputInfo is {dim!r}: expected an int or a "
                    "(min, opt, max) tuple of ints, or a tp.NamedDimension."
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
        #: The index and name of each dimension given as a :class:`tripy.NamedDimension`.
        self.dimension_names: dict[int, str] = names

    @property
    def shape_bounds(self) -> Bounds:
        """The smallest, the tuned-for and the largest accepted shape."""
        return Bounds(self.min, self.opt, self.max)

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
        return (
            isinstance(other, InputInfo)
            and type(self) is type(other)
            and (self.ranges, self.dtype, self.dimension_names) == (other.ranges, other.dtype, other.dimension_names)
        )

    def __hash__(self) -> int:
        return hash((self.ranges, self.dtype.name, tuple(sorted(self.dimension_names.items()))))

    def __repr__(self) -> str:
        dims: list[object] = []
        for axis, (lo, opt, hi) in enumerate(self.ranges):
            name = self.dimension_names.get(axis)
            if name is not None:
                dims.append(NamedDimension(name, lo, opt, hi))
            else:
                dims.append(lo if lo == hi else (lo, opt, hi))
        text = "(" + ", ".join(map(repr, dims)) + ("," if len(dims) == 1 else "") + ")"
        return f"InputInfo(shape={text}, dtype={self.dtype})"


@public
class DimensionInputInfo(InputInfo):
    """An argument of :func:`tripy.compile` that is a size, passed as a :class:`tripy.DimensionSize` (or an int)
    whose value may be anything in ``value_bounds`` (``(min, opt, max)``); the function may use it wherever
    sizes go (``tp.reshape``, ``tp.ones``, ``tp.expand``...) and as an int32 scalar in arithmetic.

    .. code-block:: python

        make = tp.compile(lambda n: tp.ones((n, 2), tp.int32) * n, args=[tp.DimensionInputInfo(value_bounds=(1, 2, 8))])
        assert make(tp.DimensionSize(3)).tolist() == [[3, 3]] * 3
    """

    def __init__(self, value_bounds: tuple[int, int, int] | Bounds) -> None:
        bounds: object = value_bounds
        if isinstance(bounds, Bounds):  # as value_bounds gives them: one-element tuples (or ints)
            bounds = tuple(
                v[0] if isinstance(v, (tuple, list)) and len(v) == 1 else v
                for v in (bounds.min, bounds.opt, bounds.max)
            )
        if isinstance(bounds, (tuple, list)):
            bounds = tuple(v.size if isinstance(v, DimensionSize) else v for v in bounds)
        if (
            not isinstance(bounds, (tuple, list))
            or len(bounds) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in bounds)
            or not 0 <= bounds[0] <= bounds[1] <= bounds[2]
        ):
            raise_error(
                f"`value_bounds` of tp.DimensionInputInfo must be (min, opt, max) ints with 0 <= min <= opt <= max, "
                f"not {value_bounds!r}."
            )
        # Held as a one-dimensional shape whose length is the value: it travels through tracing, the engine's
        # optimization profile and the call checks as a dynamic dimension does.
        lo, opt, hi = bounds
        super().__init__(((lo, opt, hi),), dtypes.int32)

    @property
    def value_bounds(self) -> Bounds:
        """The smallest, the tuned-for and the largest accepted value, as one-element tuples (as nvtripy gives
        them, so that they read like the bounds of a shape)."""
        lo, opt, hi = self.ranges[0]
        return Bounds((lo,), (opt,), (hi,))

    def accepts_value(self, value: int) -> bool:
        lo, _, hi = self.ranges[0]
        return lo <= value <= hi

    def __repr__(self) -> str:
        return f"DimensionInputInfo(value_bounds={self.ranges[0]})"
