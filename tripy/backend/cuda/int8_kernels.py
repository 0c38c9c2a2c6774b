"""Raw CUDA kernels of the int8 path: quantizing an input into a padded int8 matrix, and the epilogue that
turns the int32 accumulators into the output type with the scales and the bias applied.

Each kernel is compiled once per element type (CuPy caches the compiled module on disk as well).
float16 is handled as bits with the PTX conversion instructions, so no CUDA header is needed.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import cupy
import numpy as np

from tripy.backend.cuda.storage import DEVICE_FUNCTIONS

_RAW_PREAMBLE = (
    DEVICE_FUNCTIONS
    + r"""
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
__device__ __forceinline__ unsigned int tp_pack_half2(float a, float b) {
    return tp_half_bits(a) | ((unsigned int)tp_half_bits(b) << 16);
}
__device__ __forceinline__ unsigned int tp_pack_bf162(float a, float b) {
    return tp_f32_to_bf16(a) | ((unsigned int)tp_f32_to_bf16(b) << 16);
}
"""
)

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
            v = rintf(tp_div_rn(LOAD_AT(p, i), s));
            v = v != v ? 0.0f : fminf(fmaxf(v, -128.0f), 127.0f);  // NaN quantizes to 0
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


# Vectorised forms for rows whose length is a multiple of 8 (quantize) or 4 (epilogue): 16-byte loads and
# 8- or 16-byte stores. ``UNPACK8`` reads eight floats from element ``8 * t``, ``PACK4`` stores four.
_QUANTIZE_VEC = r"""
__device__ __forceinline__ float tp_divide(float x, float s, float r, bool fast) {
    /* x / s correctly rounded, without a division per value: with r = 1 / s correctly rounded, x * r is
       within an ulp of the quotient, fma(-q, s, x) is its exact remainder, and one fma corrects it
       (Markstein's theorem). Scales far from 1 (remainders near underflow) and huge quotients divide. */
    if (fast) {
        float q = tp_mul_rn(x, r);
        if (fabsf(q) < 1e30f) return tp_fma_rn(tp_fma_rn(-q, s, x), r, q);
    }
    return tp_div_rn(x, s);
}
__device__ __forceinline__ uint4 tp_load_once(const void* p) {
    /* x is read once: a streaming load (evict first), so the int8 result stays in L2 for the GEMM */
    uint4 v;
    asm volatile("ld.global.cs.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}
__device__ __forceinline__ uint2 tp_quantize8(const float* v, float s, float r, bool fast) {
    unsigned int word[2] = {0u, 0u};
    #pragma unroll
    for (int j = 0; j < 8; ++j) {
        /* one instruction: round half to even, saturate to [-128, 127], NaN to 0 (PTX cvt to integer) */
        int q;
        asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(q) : "f"(tp_divide(v[j], s, r, fast)));
        word[j >> 2] |= ((unsigned int)q & 0xffu) << (8 * (j & 3));
    }
    return make_uint2(word[0], word[1]);
}
extern "C" __global__ void tripy_quantize_rows_vec(const ELEM* __restrict__ x, const float* __restrict__ scale,
                                                    uint2* __restrict__ q, long long groups, long long half,
                                                    const float* __restrict__ w_scale, float* __restrict__ alpha,
                                                    long long n_alpha) {
    /* Groups t and t + half of eight values per thread (each load coalesced across the warp), both loads
       in flight before the first is used. With n_alpha > 0 the threads also write the fused GEMM's
       per-channel factors alpha[n] = w_scale[n] * scale (one launch fewer per call). */
#if __CUDA_ARCH__ >= 900
    /* The GEMM that reads q may be launched now (programmatic dependent launch): it sets itself up while
       these blocks finish, and waits for this grid to complete before reading anything. */
    asm volatile("griddepcontrol.launch_dependents;");
#endif
    long long t0 = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long i = t0; i < n_alpha; i += (long long)gridDim.x * blockDim.x)
        alpha[i] = tp_mul_rn(w_scale[i], scale[0]);
    if (t0 >= half) return;
    long long t1 = t0 + half;
    bool two = t1 < groups;
    float va[8], vb[8];
    { long long t = t0; float* v = va; UNPACK8 }
    if (two) { long long t = t1; float* v = vb; UNPACK8 }
    float s = scale[0], r = tp_div_rn(1.0f, s);
    bool fast = fabsf(s) > 1e-20f && fabsf(s) < 1e20f;
    q[t0] = tp_quantize8(va, s, r, fast);
    if (two) q[t1] = tp_quantize8(vb, s, r, fast);
}
"""

_EPILOGUE_VEC = r"""
extern "C" __global__ void tripy_int8_epilogue_vec(const int4* acc, const float* x_scale, const float4* w_scale,
                                                   const ELEM* bias, ELEM* out, long long groups,
                                                   long long groups_per_row, int has_bias) {
    long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (g >= groups) return;
    long long c4 = g % groups_per_row;
    int4 a = acc[g];
    float4 ws = w_scale[c4];
    float sx = x_scale[0];
    float v[4] = {(float)a.x * (sx * ws.x), (float)a.y * (sx * ws.y), (float)a.z * (sx * ws.z),
                  (float)a.w * (sx * ws.w)};
    if (has_bias) {
        float b[4];
        BIAS4
        #pragma unroll
        for (int j = 0; j < 4; ++j) v[j] += b[j];
    }
    PACK4
}
"""

_VEC_IO = {
    "float32": dict(
        UNPACK8="uint4 lo = tp_load_once((const float4*)x + 2 * t), hi = tp_load_once((const float4*)x + 2 * t + 1);\n"
        "    unsigned int w8[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};\n"
        "    #pragma unroll\n    for (int j = 0; j < 8; ++j) v[j] = __int_as_float(w8[j]);",
        BIAS4="float4 bb = ((const float4*)bias)[c4]; b[0] = bb.x; b[1] = bb.y; b[2] = bb.z; b[3] = bb.w;",
        PACK4="((float4*)out)[g] = make_float4(v[0], v[1], v[2], v[3]);",
    ),
    "float16": dict(
        UNPACK8="uint4 raw = tp_load_once((const uint4*)x + t);\n"
        "    unsigned int w4[4] = {raw.x, raw.y, raw.z, raw.w};\n"
        "    #pragma unroll\n    for (int j = 0; j < 8; ++j) {\n"
        "        unsigned short h = (unsigned short)(w4[j >> 1] >> (16 * (j & 1)));\n"
        '        asm("cvt.f32.f16 %0, %1;" : "=f"(v[j]) : "h"(h));\n    }',
        BIAS4="uint2 bb = ((const uint2*)bias)[c4]; unsigned int bw[2] = {bb.x, bb.y};\n"
        "        #pragma unroll\n        for (int j = 0; j < 4; ++j) {\n"
        "            unsigned short h = (unsigned short)(bw[j >> 1] >> (16 * (j & 1)));\n"
        '            asm("cvt.f32.f16 %0, %1;" : "=f"(b[j]) : "h"(h));\n        }',
        PACK4="((uint2*)out)[g] = make_uint2(tp_pack_half2(v[0], v[1]), tp_pack_half2(v[2], v[3]));",
    ),
    "bfloat16": dict(
        UNPACK8="uint4 raw = tp_load_once((const uint4*)x + t);\n"
        "    unsigned int w4[4] = {raw.x, raw.y, raw.z, raw.w};\n"
        "    #pragma unroll\n    for (int j = 0; j < 8; ++j)\n"
        "        v[j] = tp_bf16_to_f32((unsigned short)(w4[j >> 1] >> (16 * (j & 1))));",
        BIAS4="uint2 bb = ((const uint2*)bias)[c4]; unsigned int bw[2] = {bb.x, bb.y};\n"
        "        #pragma unroll\n        for (int j = 0; j < 4; ++j)\n"
        "            b[j] = tp_bf16_to_f32((unsigned short)(bw[j >> 1] >> (16 * (j & 1))));",
        PACK4="((uint2*)out)[g] = make_uint2(tp_pack_bf162(v[0], v[1]), tp_pack_bf162(v[2], v[3]));",
    ),
}


def _source(template: str, dtype_name: str) -> str:
    elem, loader, storer = _FLOAT_IO[dtype_name]
    body = template.replace("ELEM", elem).replace("LOADER", loader).replace("STORER", storer)
    for name, code in _VEC_IO[dtype_name].items():
        body = body.replace(name, code)
    return _RAW_PREAMBLE + body


@cache
def quantize_rows_kernel(dtype_name: str) -> cupy.RawKernel:
    """The kernel quantizing a row-major (rows, cols) float matrix into a zero-padded int8 matrix."""
    return cupy.RawKernel(_source(_QUANTIZE, dtype_name), "tripy_quantize_rows")


@cache
def epilogue_kernel(dtype_name: str) -> cupy.RawKernel:
    """The kernel scaling int32 accumulators into the output type and adding the bias."""
    return cupy.RawKernel(_source(_EPILOGUE, dtype_name), "tripy_int8_epilogue")


@cache
def quantize_rows_vec_kernel(dtype_name: str) -> cupy.RawKernel:
    return cupy.RawKernel(_source(_QUANTIZE_VEC, dtype_name), "tripy_quantize_rows_vec")


@cache
def epilogue_vec_kernel(dtype_name: str) -> cupy.RawKernel:
    return cupy.RawKernel(_source(_EPILOGUE_VEC, dtype_name), "tripy_int8_epilogue_vec")


_BLOCK = 256


class QuantizeLaunch:
    """The vectorised quantize kernel for one shape (rows of a multiple of 8 values, unpadded columns), its
    launch arguments worked out once: ``launch(x, scale, q, w_scale, alpha)`` as :func:`quantize_rows`."""

    def __init__(self, rows: int, cols: int, dtype_name: str, n_alpha: int) -> None:
        groups = rows * cols // 8
        half = (groups + 1) // 2
        self.kernel = quantize_rows_vec_kernel(dtype_name)
        self.grid, self.block = ((half + _BLOCK - 1) // _BLOCK,), (_BLOCK,)
        self.sizes = (np.int64(groups), np.int64(half))
        self.n_alpha = np.int64(n_alpha)

    def __call__(self, x: cupy.ndarray, scale: cupy.ndarray, q: cupy.ndarray, w_scale: Any, alpha: Any) -> None:
        self.kernel(self.grid, self.block, (x, scale, q, *self.sizes, w_scale, alpha, self.n_alpha))


@lru_cache(maxsize=256)
def quantize_launch(rows: int, cols: int, dtype_name: str, n_alpha: int) -> QuantizeLaunch:
    """The (cached) :class:`QuantizeLaunch` of a shape: ``cols % 8 == 0`` and ``rows > 0``."""
    return QuantizeLaunch(rows, cols, dtype_name, n_alpha)


def quantize_rows(
    x: cupy.ndarray,
    dtype_name: str,
    scale: cupy.ndarray,
    padded_rows: int,
    padded_cols: int,
    out: cupy.ndarray | None = None,
    alpha: tuple[cupy.ndarray, cupy.ndarray] | None = None,
) -> cupy.ndarray:
    """``clamp(rint(x / scale))`` of a contiguous 2-D ``x`` as int8, zero-padded to the given shape.

    ``alpha=(w_scale, into)`` also writes ``into[n] = w_scale[n] * scale`` (float32, N elements), in the same
    launch where the rows allow; the padding rows are then left as they are (the caller reads only ``rows``).
    """
    rows, cols = x.shape
    q = cupy.empty((padded_rows, padded_cols), dtype=np.int8) if out is None else out
    if cols % 8 == 0 and cols == padded_cols and rows > 0:
        w_scale, into = alpha if alpha is not None else (scale, q)
        quantize_launch(rows, cols, dtype_name, into.size if alpha is not None else 0)(x, scale, q, w_scale, into)
        if padded_rows > rows and alpha is None:
            q[rows:] = 0
        return q
    if alpha is not None:
        cupy.multiply(alpha[0], scale, out=alpha[1])
    words = padded_rows * padded_cols // 4
    quantize_rows_kernel(dtype_name)(
        ((words + _BLOCK - 1) // _BLOCK,),
        (_BLOCK,),
        (x, scale, q, np.int64(rows), np.int64(cols), np.int64(padded_rows), np.int64(padded_cols)),
    )
    return q


def epilogue(
    acc: cupy.ndarray,
    rows: int,
    cols: int,
    x_scale: cupy.ndarray | None,
    w_scale: cupy.ndarray,
    bias: cupy.ndarray | None,
    out_storage: np.dtype,
    dtype_name: str,
) -> cupy.ndarray:
    """The (rows, cols) output of int32 accumulators ``acc`` of shape (>= rows, padded_cols)."""
    padded_cols = acc.shape[1]
    out = cupy.empty((rows, cols), dtype=out_storage)
    if cols == padded_cols and x_scale is not None and rows > 0:
        groups = rows * cols // 4
        epilogue_vec_kernel(dtype_name)(
            ((groups + _BLOCK - 1) // _BLOCK,),
            (_BLOCK,),
            (
                acc,
                x_scale,
                w_scale,
                bias if bias is not None else out,
                out,
                np.int64(groups),
                np.int64(cols // 4),
                np.int32(bias is not None),
            ),
        )
        return out
    groups = rows * padded_cols // 4
    dummy = w_scale
    epilogue_kernel(dtype_name)(
        ((groups + _BLOCK - 1) // _BLOCK,),
        (_BLOCK,),
        (
            acc,
            x_scale if x_scale is not None else dummy,
            w_scale,
            bias if bias is not None else out,
            out,
            np.int64(rows),
            np.int64(cols),
            np.int64(padded_cols),
            np.int32(x_scale is not None),
            np.int32(bias is not None),
        ),
    )
    return out
