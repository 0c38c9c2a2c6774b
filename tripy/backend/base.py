"""What a backend is: a way to hold values (its arrays) and a table of kernels, one per primitive class.

A kernel is a pure function ``kernel(prim, *arrays) -> array`` on the backend's own arrays: no tensors,
no evaluation. :mod:`tripy.trace.evaluate` walks the trace and calls them. ``rewrites`` are the fusions
(:mod:`tripy.trace.fusions`) the backend runs as one kernel; each must equal the unfused primitives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import numpy as np

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.errors import TripyException
from tripy.trace.primitives import Cast, Fused, Input, Primitive, TensorType
from tripy.trace.rewrite import Rewrite, Step

if TYPE_CHECKING:
    from tripy.tensor import Tensor
    from tripy.trace.signature import Signature

#: ``kernel(prim, *arrays) -> array``
Kernel = Callable[..., Any]


class TraceGraphs(Protocol):
    """Runs traces that a backend has met before in one go (:mod:`tripy.backend.cuda.eager_graphs`)."""

    enabled: bool
    #: Traces of fewer nodes are evaluated as usual without being looked up (launching their few kernels
    #: costs less than a graph's copies).
    min_nodes: int

    def run(
        self,
        sig: Signature,
        leaf_values: Sequence[Any],
        order: list[Tensor],
        outputs: Sequence[Tensor],
        backend: Backend,
    ) -> list[tuple[int, Any]] | None:
        """The values of ``sig.kept`` by position in ``order``, or None to evaluate the trace as usual."""
        ...

    def clear(self) -> None:
        """Forget every trace met so far."""
        ...


class Backend(ABC):
    """Holds values and runs primitives. ``name`` is what ``tp.config.backend`` selects; ``device`` is how
    tensors print where they live."""

    name: str
    device: str
    #: The kernel of every primitive class.
    kernels: Mapping[type[Primitive], Kernel]
    #: Fusions this backend runs as one kernel (their fused primitives are in ``kernels``).
    rewrites: tuple[Rewrite, ...] = ()
    #: Repeated evaluations run as one captured graph (None: every evaluation is planned and run).
    eager_graphs: TraceGraphs | None = None

    def device_description(self) -> str:
        """The device in words, for provenance lines (``cpu``; a GPU backend names the card)."""
        return "cpu"

    @abstractmethod
    def from_numpy(self, array: np.ndarray, dtype: DataType) -> Any:
        """A value holding ``array`` (already of ``dtype.numpy``)."""

    @abstractmethod
    def to_numpy(self, value: Any, dtype: DataType) -> np.ndarray:
        """The host copy of a value, as ``dtype.numpy``."""

    def from_dlpack(self, obj: Any) -> Any:
        """A value sharing memory with a DLPack producer (for NumPy, a CPU one)."""
        return np.from_dlpack(obj)

    def dtype_of(self, value: Any) -> DataType | None:
        """The tripy type of one of this backend's values (a backend with raw containers overrides it)."""
        return dtypes.from_numpy(value.dtype)

    def fuse_steps(self, steps: list[Step], keep: Sequence[Tensor] = ()) -> list[Step]:
        """A plan regrouped into this backend's generated kernels (``tp.compile``'s CUDA graphs use it);
        ``keep`` are the tensors whose values the caller reads. The plan as it is by default."""
        return steps

    def cast(self, value: Any, dtype: DataType) -> Any:
        """``value`` converted to ``dtype`` (the :class:`~tripy.trace.primitives.Cast` kernel)."""
        return self.kernels[Cast](Cast(dtype), value)


def input_kernel(prim: Input) -> NoReturn:
    """The kernel of :class:`Input`: a traced function's argument has no value outside ``tp.compile``."""
    raise TripyException(f"Input {prim.name!r} (#{prim.index}) of a traced function has no value outside tp.compile.")


def fused_kernel(kernels: Mapping[type[Primitive], Kernel], dtype_of: Callable[[Any], DataType | None]) -> Kernel:
    """The kernel of any :class:`~tripy.trace.primitives.Fused` primitive that runs its steps with ``kernels``
    (``dtype_of`` gives the tripy type of a value): for backends without a kernel of their own for it."""

    def kernel(prim: Fused, *args: Any) -> Any:
        types = []
        for a in args:
            dtype = dtype_of(a)
            assert dtype is not None, f"{type(a).__name__} of dtype {getattr(a, 'dtype', None)}"
            types.append(TensorType(tuple(a.shape), dtype))
        values = list(args)
        for step, inputs in prim.steps(types):
            values.append(kernels[type(step)](step, *(values[i] for i in inputs)))
        return values[-1]

    return kernel


def fused_classes(primitives: Sequence[type[Primitive]]) -> list[type[Fused]]:
    """The :class:`~tripy.trace.primitives.Fused` classes among ``primitives``."""
    return [cls for cls in primitives if issubclass(cls, Fused)]
