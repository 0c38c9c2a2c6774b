"""The trace: each tensor that is not yet a value records the primitive, and the input tensors, that make it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tripy.trace.primitives import Primitive

if TYPE_CHECKING:
    from tripy.tensor import Tensor


class Node:
    """One primitive applied to input tensors."""

    __slots__ = ("prim", "inputs")

    def __init__(self, prim: Primitive, inputs: tuple[Tensor, ...]) -> None:
        self.prim = prim
        self.inputs = inputs

    def __repr__(self) -> str:
        return f"Node({self.prim!r}, inputs={len(self.inputs)})"


def topological_order(outputs: list[Tensor]) -> list[Tensor]:
    """The unevaluated tensors that ``outputs`` depend on, each after its inputs (iterative: deep graphs)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(t, False) for t in reversed(outputs)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        node = tensor.node
        if node is None or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        for inp in reversed(node.inputs):
            if inp.node is not None and id(inp) not in seen:
                stack.append((inp, False))
    return order
