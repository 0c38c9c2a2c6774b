"""Rewrites as data: patterns over the trace and the fused primitive that replaces what they match.

A :class:`Pattern` matches an unevaluated tensor made by a primitive of a given class whose inputs match
the sub-patterns; a :class:`Capture` matches any tensor and names it (a name used twice must match one
tensor twice); :class:`OneOf` tries alternatives in order. A :class:`Rewrite` pairs a pattern with a
function that, given the match, returns the fused primitive and its inputs (or None when a condition the
pattern cannot express fails). :func:`plan` decides, for one evaluation, which tensors are computed by
which primitive; the evaluator and ``tp.compile`` both use it, so a pattern is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from tripy.trace.primitives import Primitive

if TYPE_CHECKING:
    from tripy.tensor import Tensor
    from tripy.trace.node import Node


@dataclass(frozen=True)
class Capture:
    """Any tensor, evaluated or not, bound to ``name``."""

    name: str


@dataclass(frozen=True)
class Pattern:
    """An unevaluated tensor made by a ``prim`` whose inputs match ``inputs`` (and ``when`` holds for it).

    ``name`` binds the matched tensor; unnamed matched tensors are still recorded as the match's interior.
    """

    prim: type[Primitive]
    inputs: tuple[PatternLike, ...] = ()
    when: Callable[[Tensor], bool] | None = None
    name: str | None = None


@dataclass(frozen=True)
class OneOf:
    """The first of ``alternatives`` that matches."""

    alternatives: tuple[PatternLike, ...]


PatternLike = Union[Capture, Pattern, OneOf]  # noqa: UP007 - a runtime alias, evaluated before 3.12


@dataclass
class Match:
    """What a pattern matched: named tensors, and every tensor matched by a :class:`Pattern` (the interior)."""

    tensors: dict[str, Tensor] = field(default_factory=dict)
    interior: list[Tensor] = field(default_factory=list)

    def __getitem__(self, name: str) -> Tensor:
        return self.tensors[name]

    def get(self, name: str) -> Tensor | None:
        return self.tensors.get(name)


@dataclass(frozen=True)
class Rewrite:
    """``pattern`` (rooted at a :class:`Pattern`) replaced by what ``build`` returns for the match."""

    name: str
    pattern: Pattern
    build: Callable[[Match], tuple[Primitive, tuple[Tensor, ...]] | None]


def match(pattern: PatternLike, tensor: Tensor) -> Match | None:
    """The match of ``pattern`` at ``tensor``, or None."""
    found = Match()
    return found if _match(pattern, tensor, found, []) else None


def _match(pattern: PatternLike, tensor: Tensor, found: Match, trail: list[str]) -> bool:
    """Extend ``found`` with a match of ``pattern`` at ``tensor``; names bound are appended to ``trail`` so
    that a failed alternative of :class:`OneOf` can be undone."""
    if isinstance(pattern, Capture):
        bound = found.tensors.get(pattern.name)
        if bound is not None:
            return bound is tensor
        found.tensors[pattern.name] = tensor
        trail.append(pattern.name)
        return True
    if isinstance(pattern, OneOf):
        mark, interior = len(trail), len(found.interior)
        for alternative in pattern.alternatives:
            if _match(alternative, tensor, found, trail):
                return True
            while len(trail) > mark:
                del found.tensors[trail.pop()]
            del found.interior[interior:]
        return False
    node = tensor.node
    if node is None or type(node.prim) is not pattern.prim or len(node.inputs) != len(pattern.inputs):
        return False
    if pattern.when is not None and not pattern.when(tensor):
        return False
    name = pattern.name
    if name is not None:
        bound = found.tensors.get(name)
        if bound is not None and bound is not tensor:
            return False
        if bound is None:
            found.tensors[name] = tensor
            trail.append(name)
    found.interior.append(tensor)
    for sub, inp in zip(pattern.inputs, node.inputs):
        if not _match(sub, inp, found, trail):
            return False
    return True


def fuse_at(tensor: Tensor, rewrites: Sequence[Rewrite]) -> tuple[Primitive, tuple[Tensor, ...]] | None:
    """The fused primitive and inputs of the first of ``rewrites`` that matches at ``tensor``, or None."""
    node = tensor.node
    if node is None:
        return None
    for rewrite in _candidates(rewrites, node):
        pattern = rewrite.pattern
        if not _cannot_match(pattern, node.inputs):
            found = match(pattern, tensor)
            built = rewrite.build(found) if found is not None else None
            if built is not None:
                return built
    return None


#: For each sequence of rewrites seen (by id, kept alive with it): by root class, its rewrites, and those
#: of them whose inputs may all be values.
_BY_ROOT: dict[int, tuple[Sequence[Rewrite], dict[type[Primitive], tuple[list[Rewrite], list[Rewrite]]]]] = {}


def _candidates(rewrites: Sequence[Rewrite], node: Node) -> list[Rewrite]:
    """The rewrites that may match at a tensor made by ``node``: those rooted at its primitive's class, and
    only those whose inputs may all be values when all of the node's are (eager code)."""
    by_root = _BY_ROOT.get(id(rewrites))
    if by_root is None or by_root[0] is not rewrites:
        if len(_BY_ROOT) > 64:
            _BY_ROOT.clear()
        by_root = _BY_ROOT[id(rewrites)] = (rewrites, _group_by_root(rewrites))
    candidates = by_root[1].get(type(node.prim))
    if candidates is None:
        return _NO_REWRITES
    for i in node.inputs:
        if i.node is not None:
            return candidates[0]
    return candidates[1]


