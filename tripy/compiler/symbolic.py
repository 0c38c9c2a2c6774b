"""Integers that depend on the dynamic dimensions of a compiled function's inputs.

A function is traced with concrete shapes, so a dynamic dimension shows up in the trace as a plain int
(in a ``reshape`` shape, a ``slice`` stop, an ``iota`` shape...). :func:`fit` recovers how each such int
depends on the dynamic dimensions by comparing traces made with different dimension values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class SymInt:
    """``coef * prod(d[s] ** e for s, e in powers) + offset``: an int of the trace as a function of the
    dynamic dimensions ``d`` (indexed by symbol)."""

    coef: Fraction
    powers: tuple[tuple[int, int], ...]
    offset: int = 0

    def evaluate(self, dims: Sequence[int] | Mapping[int, int]) -> int:
        """The value for dimension sizes ``dims``; a fractional coefficient rounds down (``d // 2``)."""
        value = Fraction(self.coef)
        for sym, exp in self.powers:
            value *= dims[sym] ** exp
        return math.floor(value) + self.offset

    def __repr__(self) -> str:
        terms = "*".join(f"d{s}" if e == 1 else f"d{s}**{e}" for s, e in self.powers)
        text = terms if self.coef == 1 else f"{self.coef}*{terms}"
        return f"{text}{self.offset:+d}" if self.offset else text


def resolve(value, dims: Sequence[int] | Mapping[int, int]):
    """``value`` with every :class:`SymInt` inside (tuples, lists, dicts) evaluated for ``dims``."""
    if isinstance(value, SymInt):
        return value.evaluate(dims)
    if isinstance(value, tuple):
        return tuple(resolve(v, dims) for v in value)
    if isinstance(value, list):
        return [resolve(v, dims) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, dims) for k, v in value.items()}
    return value


def is_symbolic(value) -> bool:
    """Whether ``value`` holds a :class:`SymInt` anywhere inside."""
    if isinstance(value, SymInt):
        return True
    if isinstance(value, (tuple, list)):
        return any(is_symbolic(v) for v in value)
    if isinstance(value, dict):
        return any(is_symbolic(v) for v in value.values())
    return False


def fit_int(
    base: int, probes: Sequence[int], base_dims: Sequence[int], probe_dims: Sequence[int]
) -> int | SymInt | None:
    """How an int depends on the dimensions, from its value at ``base_dims`` and at each probe.

    Probe ``s`` changes dimension ``s`` alone, to ``probe_dims[s]``. Returns the plain int when it depends
    on none, a :class:`SymInt` when a monomial of degree 1 or 2 per dimension (or, for one dimension, an
    affine form) explains it, else None. The caller checks the answer against one more trace.
    """
    changed = [s for s, v in enumerate(probes) if v != base]
    if not changed:
        return base
    found: list[tuple[int, int]] = []
    for s in changed:
        b, p = base_dims[s], probe_dims[s]
        exp = next((e for e in (1, 2) if base != 0 and base * p**e == probes[s] * b**e), None)
        if exp is None:
            break
        found.append((s, exp))
    powers = found if len(found) == len(changed) else None
    if powers:
        scale = 1
        for s, e in powers:
            scale *= base_dims[s] ** e
        return SymInt(Fraction(base, scale), tuple(powers))
    if len(changed) == 1:  # affine in one dimension: value = slope * d + offset
        s = changed[0]
        slope = Fraction(probes[s] - base, probe_dims[s] - base_dims[s])
        offset = base - slope * base_dims[s]
        if offset.denominator == 1:
            return SymInt(slope, ((s, 1),), int(offset))
    return None
