"""The structure of one evaluation, as a hashable key: what lets a backend recognize a trace it has run before.

Two evaluations have equal keys when they run the same primitives (equal fields) wired the same way, on
inputs (the evaluated tensors the trace reads, its *leaves*) of the same shapes and dtypes, for the same
outputs. Only values differ, so a plan made for one, or a CUDA graph captured from it, computes the other.

A signature also says which tensors of the trace are still wanted once it is evaluated (:attr:`kept`): the
outputs, and every tensor referenced from outside the trace (a variable of the user's, a list, a node that
is not part of this evaluation). The rest exist only as inputs of the trace's own nodes. This is read from
CPython's reference counts; a count that is off only leaves a tensor unevaluated, and an unevaluated tensor
still computes its value from its trace when asked.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tripy.tensor import Tensor
    from tripy.trace.node import Node


@dataclass(frozen=True)
class Signature:
    """One evaluation's structure (``key``), its leaves, and which of its tensors are wanted."""

    #: Equal for evaluations that differ only in their leaves' values.
    key: TraceKey
    #: The evaluated tensors the trace reads, in the order the key numbers them.
    leaves: tuple[Tensor, ...]
    #: Positions, in the topological order, of the outputs and of the tensors referenced from outside.
    kept: tuple[int, ...]


def _references(items: list[Tensor], n: int) -> int:
    """References to ``items[n]``, counted the same way for every item (the list, a local, the argument)."""
    item = items[n]
    return sys.getrefcount(item)


#: The count of :func:`_references` for an item held only by its list.
_HELD_BY_LIST_ONLY = _references([object()], 0)  # type: ignore[list-item]


def traced(outputs: Sequence[Tensor]) -> tuple[list[Tensor], Signature | None]:
    """The unevaluated tensors that ``outputs`` depend on, each after its inputs (``topological_order``'s
    order), and the signature of evaluating them (None when a primitive cannot be hashed): one walk."""
    if not outputs:
        return [], None
    order, slots, uses, leaves, parts = _walk(outputs)  # its frame, and its references, are gone now
    leaf_types = tuple((t.shape, t.dtype, t.backend) for t in leaves)
    try:
        key = TraceKey((tuple(parts), leaf_types, tuple(slots[id(t)] for t in outputs)))
    except TypeError:
        return order, None
    return order, Signature(key, tuple(leaves), _wanted(order, uses, [slots[id(t)] for t in outputs]))


def _walk(
    outputs: Sequence[Tensor],
) -> tuple[list[Tensor], dict[int, int], dict[int, int], list[Tensor], list[tuple]]:
    """The order; each tensor's slot by id (``~n`` for the n-th leaf); how often each is an input of the
    order's nodes; the leaves; and each node as its primitive and its inputs' slots."""
    order: list[Tensor] = []
    slots: dict[int, int] = {}
    uses: dict[int, int] = {}
    leaves: list[Tensor] = []
    parts: list[tuple] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, Node | None]] = [(t, None) for t in reversed(outputs)]
    while stack:
        tensor, node = stack.pop()
        if node is not None:  # its inputs are done
            refs: list[object] = [node.prim]
            for i in node.inputs:
                ident = id(i)
                slot = slots.get(ident)
                if slot is None:  # the unevaluated inputs came before: an input not seen yet has a value
                    slot = slots[ident] = ~len(leaves)
                    leaves.append(i)
                refs.append(slot)
                uses[ident] = uses.get(ident, 0) + 1
            slots[id(tensor)] = len(order)
            order.append(tensor)
            parts.append(tuple(refs))
            continue
        node = tensor.node
        if node is None or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, node))
        for inp in reversed(node.inputs):
            if id(inp) not in seen and inp.node is not None:
                stack.append((inp, None))
    return order, slots, uses, leaves, parts


def _wanted(order: list[Tensor], uses: dict[int, int], outputs: list[int]) -> tuple[int, ...]:
    """The positions of ``outputs`` and of the tensors with more references than the trace's own ``uses``."""
    wanted = set(outputs)
    for n in range(len(order)):
        if _references(order, n) - uses.get(id(order[n]), 0) > _HELD_BY_LIST_ONLY:
            wanted.add(n)
    return tuple(sorted(wanted))


class TraceKey:
    """A tuple hashed once (a trace's key is looked up more than once, and hashing it walks every node)."""

    __slots__ = ("items", "_hash")

    def __init__(self, items: tuple) -> None:
        self.items = items
        self._hash = hash(items)  # TypeError for an unhashable field

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TraceKey) and self._hash == other._hash and self.items == other.items
