""":class:`~tripy.trace.primitives.LayerNorm` on the GPU: one kernel, one block per row.

The block sums the row in float32 for the mean, then the squared deviations for the variance, and writes
``(x - mean) * (1 / sqrt(var + eps))`` rounded as the primitive's steps round it: to the parameters' dtype,
times the weight and plus the bias each rounded to that dtype, then to the result's dtype. Only the order of
the two float32 sums differs from the unfused kernels. float16 travels as bits with PTX conversions (no
CUDA header); other dtypes (bfloat16) run the steps.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import cupy
import numpy as np

from tripy import dtypes
from tripy.backend.base import Kernel
from tripy.backend.cuda.storage import logical_dtype, storage_dtype
from tripy.trace.primitives import LayerNorm

_TYPES = {dtypes.float32: "float", dtypes.float16: "unsigned short"}

_SOURCE = r"""
__device__ __forceinline__ float ln_load(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float ln_load(const unsigned short* p, long long i) {
    float f;
    unsigned short h = p[i];
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ void ln_store(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void ln_store(unsigned short* p, long long i, float v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    p[i] = h;
}
/* v rounded to the type T (float: itself). */
__device__ __forceinline__ float ln_round(float v, const float*) { return v; }
__device__ __forceinline__ float ln_round(float v, const unsigned short*) {
    unsigned short h;
    float f;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ float ln_block_sum(float v, float* shared) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    __syncthreads();  /* the shared slots of an earlier sum have been read */
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

extern "C" __global__ void tripy_layer_norm(const XT* x, const WT* weight, const WT* bias, OT* out,
                                            long long cols, float count, float eps) {
    __shared__ float shared[32];
    const long long base = (long long)blockIdx.x * cols;
    float s = 0.0f;
    for (long long i = threadIdx.x; i < cols; i += blockDim.x) s += ln_load(x, base + i);
    const float mean = __fdiv_rn(ln_block_sum(s, shared), count);
    float q = 0.0f;
    for (long long i = threadIdx.x; i < cols; i += blockDim.x) {
        float d = __fsub_rn(ln_load(x, base + i), mean);
        q = __fadd_rn(q, __fmul_rn(d, d));
    }
    const float variance = __fdiv_rn(ln_block_sum(q, shared), count);
    const float root = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(variance, eps)));
    for (long long i = threadIdx.x; i < cols; i += blockDim.x) {
        float v = ln_round(__fmul_rn(__fsub_rn(ln_load(x, base + i), mean), root), weight);
        v = ln_round(__fmul_rn(v, ln_load(weight, i)), weight);
        v = ln_round(__fadd_rn(v, ln_load(bias, i)), weight);
        ln_store(out, base + i, v);
    }
}
"""


@cache
def _kernel(x: str, w: str, o: str) -> cupy.RawKernel:
    source = _SOURCE.replace("XT", x).replace("WT", w).replace("OT", o)
    return cupy.RawKernel(source, "tripy_layer_norm")


def layer_norm_kernel(fallback: Kernel) -> Kernel:
    """The kernel of :class:`LayerNorm` for float32/float16 values; ``fallback`` (its steps) for the rest."""

    def kernel(prim: LayerNorm, x: Any, weight: Any, bias: Any) -> Any:
        types = [_TYPES.get(logical_dtype(v)) for v in (x, weight)] + [_TYPES.get(prim.dtype)]
        cols = math.prod(weight.shape)
        if None in types or logical_dtype(bias) != logical_dtype(weight) or cols == 0 or x.size == 0:
            return fallback(prim, x, weight, bias)
        x = cupy.ascontiguousarray(x)
        weight, bias = cupy.ascontiguousarray(weight), cupy.ascontiguousarray(bias)
        out = cupy.empty(x.shape, dtype=storage_dtype(prim.dtype))
        rows = x.size // cols
        threads = min(1024, max(32, 32 * math.ceil(min(cols, 1024) / 4 / 32)))
        _kernel(*types)(
            (rows,), (threads,), (x, weight, bias, out, np.int64(cols), np.float32(cols), np.float32(prim.eps))
        )
        return out

    return kernel
