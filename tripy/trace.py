"""The trace: each tensor that is not yet a value records the primitive operation that makes it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tripy.tensor import Tensor


class Node:
    """One primitive applied to input tensors.

    ``prim`` names a method of :class:`tripy.backend.base.Backend`; ``attrs`` are its keyword arguments
    (plain Python values and dtypes), so every backend reads the same trace.
    """

    __slots__ = ("prim", "inputs", "attrs")

    def __init__(self, prim: str, inputs: tuple[Tensor, ...], attrs: dict[str, Any]):
        self.prim = prim
        self.inputs = inputs
        self.attrs = attrs

    def __repr__(self) -> str:
        attrs = ", ".join(f"{k}={v!r}" for k, v in self.attrs.items())
        return f"Node({self.prim}, inputs={len(self.inputs)}, {attrs})"


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
        if tensor._value is not None or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        for inp in reversed(tensor._node.inputs):
            if inp._value is None and id(inp) not in seen:
                stack.append((inp, False))
    return order
