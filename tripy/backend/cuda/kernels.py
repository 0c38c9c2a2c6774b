"""Raw CUDA kernels of the int8 path: quantizing an input into a padded int8 matrix, and the epilogue that
turns the int32 accumulators into the output type with the scales and the bias applied.

Each kernel is compiled once per element type (CuPy caches the compiled module on disk as well).
float16 is handled as bits with the PTX conversion instructions, so no CUDA header is needed.
"""

from __future__ import annotations

from functools import cache

import cupy
import numpy as np

from tripy.backend.cuda.storage import DEVICE_FUNCTIONS

_RAW_PREAMBLE = DEVICE_FUNCTIONS + r"""
__device__ __forceinline__ float tp_load(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float tp_load(const unsigned short* p, long long i) { return tp_bf16_to_f32(p[i]); }
__device__ __forceinline__ float tp_load_half(const unsigned short* p, long long i) {
    float f;
    unsigned short h = p[i];
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ unsigned short tp_half_bits(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
"""

#: How each float type is read (``LOAD``) and written (``STORE``) by the raw kernels.
_FLOAT_IO = {
    "float32": ("float", "tp_load(p, i)", "v"),
    "float16": ("unsigned short", "tp_load_half(p, i)", "tp_half_bits(v)"),
    "bfloat16": ("unsigned short", "tp_load(p, i)", "tp_f32_to_bf16(v)"),
}

_QUANTIZE = r"""
#define LOAD_AT(p, i) LOADER
extern "C" __global__ void tripy_quantize_rows(const ELEM* x, const float* scale, int* q,
                                                long long rows, long long cols, long long padded_rows,
                                                long long padded_cols) {
    /* Each thread writes four int8 values (one 32-bit word) of the padded (padded_rows, padded_cols) matrix. */
    long long words_per_row = padded_cols >> 2;
    long long word = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (word >= padded_rows * words_per_row) return;
    long long row = word / words_per_row, col = (word - row * words_per_row) << 2;
    float s = scale[0];
    unsigned int packed = 0;
    #pragma unroll
    for (int j = 0; j < 4; ++j) {
        float v = 0.0f;
        if (row < rows && col + j < cols) {
            const ELEM* p = x;
            long long i = row * cols + col + j;
            v = fminf(fmaxf(rintf(LOAD_AT(p, i) / s), -128.0f), 127.0f);
        }
        packed |= ((unsigned int)(unsigned char)(signed char)(int)v) << (8 * j);
    }
    q[word] = (int)packed;
}
"""

_EPILOGUE = r"""
#define LOAD_AT(p, i) LOADER
extern "C" __global__ void tripy_int8_epilogue(const int4* acc, const float* x_scale, const float* w_scale,
                                               const ELEM* bias, ELEM* out, long long rows, long long cols,
                                               long long padded_cols, int has_x_scale, int has_bias) {
    /* out = acc * x_scale * w_scale[col] (+ bias[col]) for four columns of a row per thread. */
    long long groups = padded_cols >> 2;
    long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (g >= rows * groups) return;
    long long row = g / groups, col = (g - row * groups) << 2;
    int4 a = acc[g];
    int av[4] = {a.x, a.y, a.z, a.w};
    float sx = has_x_scale ? x_scale[0] : 1.0f;
    #pragma unroll
    for (int j = 0; j < 4; ++j) {
        long long c = col + j;
        if (c < cols) {
            float v = (float)av[j] * (sx * w_scale[c]);
            if (has_bias) { const ELEM* p = bias; long long i = c; v += LOAD_AT(p, i); }
            out[row * cols + c] = STORER;
        }
    }
}
"""


def _source(template: str, dtype_name: str) -> str:
    elem, loader, storer = _FLOAT_IO[dtype_name]
    body = template.replace("ELEM", elem).replace("LOADER", loader).replace("STORER", storer)
    return _RAW_PREAMBLE + body


@cache
def quantize_rows_kernel(dtype_name: str) -> cupy.RawKernel:
    """The kernel quantizing a row-major (rows, cols) float matrix into a zero-padded int8 matrix."""
    return cupy.RawKernel(_source(_QUANTIZE, dtype_name), "tripy_quantize_rows")


@cache
def epilogue_kernel(dtype_name: str) -> cupy.RawKernel:
    """The kernel scaling int32 accumulators into the output type and adding the bias."""
    return cupy.RawKernel(_source(_EPILOGUE, dtype_name), "tripy_int8_epilogue")


_BLOCK = 256


def quantize_rows(x: cupy.ndarray, dtype_name: str, scale: cupy.ndarray, padded_rows: int,
                  padded_cols: int) -> cupy.ndarray:
    """``clamp(rint(x / scale))`` of a contiguous 2-D ``x`` as int8, zero-padded to the given shape."""
    rows, cols = x.shape
    q = cupy.empty((padded_rows, padded_cols), dtype=np.int8)
    words = padded_rows * padded_cols // 4
    quantize_rows_kernel(dtype_name)(((words + _BLOCK - 1) // _BLOCK,), (_BLOCK,),
                                     (x, scale, q, np.int64(rows), np.int64(cols), np.int64(padded_rows),
                                      np.int64(padded_cols)))
    return q


def epilogue(acc: cupy.ndarray, rows: int, cols: int, x_scale: cupy.ndarray | None, w_scale: cupy.ndarray,
             bias: cupy.ndarray | None, out_storage: np.dtype, dtype_name: str) -> cupy.ndarray:
    """The (rows, cols) output of int32 accumulators ``acc`` of shape (>= rows, padded_cols)."""
    padded_cols = acc.shape[1]
    out = cupy.empty((rows, cols), dtype=out_storage)
    groups = rows * padded_cols // 4
    dummy = w_scale
    epilogue_kernel(dtype_name)(((groups + _BLOCK - 1) // _BLOCK,), (_BLOCK,),
                                (acc, x_scale if x_scale is not None else dummy, w_scale,
                                 bias if bias is not None else out, out, np.int64(rows), np.int64(cols),
                                 np.int64(padded_cols), np.int32(x_scale is not None), np.int32(bias is not None)))
    return out
