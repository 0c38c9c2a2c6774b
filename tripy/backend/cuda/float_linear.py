""":class:`~tripy.trace.primitives.FloatLinear` on the GPU.

A few rows (decoding: one token per sequence) are one kernel (:mod:`.w8a16_gemv` with a 16-bit weight): it
reads the weight ``(N, K)`` as ``tp.Linear`` stores it, once, with the bias, the GELU and the residual in its
epilogue. More rows, float32, or a ``(K, N)`` weight run the primitive's steps (a cuBLAS GEMM, a bias add, the
GELU kernel, a residual add).
"""

from __future__ import annotations

import math
from typing import Any

import cupy

from tripy import dtypes
from tripy.backend.base import Kernel
from tripy.backend.cuda import w8a16_gemv
from tripy.backend.cuda.storage import logical_dtype
from tripy.trace.primitives import FloatLinear

_NAMES = {dtypes.float16: "float16", dtypes.bfloat16: "bfloat16", dtypes.float32: "float32"}


class FloatLinearKernel:
    """The kernel of :class:`FloatLinear`: the GEMV for few rows, else ``fallback`` (the steps)."""

    def __init__(self, fallback: Kernel) -> None:
        self.fallback = fallback
        #: How many calls each path took (``gemv``, ``steps``).
        self.stats = {"gemv": 0, "steps": 0}

    def __call__(self, prim: FloatLinear, x: Any, weight: Any, *rest: Any) -> Any:
        bias = rest[0] if prim.biased else None
        residual = rest[-1] if prim.residual else None
        name = _NAMES.get(logical_dtype(x))
        rows = math.prod(x.shape[:-1])
        if name is not None and not prim.weight_kn and 1 <= rows <= w8a16_gemv.MAX_ROWS:
            x2 = cupy.ascontiguousarray(x.reshape(rows, x.shape[-1]))
            n = weight.shape[0]
            if w8a16_gemv.supports(x2, name, weight, epilogue=residual is not None or prim.gelu) and (
                bias is None or bias.flags.c_contiguous
            ):
                self.stats["gemv"] += 1
                if residual is not None:
                    residual = cupy.ascontiguousarray(residual.reshape(rows, n))
                out = w8a16_gemv.gemv(x2, name, weight, None, bias, n, residual=residual, gelu=prim.gelu)
                return out.reshape(*x.shape[:-1], n)
        self.stats["steps"] += 1
        return self.fallback(prim, x, weight, *rest)
