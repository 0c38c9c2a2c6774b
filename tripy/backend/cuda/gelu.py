""":class:`~tripy.trace.primitives.Gelu` on the GPU: one elementwise kernel for float16 and float32.

The kernel computes the primitive's steps exactly: each product and sum in float32 rounded on its own (no
fused multiply-add contraction), ``tanhf`` as the ``Unary`` TANH kernel calls it, the constants the float32
values of the steps' ``Full`` s, and one rounding to the input's type. Other types run the steps.
"""

from __future__ import annotations

from typing import Any

import cupy
import numpy as np

from tripy.backend.base import Kernel
from tripy.trace.primitives import GELU_SQRT_2_OVER_PI, Gelu


def _f32(value: float) -> str:
    """``value`` rounded to float32, as a CUDA expression of its exact bits."""
    return f"__int_as_float({int(np.float32(value).view(np.int32))})"


_BODY = f"""
const float v = (float)x;
const float cube = __fmul_rn(__fmul_rn(__fmul_rn({_f32(0.044715)}, v), v), v);
const float inner = __fmul_rn({_f32(GELU_SQRT_2_OVER_PI)}, __fadd_rn(v, cube));
y = (T)__fmul_rn(__fmul_rn({_f32(0.5)}, v), __fadd_rn({_f32(1.0)}, tanhf(inner)));
"""
_KERNEL = cupy.ElementwiseKernel("T x", "T y", _BODY, "tripy_gelu_tanh")
_TYPES = (np.dtype(np.float16), np.dtype(np.float32))


def gelu_kernel(fallback: Kernel) -> Kernel:
    """The kernel of :class:`Gelu`: the generated kernel for float16 and float32, else ``fallback`` (the steps)."""

    def kernel(prim: Gelu, x: Any) -> Any:
        if x.dtype in _TYPES:
            return _KERNEL(x)
        return fallback(prim, x)

    return kernel
