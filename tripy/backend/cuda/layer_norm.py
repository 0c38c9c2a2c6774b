""":class:`~tripy.trace.primitives.LayerNorm` on the GPU: one kernel, one block per row.

A row of up to 2048 values is loaded once, with the weight and the bias, into registers (each thread holds
4 or 8 of them); longer rows are read three times. Both kernels sum the same elements per thread in the
same order, so they give the same bits.

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

/* The same for rows of at most VPT * blockDim.x values, held in registers: the row, the weight and the bias
   are loaded at once, and each thread sums the same elements in the same order as above. */
extern "C" __global__ void tripy_layer_norm_rows(const XT* x, const WT* weight, const WT* bias, OT* out,
                                                 long long cols, float count, float eps) {
    __shared__ float shared[32];
    const long long base = (long long)blockIdx.x * cols;
    float v[VPT], w[VPT], b[VPT];
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
        const long long i = threadIdx.x + (long long)k * blockDim.x;
        v[k] = i < cols ? ln_load(x, base + i) : 0.0f;
        w[k] = i < cols ? ln_load(weight, i) : 0.0f;
        b[k] = i < cols ? ln_load(bias, i) : 0.0f;
    }
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < VPT; ++k)
        if (threadIdx.x + (long long)k * blockDim.x < cols) s += v[k];
    const float mean = __fdiv_rn(ln_block_sum(s, shared), count);
    float q = 0.0f;
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
        if (threadIdx.x + (long long)k * blockDim.x < cols) {
            float d = __fsub_rn(v[k], mean);
            q = __fadd_rn(q, __fmul_rn(d, d));
        }
    }
    const float variance = __fdiv_rn(ln_block_sum(q, shared), count);
    const float root = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(variance, eps)));
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
        const long long i = threadIdx.x + (long long)k * blockDim.x;
        if (i < cols) {
            float r = ln_round(__fmul_rn(__fsub_rn(v[k], mean), root), weight);
            r = ln_round(__fmul_rn(r, w[k]), weight);
            r = ln_round(__fadd_rn(r, b[k]), weight);
            ln_store(out, base + i, r);
        }
    }
}
"""


#: The register kernel's values per thread; longer rows run the looping kernel.
_VPT = (4, 8)


@cache
def _kernel(x: str, w: str, o: str, vpt: int) -> cupy.RawKernel:
    """The kernel for these types: the looping one where ``vpt`` is 0, else the one keeping ``vpt`` values of
    the row per thread in registers."""
    source = _SOURCE.replace("XT", x).replace("WT", w).replace("OT", o).replace("VPT", str(max(vpt, 1)))
    return cupy.RawKernel(source, "tripy_layer_norm_rows" if vpt else "tripy_layer_norm")


def layer_norm_kernel(fallback: Kernel, registers: bool = True) -> Kernel:
    """The kernel of :class:`LayerNorm` for float32/float16 values; ``fallback`` (its steps) for the rest.
    ``registers=False``: every row runs the looping kernel (for comparisons)."""

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
        vpt = next((n for n in _VPT if n * threads >= cols), 0) if registers else 0
        _kernel(*types, vpt)(
            (rows,), (threads,), (x, weight, bias, out, np.int64(cols), np.float32(cols), np.float32(prim.eps))
        )
        return out

    return kernel
