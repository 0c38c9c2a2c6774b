""":class:`~tripy.trace.primitives.Argmax` over the last axis on the GPU: one kernel, one block per row.

Each thread reads its part of the row with 16-byte loads (after the elements before the first 16-byte
boundary) and keeps its largest value with the smallest index; the block then picks the largest of the
threads' candidates and, among equal ones, the smallest index. A NaN counts as
larger than any number, so the first NaN wins, as in NumPy (the reference). float16, bfloat16 and float8
are compared in float32, which keeps their order. The result is written as int32. Other axes and types
run CuPy's ``argmax`` (the ``fallback``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import cupy
import numpy as np

from tripy import dtypes
from tripy.backend.base import Kernel
from tripy.backend.cuda.storage import DEVICE_FUNCTIONS, logical_dtype
from tripy.trace.primitives import Argmax

#: The unsigned type holding each tripy type's bits, and how those bits ``b`` become a float.
_LOADS = {
    dtypes.float32: ("unsigned int", "__uint_as_float(b)"),
    dtypes.float16: ("unsigned short", "tp_am_f16((unsigned short)b)"),
    dtypes.bfloat16: ("unsigned short", "tp_bf16_to_f32((unsigned short)b)"),
    dtypes.float8: ("unsigned char", "tp_e4m3_to_f32((unsigned char)b)"),
}
_UNROLL = 4  # 16-byte loads each thread has in flight

_SOURCE = r"""
__device__ __forceinline__ float tp_am_f16(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ float tp_am_value(unsigned int b) { return LOAD; }
/* (v, i) comes before (w, j): NaN first, then the larger value, then the smaller index. */
__device__ __forceinline__ bool tp_am_before(float v, int i, float w, int j) {
    const bool a = v != v, b = w != w;
    if (a != b) return a;
    if (!a && v != w) return v > w;
    return i < j;
}
__device__ __forceinline__ void tp_am_take(float v, long long i, float& best, int& index) {
    if (tp_am_before(v, (int)i, best, index)) { best = v; index = (int)i; }
}
/* Every lane of the warp gets the warp's first (value, index) in that order. */
__device__ __forceinline__ void tp_am_warp_best(float& best, int& index) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float w = __shfl_xor_sync(0xffffffffu, best, offset);
        const int j = __shfl_xor_sync(0xffffffffu, index, offset);
        if (tp_am_before(w, j, best, index)) { best = w; index = j; }
    }
}
__device__ __forceinline__ unsigned int tp_am_word(const uint4& v, int w) {
    return w == 0 ? v.x : w == 1 ? v.y : w == 2 ? v.z : v.w;
}
extern "C" __global__ void tripy_argmax(const ELEM* x, int* out, long long cols) {
    __shared__ float values[32];
    __shared__ int indices[32];
    const int per_word = 4 / sizeof(ELEM), per_vector = 16 / sizeof(ELEM), bits = 8 * sizeof(ELEM);
    const unsigned int mask = bits == 32 ? 0xffffffffu : (1u << (bits & 31)) - 1u;
    const ELEM* row = x + (long long)blockIdx.x * cols;
    float best = -__int_as_float(0x7f800000);
    int index = 0x7fffffff;  /* none yet: loses to every element */
    /* the elements before the row's first 16-byte boundary, then 16-byte vectors, then the rest */
    long long head = (long long)((16u - ((unsigned int)(unsigned long long)row & 15u)) & 15u) / sizeof(ELEM);
    if (head > cols) head = cols;
    const long long vectors = (cols - head) / per_vector, tail = head + vectors * per_vector;
    if (threadIdx.x < head) tp_am_take(tp_am_value(row[threadIdx.x]), threadIdx.x, best, index);
    const uint4* body = (const uint4*)(row + head);
    for (long long start = threadIdx.x; start < vectors; start += UNROLL * (long long)blockDim.x) {
        uint4 v[UNROLL];
#pragma unroll
        for (int k = 0; k < UNROLL; ++k) {
            const long long q = start + k * (long long)blockDim.x;
            if (q < vectors) asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                                 : "=r"(v[k].x), "=r"(v[k].y), "=r"(v[k].z), "=r"(v[k].w) : "l"(body + q));
        }
#pragma unroll
        for (int k = 0; k < UNROLL; ++k) {
            const long long q = start + k * (long long)blockDim.x;
            if (q < vectors) {
#pragma unroll
                for (int e = 0; e < per_vector; ++e) {
                    const unsigned int word = tp_am_word(v[k], e / per_word);
                    const unsigned int b = (word >> (bits * (e % per_word))) & mask;
                    tp_am_take(tp_am_value(b), head + q * per_vector + e, best, index);
                }
            }
        }
    }
    for (long long i = tail + threadIdx.x; i < cols; i += blockDim.x) tp_am_take(tp_am_value(row[i]), i, best, index);
    tp_am_warp_best(best, index);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) { values[warp] = best; indices[warp] = index; }
    __syncthreads();
    if (warp == 0) {
        const bool mine = lane < (int)(blockDim.x >> 5);
        best = mine ? values[lane] : -__int_as_float(0x7f800000);
        index = mine ? indices[lane] : 0x7fffffff;
        tp_am_warp_best(best, index);
        if (lane == 0) out[blockIdx.x] = index;
    }
}
"""


@cache
def _kernel(container: str, load: str) -> cupy.RawKernel:
    source = _SOURCE.replace("UNROLL", str(_UNROLL)).replace("LOAD", load).replace("ELEM", container)
    return cupy.RawKernel(DEVICE_FUNCTIONS + source, "tripy_argmax")


def threads_for(cols: int, itemsize: int) -> int:
    """Threads of a row's block: enough for ``_UNROLL`` 16-byte loads each, a multiple of 32, at most 1024."""
    per_thread = _UNROLL * 16 // itemsize
    return min(1024, max(32, -(-cols // (32 * per_thread)) * 32))


def argmax_kernel(fallback: Kernel) -> Kernel:
    """The kernel of :class:`Argmax`: the row kernel over the last axis of floats, else ``fallback``."""

    def kernel(prim: Argmax, x: Any) -> Any:
        load = _LOADS.get(logical_dtype(x))
        cols = x.shape[-1] if x.ndim else 0
        if load is None or prim.axis not in (-1, x.ndim - 1) or not 0 < cols < 2**31 or x.size == 0:
            return fallback(prim, x)
        x = cupy.ascontiguousarray(x)
        rows = x.size // cols
        out = cupy.empty(rows, dtype=np.int32)
        _kernel(*load)((rows,), (threads_for(cols, x.itemsize),), (x, out, np.int64(cols)))
        shape = x.shape[:-1] + ((1,) if prim.keepdim else ())
        return out.reshape(shape)

    return kernel
