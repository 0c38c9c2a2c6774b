"""``tp.NamedDimension`` and ``tp.Bounds``: the ranges that a compiled function's dynamic sizes may take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tripy.errors import raise_error
from tripy.export import public


@dataclass(frozen=True)
@public
class Bounds:
    """The smallest, the tuned-for and the largest value of something dynamic: a shape (tuples of ints, as
    :attr:`tripy.InputInfo.shape_bounds` gives) or a size's value (one-element tuples, as
    :attr:`tripy.DimensionInputInfo.value_bounds` gives).

    .. code-block:: python

        bounds = tp.InputInfo(((1, 4, 16), 8), tp.float32).shape_bounds
        assert bounds == tp.Bounds(min=(1, 8), opt=(4, 8), max=(16, 8))
    """

    min: Any
    opt: Any
    max: Any

    def is_static(self) -> bool:
        """Whether nothing varies: ``min``, ``opt`` and ``max`` are equal."""
        return bool(self.min == self.opt == self.max)


@public
class NamedDimension:
    """A dynamic dimension with a name: every :class:`tripy.InputInfo` dimension given the same name must have
    the same size when the compiled function is called (a batch dimension shared by two inputs, say), and
    dimensions of different names vary independently.

    .. code-block:: python

        batch = tp.NamedDimension("batch", 1, 2, 4)
        infos = [tp.InputInfo((batch, 3), tp.float32), tp.InputInfo((batch, 3), tp.float32)]
        add = tp.compile(lambda a, b: a + b, args=infos)
        assert add(tp.ones((4, 3)), tp.ones((4, 3))).shape == (4, 3)
    """

    __slots__ = ("name", "min", "opt", "max")

    def __init__(self, name: str, min: int, opt: int, max: int) -> None:
        if not isinstance(name, str) or not name:
            raise_error(f"tp.NamedDimension: `name` must be a non-empty string, not {name!r}.")
        for arg, value in (("min", min), ("opt", opt), ("max", max)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise_error(f"tp.NamedDimension {name!r}: `{arg}` must be an int, not {value!r}.")
        if not 0 <= min <= opt <= max:
            raise_error(
                f"tp.NamedDimension {name!r}: needs 0 <= `min` <= `opt` <= `max`, but they are {min}, {opt}, {max}."
            )
        self.name = name
        self.min = min
        self.opt = opt
        self.max = max

    @property
    def bounds(self) -> tuple[int, int, int]:
        """``(min, opt, max)``."""
        return (self.min, self.opt, self.max)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NamedDimension) and (self.name, self.bounds) == (other.name, other.bounds)

    def __hash__(self) -> int:
        return hash((self.name, self.bounds))

    def __repr__(self) -> str:
        return f"NamedDimension({self.name!r}, min={self.min}, opt={self.opt}, max={self.max})"