_NO_REWRITES: list[Rewrite] = []


def _group_by_root(rewrites: Sequence[Rewrite]) -> dict[type[Primitive], tuple[list[Rewrite], list[Rewrite]]]:
    grouped: dict[type[Primitive], tuple[list[Rewrite], list[Rewrite]]] = {}
    for rewrite in rewrites:
        every, on_values = grouped.setdefault(rewrite.pattern.prim, ([], []))
        every.append(rewrite)
        if all(_roots(p) is None for p in rewrite.pattern.inputs):
            on_values.append(rewrite)
    return grouped


def _roots(pattern: PatternLike) -> frozenset[type[Primitive]] | None:
    """The primitive classes a tensor matched by ``pattern`` can be made by (None: any tensor matches)."""
    if isinstance(pattern, Pattern):
        return frozenset((pattern.prim,))
    if isinstance(pattern, OneOf):
        found: set[type[Primitive]] = set()
        for alternative in pattern.alternatives:
            roots = _roots(alternative)
            if roots is None:
                return None
            found |= roots
        return frozenset(found)
    return None


#: For each pattern seen (by id, the pattern kept alive with it): the classes each of its inputs allows.
_INPUT_ROOTS: dict[int, tuple[Pattern, tuple[frozenset[type[Primitive]] | None, ...]]] = {}


def _cannot_match(pattern: Pattern, inputs: tuple[Tensor, ...]) -> bool:
    """A quick refusal, one level deep: an input that the pattern needs made by some primitives is a value
    (eager code) or is made by another primitive. Most tensors of a trace are refused here, cheaply."""
    entry = _INPUT_ROOTS.get(id(pattern))
    if entry is None or entry[0] is not pattern:
        entry = _INPUT_ROOTS[id(pattern)] = (pattern, tuple(_roots(p) for p in pattern.inputs))
    for allowed, t in zip(entry[1], inputs):
        if allowed is not None and (t.node is None or type(t.node.prim) not in allowed):
            return True
    return False


@dataclass(frozen=True)
class Step:
    """One primitive to run: it computes ``tensor`` from ``inputs``."""

    tensor: Tensor
    prim: Primitive
    inputs: tuple[Tensor, ...]


def plan(order: Sequence[Tensor], outputs: Sequence[Tensor], rewrites: Sequence[Rewrite]) -> list[Step]:
    """The steps that compute ``outputs``: ``order`` (inputs first, from ``topological_order``) with each
    match of ``rewrites`` replaced by its fused primitive, and without what only a fused match needed.

    Matches are sought from the outputs back, so the largest pattern wins (a matrix product with its bias
    add rather than the product alone).
    """
    if not rewrites:
        return [Step(t, t.node.prim, t.node.inputs) for t in order]  # type: ignore[union-attr]
    fused: dict[int, tuple[Primitive, tuple[Tensor, ...]]] = {}
    covered: set[int] = set()
    for tensor in reversed(order):
        node = tensor.node
        candidates = _candidates(rewrites, node) if node is not None else _NO_REWRITES
        if not candidates or id(tensor) in covered:
            continue
        for rewrite in candidates:
            if _cannot_match(rewrite.pattern, node.inputs):  # type: ignore[union-attr]
                continue
            found = match(rewrite.pattern, tensor)
            built = rewrite.build(found) if found is not None else None
            if built is not None:
                fused[id(tensor)] = built
                covered.update(id(t) for t in found.interior if t is not tensor)  # type: ignore[union-attr]
                break
    if not fused:
        return [Step(t, t.node.prim, t.node.inputs) for t in order]  # type: ignore[union-attr]
    needed = {id(t) for t in outputs}
    steps: list[Step] = []
    for tensor in reversed(order):
        if id(tensor) not in needed:
            continue
        prim, inputs = fused.get(id(tensor)) or (tensor.node.prim, tensor.node.inputs)  # type: ignore[union-attr]
        needed.update(id(i) for i in inputs if i.node is not None)
        steps.append(Step(tensor, prim, inputs))
    steps.reverse()
    return steps
