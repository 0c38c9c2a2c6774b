"""The ``cuda`` backend: values are CuPy arrays on the GPU (``loc=gpu:0``), kernels in :mod:`.kernels`.

bfloat16, float8 and int4 live in raw containers (:mod:`.storage`). The int8 Linear fusion runs as an
int8 GEMM on tensor cores (:mod:`.int8_linear`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cupy
import numpy as np

from tripy.backend.base import Backend, Kernel, fused_classes, fused_kernel
from tripy.backend.cuda import device_copy, storage
from tripy.backend.cuda.argmax import argmax_kernel
from tripy.backend.cuda.attention import AttentionKernel
from tripy.backend.cuda.eager_graphs import EagerGraphs
from tripy.backend.cuda.float_linear import FloatLinearKernel
from tripy.backend.cuda.fused_elementwise import FusedKernels
from tripy.backend.cuda.gelu import gelu_kernel
from tripy.backend.cuda.int8_linear import Int8LinearKernel
from tripy.backend.cuda.kernels import KERNELS
from tripy.backend.cuda.layer_norm import layer_norm_kernel
from tripy.backend.cuda.update_slice import update_slice
from tripy.dtypes import DataType
from tripy.trace.elementwise_fusion import fuse_elementwise
from tripy.trace.fusions import FLOAT_LINEAR_REWRITES, INT8_LINEAR_REWRITES
from tripy.trace.primitives import (
    ALL_PRIMITIVES,
    Argmax,
    Attention,
    FloatLinear,
    Gelu,
    Int8Linear,
    LayerNorm,
    Primitive,
    UpdateSlice,
)
from tripy.trace.rewrite import Step

if TYPE_CHECKING:
    from tripy.tensor import Tensor


class CudaBackend(Backend):
    """Evaluates traces on the GPU with CuPy, with the NumPy backend's semantics."""

    name = "cuda"
    device = "gpu:0"

    def __init__(self) -> None:
        self.kernels: dict[type[Primitive], Kernel] = {**KERNELS, UpdateSlice: update_slice}
        steps = fused_kernel(self.kernels, self.dtype_of)  # fused primitives without a kernel here
        for cls in fused_classes(ALL_PRIMITIVES):
            self.kernels.setdefault(cls, steps)
        self.kernels[Attention] = AttentionKernel()  # the steps where it does not apply
        self.kernels[LayerNorm] = layer_norm_kernel(steps)
        self.kernels[Gelu] = gelu_kernel(steps)
        self.kernels[Argmax] = argmax_kernel(self.kernels[Argmax])  # CuPy's for other axes and types
        #: The int8 Linear kernel, with its weight cache and counters.
        self.int8 = Int8LinearKernel(self.kernels[Gelu])
        self.kernels[Int8Linear] = self.int8
        #: The float Linear kernel (a GEMV for few rows), with its counters.
        self.float_linear = FloatLinearKernel(steps)
        self.kernels[FloatLinear] = self.float_linear
        #: The generated kernels of fused elementwise chains (which :meth:`fuse_steps` makes).
        self.fused = FusedKernels(steps)  # a program whose kernel fails runs its steps
        self.kernels.update(self.fused.table())
        #: What :meth:`fuse_steps` fuses: ``"all"`` (elementwise chains, and sums, maxima and minima of
        #: chains: sums then add in another order than the unfused kernels), ``"elementwise"`` (chains only:
        #: results equal the unfused kernels'), or ``"none"``; ``$TRIPY_CUDA_FUSION`` sets it.
        self.fusion = os.environ.get("TRIPY_CUDA_FUSION", "elementwise")
        #: Set to ``()`` to leave every trace as written (for comparisons; ``tp.Linear`` makes its fused
        #: primitive itself, so only Linears written with the primitives then run unfused).
        self.rewrites = INT8_LINEAR_REWRITES + FLOAT_LINEAR_REWRITES
        self._scalars: dict[tuple, Any] = {}
        #: Eager evaluations met again, replayed as CUDA graphs (``$TRIPY_EAGER_GRAPHS=0`` turns it off).
        self.eager_graphs = EagerGraphs()

    def fuse_steps(self, steps: list[Step], keep: Sequence[Tensor] = ()) -> list[Step]:
        """The plan with its elementwise chains (and their reductions) as generated kernels, as ``fusion`` says."""
        if self.fusion == "none":
            return steps
        return fuse_elementwise(steps, keep, reductions=self.fusion == "all")

    def device_description(self) -> str:
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def from_numpy(self, array: np.ndarray, dtype: DataType) -> Any:
        host = storage.host_to_storage(np.asarray(array, dtype=dtype.numpy), dtype)
        if host.size == 1 and host.ndim <= 8:
            # Scalars (the Python numbers of ``x * 2 + 1``, shaped (1, ..., 1) to broadcast) are kept on the
            # device and shared: tripy never writes into a value, so a cached one saves a kernel launch (or
            # a synchronous copy) per use.
            key = (host.dtype.str, host.tobytes(), host.ndim)
            value = self._scalars.get(key)
            if value is None:
                if len(self._scalars) >= 4096:
                    self._scalars.clear()
                value = self._scalars[key] = cupy.full(host.shape, host.reshape(-1)[0], dtype=host.dtype)
            return value
        # One copy on the current stream (cupy.asarray stages small arrays through pinned memory, slower).
        out = cupy.empty(host.shape, dtype=host.dtype)
        out.set(np.ascontiguousarray(host), stream=cupy.cuda.get_current_stream())
        return out

    def to_numpy(self, value: Any, dtype: DataType) -> np.ndarray:
        return storage.storage_to_host(device_copy.to_host(value), dtype)  # a host copy of its own

    def from_dlpack(self, obj: Any) -> Any:
        """A CuPy view of a device DLPack producer; PyTorch's bfloat16 and float8 come in as containers."""
        torch_dtype = str(getattr(obj, "dtype", ""))
        if torch_dtype.startswith("torch.") and hasattr(obj, "view"):
            obj = obj.detach()
            if torch_dtype == "torch.bfloat16":
                import torch

                return cupy.from_dlpack(obj.view(torch.int16)).view(cupy.uint16)
            if torch_dtype == "torch.float8_e4m3fn":
                import torch

                return cupy.from_dlpack(obj.view(torch.uint8))
        return cupy.from_dlpack(obj)

    def dtype_of(self, value: Any) -> DataType:
        """The tripy type of a value of this backend (containers included)."""
        return storage.logical_dtype(value)
