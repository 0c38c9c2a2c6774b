"""Fusion of elementwise chains: planned steps regrouped so that each chain runs as one generated kernel.

:func:`fuse_elementwise` takes a plan (``tripy.trace.rewrite.plan``) and returns an equivalent one in which
connected elementwise steps (unary, binary, where, casts between plain types, and the reshapes and expands
that only broadcast) become one :class:`~tripy.trace.primitives.FusedElementwise`, and a sum, maximum or
minimum of such a chain becomes one :class:`~tripy.trace.primitives.FusedReduce`. Every value of a chain
broadcasts to the chain's result (each primitive's operands broadcast to its result), so a kernel computes
the whole chain once per element of the result, reading each input at its broadcast index.

Which values are computed where: an elementwise value that something other than an elementwise step or a
fusible reduction reads, or that the caller keeps (``keep``: the plan's outputs), is a *root*: it is
stored, by a kernel of its own. Every other elementwise value is computed inside the kernels of the steps
that read it, so a value read by two chains (LayerNorm's centred input, read by the variance's sum and by
the normalisation) is computed in both rather than stored: that is what lets LayerNorm run as three kernels
and softmax as three. A value is recomputed like that only while its own chain is short (at most
:data:`RECOMPUTE_LIMIT` operations) and reads few arrays of its own size (at most :data:`RECOMPUTE_READS`,
so that recomputing does not multiply memory traffic: a residual stream is stored every block or so); a
value read twice that fails either is a root. Each fused step has one output.

A chain of one computing step (with only reshapes around it) stays as it was: it is one kernel already.
The pass is pure and backend-independent; the NumPy backend runs a fused step's program, which is the
unfused primitives themselves, so a fused plan computes exactly what the unfused one does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.trace.primitives import (
    Binary,
    BinaryOp,
    Cast,
    Expand,
    FusedElementwise,
    FusedReduce,
    Primitive,
    Program,
    Reduce,
    ReduceOp,
    Reshape,
    Unary,
    UnaryOp,
    Where,
)
from tripy.trace.rewrite import Step

if TYPE_CHECKING:
    from tripy.tensor import Tensor

#: The element types a fused kernel computes with (containers such as bfloat16, float8, int4 are not fused).
PLAIN_DTYPES: frozenset[DataType] = frozenset({dtypes.float32, dtypes.float16, dtypes.int32, dtypes.int8, dtypes.bool})
_FLOATS = frozenset({dtypes.float32, dtypes.float16})
_INTS = frozenset({dtypes.int32, dtypes.int8})
#: Unary operations fused per kind of operand.
_INT_UNARY = frozenset({UnaryOp.NEG, UnaryOp.ABS})
#: Binary operations fused per kind of operand (comparisons on every kind).
_FLOAT_BINARY = frozenset(
    {BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV, BinaryOp.POW, BinaryOp.MAX, BinaryOp.MIN}
)
_INT_BINARY = frozenset({BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.MAX, BinaryOp.MIN})
_BOOL_BINARY = frozenset({BinaryOp.AND, BinaryOp.OR, BinaryOp.EQ, BinaryOp.NE})
_COMPARISONS = frozenset({BinaryOp.EQ, BinaryOp.NE, BinaryOp.LT, BinaryOp.LE, BinaryOp.GT, BinaryOp.GE})
#: Reductions that take an elementwise chain as their input.
_FUSED_REDUCTIONS = frozenset({ReduceOp.SUM, ReduceOp.MAX, ReduceOp.MIN})
#: The longest chain (in computing operations) that is recomputed by each of several readers rather than stored.
RECOMPUTE_LIMIT = 24
#: The most arrays of a value's own size that its chain may read for it to be recomputed by several readers.
RECOMPUTE_READS = 3

_ELEMENTWISE, _REDUCTION = "elementwise", "reduction"


def _size(tensor: Tensor) -> int:
    return math.prod(tensor.shape)


def _concrete(shape: tuple) -> bool:
    return all(type(d) is int for d in shape)


def _adds_leading_ones(source: tuple, shape: tuple) -> bool:
    extra = len(shape) - len(source)
    return extra >= 0 and tuple(shape[extra:]) == tuple(source) and all(d == 1 for d in shape[:extra])


def elementwise_supported(
    prim: Primitive, inputs: Sequence[tuple[tuple, DataType]], out: tuple[tuple, DataType]
) -> bool:
    """Whether ``prim`` on inputs of these (shape, dtype) giving ``out`` can be part of a fused chain."""
    if not _concrete(out[0]) or out[1] not in PLAIN_DTYPES:
        return False
    if any(dt not in PLAIN_DTYPES or not _concrete(shape) for shape, dt in inputs):
        return False
    kind = type(prim)
    if kind is Unary:
        assert isinstance(prim, Unary)
        dt = inputs[0][1]
        if dt in _FLOATS:
            return prim.op is not UnaryOp.NOT
        if dt in _INTS:
            return prim.op in _INT_UNARY
        return prim.op is UnaryOp.NOT
    if kind is Binary:
        assert isinstance(prim, Binary)
        (_, a), (_, b) = inputs
        if a is not b:
            return False
        if prim.op in _COMPARISONS and a is not dtypes.bool:
            return True
        if a in _FLOATS:
            return prim.op in _FLOAT_BINARY
        if a in _INTS:
            return prim.op in _INT_BINARY
        return prim.op in _BOOL_BINARY
    if kind is Where:
        return inputs[0][1] is dtypes.bool and inputs[1][1] is inputs[2][1]
    if kind is Cast:
        return True
    if kind is Reshape:
        return _adds_leading_ones(inputs[0][0], out[0])
    if kind is Expand:
        return len(inputs[0][0]) == len(out[0])
    return False


def reduction_supported(prim: Primitive, inputs: Sequence[tuple[tuple, DataType]], out: tuple[tuple, DataType]) -> bool:
    """Whether ``prim`` is a reduction that takes a fused chain as its input."""
    if type(prim) is not Reduce:
        return False
    assert isinstance(prim, Reduce)
    (shape, dt) = inputs[0]
    return prim.op in _FUSED_REDUCTIONS and dt in _FLOATS and out[1] is dt and _concrete(shape) and len(prim.axes) > 0


def _kind(step: Step, reductions: bool) -> str | None:
    ins = [(tuple(t.shape), t.dtype) for t in step.inputs]
    out = (tuple(step.tensor.shape), step.tensor.dtype)
    if elementwise_supported(step.prim, ins, out):
        return _ELEMENTWISE
    if reductions and reduction_supported(step.prim, ins, out):
        return _REDUCTION
    return None


def computes(step: Step) -> bool:
    """Whether a step does arithmetic (a kernel of its own), rather than a view or a no-op cast."""
    prim = step.prim
    if type(prim) in (Reshape, Expand):
        return False
    if type(prim) is Cast:
        return step.inputs[0].dtype is not step.tensor.dtype
    return True


def fuse_elementwise(steps: Sequence[Step], keep: Sequence[Tensor] = (), reductions: bool = True) -> list[Step]:
    """``steps`` (a plan, inputs first) with elementwise chains (and, with ``reductions``, the sums, maxima
    and minima of such chains) fused.

    ``keep`` are the tensors whose values the caller reads (the plan's outputs): each remains a step.
    """
    n = len(steps)
    position = {id(s.tensor): i for i, s in enumerate(steps)}
    kinds = [_kind(s, reductions) for s in steps]
    producers: list[list[int]] = []
    consumers: list[set[int]] = [set() for _ in range(n)]
    for i, step in enumerate(steps):
        found: list[int] = []
        for t in step.inputs:
            j = position.get(id(t))
            if j is not None and j not in found:
                found.append(j)
                consumers[j].add(i)
        producers.append(found)
    kept = {position[id(t)] for t in keep if id(t) in position}

    # Which elementwise values are computed inside their readers' kernels instead of being stored.
    inline = [False] * n
    cost = [0] * n
    reads: list[set[int]] = [set() for _ in range(n)]  # the arrays of each value's size its chain reads
    sizes: dict[int, int] = {}
    for i, step in enumerate(steps):
        if kinds[i] is not _ELEMENTWISE:
            continue
        cost[i] = int(computes(step)) + sum(cost[j] for j in producers[i] if inline[j])
        size = _size(step.tensor)
        full = reads[i] = set()
        for t in step.inputs:
            j = position.get(id(t))
            if j is not None and inline[j]:
                full |= {r for r in reads[j] if sizes[r] == size}
            elif _size(t) == size:
                full.add(id(t))
                sizes[id(t)] = size
        readers = consumers[i]
        if not readers or i in kept or any(kinds[r] is None for r in readers):
            continue
        if len(readers) > 1 and (cost[i] > RECOMPUTE_LIMIT or len(full) > RECOMPUTE_READS):
            continue
        inline[i] = True

    chosen: dict[int, Step] = {}
    for root in range(n):
        if kinds[root] is None:
            chosen[root] = steps[root]
            continue
        if inline[root]:
            continue
        members = _cone(root, producers, inline)
        if sum(computes(steps[m]) for m in members) < 2:
            for m in members:  # one kernel already: the steps as they were
                chosen.setdefault(m, steps[m])
            continue
        chosen[root] = _fused_step(steps, members, position)
    return [chosen[i] for i in sorted(chosen)]


def _cone(root: int, producers: list[list[int]], inline: list[bool]) -> list[int]:
    """``root`` and the inlined steps it reads, directly or through each other, inputs first."""
    seen = {root}
    stack = [root]
    while stack:
        for j in producers[stack.pop()]:
            if inline[j] and j not in seen:
                seen.add(j)
                stack.append(j)
    return sorted(seen)


def _fused_step(steps: Sequence[Step], members: list[int], position: dict[int, int]) -> Step:
    """One step computing ``members`` (positions, inputs first; the last is the root) as a program."""
    inside = set(members)
    external: dict[int, int] = {}
    inputs: list[Tensor] = []
    for m in members:
        for t in steps[m].inputs:
            if position.get(id(t)) not in inside and id(t) not in external:
                external[id(t)] = len(inputs)
                inputs.append(t)
    number = {m: len(inputs) + k for k, m in enumerate(members)}
    program: Program = tuple(
        (
            steps[m].prim,
            tuple(
                number[p] if (p := position.get(id(t))) is not None and p in inside else external[id(t)]
                for t in steps[m].inputs
            ),
        )
        for m in members
    )
    root = steps[members[-1]]
    shape, dtype = tuple(root.tensor.shape), root.tensor.dtype
    prim = FusedReduce(program, shape, dtype) if type(root.prim) is Reduce else FusedElementwise(program, shape, dtype)
    return Step(root.tensor, prim, tuple(inputs))
