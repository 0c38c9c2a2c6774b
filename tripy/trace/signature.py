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


def signature(order: list[Tensor], outputs: Sequence[Tensor]) -> Signature | None:
    """The signature of evaluating ``outputs``, whose unevaluated tensors are ``order`` (inputs first, as
    ``topological_order`` gives them); None when a primitive cannot be hashed."""
    slots, uses, leaves, parts = _wiring(order)  # its frame, and its loop's references, are gone now
    leaf_types = tuple((t.shape, t.dtype, t.backend) for t in leaves)
    out_slots = [slots[id(t)] for t in outputs]
    try:
        key = TraceKey((tuple(parts), leaf_types, tuple(out_slots)))
    except TypeError:
        return None
    return Signature(key, tuple(leaves), _wanted(order, uses, out_slots))


def _wiring(order: list[Tensor]) -> tuple[dict[int, int], dict[int, int], list[Tensor], list[tuple]]:
    """Each tensor's slot by id (its position in ``order``, ``~n`` for the n-th leaf); how often each is an
    input of the order's nodes; the leaves; and each node as its primitive and its inputs' slots."""
    slots: dict[int, int] = {}
    uses: dict[int, int] = {}
    leaves: list[Tensor] = []
    parts: list[tuple] = []
    for n in range(len(order)):
        node = order[n].node
        assert node is not None
        refs: list[object] = [node.prim]
        for i in node.inputs:
            ident = id(i)
            slot = slots.get(ident)
            if slot is None:  # inputs come first in the order: an input not seen yet has a value
                slot = slots[ident] = ~len(leaves)
                leaves.append(i)
            refs.append(slot)
            uses[ident] = uses.get(ident, 0) + 1
        slots[id(order[n])] = n
        parts.append(tuple(refs))
    return slots, uses, leaves, parts


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
