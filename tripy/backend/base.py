"""The backend interface: a short list of primitives that every backend implements.

Every public op is composed from these in ``tripy/frontend``; a backend only maps them to its arrays.
Attributes arrive as keyword arguments exactly as recorded in :class:`tripy.trace.Node`. Operands of
``binary`` and ``where`` have equal rank and broadcast along size-1 dimensions; ``matmul`` operands have
rank >= 2 and equal rank. A backend may override :meth:`Backend.evaluate` to fuse patterns, as long as
the result equals the unfused meaning (the ``numpy`` backend is the reference).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from tripy.dtypes import DataType
from tripy.errors import TripyException
from tripy.trace import topological_order

#: Unary ops of the ``unary`` primitive.
UNARY_OPS = ("neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sin", "cos", "abs", "not", "erf")
#: Binary ops of the ``binary`` primitive; comparisons yield bool.
BINARY_OPS = (
    "add",
    "sub",
    "mul",
    "div",
    "floor_div",
    "mod",
    "pow",
    "max",
    "min",
    "and",
    "or",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
)
COMPARISONS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
#: Reductions of the ``reduce`` primitive.
REDUCE_OPS = ("sum", "prod", "max", "min")


class Backend(ABC):
    """Runs traces. ``name`` is what ``tp.config.backend`` selects; ``device`` is how tensors print it."""

    name: str
    device: str

    def device_description(self) -> str:
        """The device in words, for provenance lines (``cpu``; a GPU backend names the card)."""
        return "cpu"

    # -- values --------------------------------------------------------------------------------------
    @abstractmethod
    def from_numpy(self, array: np.ndarray, dtype: DataType) -> Any:
        """A backend value holding ``array`` (already of ``dtype.numpy``)."""

    @abstractmethod
    def to_numpy(self, value: Any, dtype: DataType) -> np.ndarray:
        """The host copy of a value, as ``dtype.numpy``."""

    def from_dlpack(self, obj: Any) -> Any:
        """A value sharing memory with a DLPack producer (for NumPy, a CPU one)."""
        return np.from_dlpack(obj)

    def dtype_of(self, value: Any) -> DataType | None:
        """The tripy type of one of this backend's values (a backend with raw containers overrides it)."""
        from tripy.dtypes import from_numpy

        return from_numpy(value.dtype)

    # -- primitives ----------------------------------------------------------------------------------
    @abstractmethod
    def iota(self, *, shape: tuple[int, ...], dim: int, dtype: DataType) -> Any: ...
    @abstractmethod
    def full(self, *, shape: tuple[int, ...], value: float | int | bool, dtype: DataType) -> Any: ...
    @abstractmethod
    def unary(self, x: Any, *, op: str) -> Any: ...
    @abstractmethod
    def binary(self, a: Any, b: Any, *, op: str) -> Any: ...
    @abstractmethod
    def where(self, cond: Any, a: Any, b: Any) -> Any: ...
    @abstractmethod
    def reduce(self, x: Any, *, op: str, axes: tuple[int, ...], keepdim: bool) -> Any: ...
    @abstractmethod
    def argmax(self, x: Any, *, axis: int, keepdim: bool) -> Any: ...
    @abstractmethod
    def matmul(self, a: Any, b: Any) -> Any: ...
    @abstractmethod
    def reshape(self, x: Any, *, shape: tuple[int, ...]) -> Any: ...
    @abstractmethod
    def permute(self, x: Any, *, perm: tuple[int, ...]) -> Any: ...
    @abstractmethod
    def expand(self, x: Any, *, shape: tuple[int, ...]) -> Any: ...
    @abstractmethod
    def slice(self, x: Any, *, starts: tuple[int, ...], sizes: tuple[int, ...], steps: tuple[int, ...]) -> Any:
        """``sizes[d]`` elements along each dimension d, from ``starts[d]`` every ``steps[d]`` (may be < 0)."""

    @abstractmethod
    def concat(self, *xs: Any, axis: int) -> Any: ...
    @abstractmethod
    def gather(self, x: Any, indices: Any, *, axis: int) -> Any: ...
    @abstractmethod
    def cast(self, x: Any, *, dtype: DataType) -> Any: ...
    @abstractmethod
    def quantize(self, x: Any, scale: Any, *, dtype: DataType, axis: int | None) -> Any:
        """``clamp(round_half_to_even(x / scale))`` in ``dtype`` (float8 saturates to +-448, no rounding step).

        ``axis`` None with a scalar scale is per-tensor, with a 2-D scale block-wise (each scale covers a
        block of ``x.shape[d] // scale.shape[d]`` elements along every dimension d); an int is per-channel.
        """

    @abstractmethod
    def dequantize(self, q: Any, scale: Any, *, dtype: DataType, axis: int | None) -> Any:
        """``q * scale`` computed in float32 and returned as ``dtype``; scale layouts as in ``quantize``."""

    def input(self, *, index: int, name: str) -> Any:
        """A placeholder of a traced function (``tp.compile``); it has no value to evaluate."""
        raise TripyException(f"Input {name!r} (#{index}) of a traced function has no value outside tp.compile.")

    # -- evaluation ----------------------------------------------------------------------------------
    def adopt(self, tensor) -> Any:
        """The value of an evaluated tensor as this backend's value (moved if another backend made it)."""
        if tensor._backend is self:
            return tensor._value
        return self.from_numpy(tensor._backend.to_numpy(tensor._value, tensor.dtype), tensor.dtype)

    def run(self, tensor, args: list[Any]) -> Any:
        """Run the primitive that makes ``tensor`` on input values ``args``."""
        node = tensor._node
        try:
            return getattr(self, node.prim)(*args, **node.attrs)
        except TripyException:
            raise
        except Exception as exc:  # an internal failure: still say which user line made the tensor
            where = f"\n  made at: {tensor._where}" if tensor._where else ""
            raise TripyException(f"{self.name} backend failed running '{node.prim}': {exc}{where}") from exc

    def evaluate(self, outputs: list) -> list[Any]:
        """Values of ``outputs``, running each primitive of their trace once, inputs first."""
        return self.evaluate_in_order(topological_order(outputs), outputs)

    def evaluate_in_order(self, order: list, outputs: list) -> list[Any]:
        """Run the nodes of ``order`` (inputs first) and return the values of ``outputs``."""
        values: dict[int, Any] = {}
        for tensor in order:
            args = [values[id(i)] if i._value is None else self.adopt(i) for i in tensor._node.inputs]
            values[id(tensor)] = self.run(tensor, args)
        self.keep(order, values)
        return [values[id(o)] if o._value is None else self.adopt(o) for o in outputs]

    def keep(self, order: list, values: dict[int, Any]) -> None:
        """Store computed values on the tensors of ``order`` and release their traces.

        A later evaluation that reaches one of them (the next layer of a model evaluated step by step, a
        KV cache) then starts from its value instead of recomputing everything upstream. Values live as
        long as some tensor still refers to them.
        """
        for tensor in order:
            value = values.get(id(tensor))
            if value is not None and tensor._value is None:
                tensor._value, tensor._backend, tensor._node = value, self, None
