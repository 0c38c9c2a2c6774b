"""Weight-only int8 Linear for few rows (decoding): int8 weights x float16/bfloat16/float32 activations.

When a Linear runs on a handful of rows, its time is the time to read the weight, so an int8 weight is read
as int8 (half the bytes of float16) and dequantized in registers. The kernels are compiled by NVRTC at run
time, one instance per configuration:

- ``w8a16_mma`` (float16 and bfloat16 activations, compute capability 8.0 and later): each warp holds
  ``16 * RT`` weight rows; every thread loads 16 bytes of a row (16 int8 weights) per load, four threads
  covering 64 contiguous bytes, and turns them into exact float16/bfloat16 values (int8 fits either type
  exactly) as the A operand of ``mma.m16n8k16`` with float32 accumulators; the activations (up to 16 rows)
  are the B operand. The thread's 16 consecutive ``k`` are spread over four MMA steps; the activations
  are loaded in the same order, so the sum is over the same products. Warps of a block split ``K``
  and add their partial sums through shared memory.
- ``w8a16_simt`` (any float type, any GPU): a warp of lanes each loading 16 weights of ``R`` rows per
  load, dequantized to float32, multiplied with float32 FMAs, then reduced across the warp and the block.

Both apply the per-output-channel (or per-tensor, broadcast) float32 scale and the bias once to each
float32 sum, and round once to the output type. The tensor-core kernel also takes a 16-bit weight of the
activations' type (no scale: a float16 Linear at few rows) and two epilogues, tp.gelu's tanh GELU and a
residual added last, each step rounded as the unfused steps round.

- ``w8a8_mma`` (int8 Linears with an input scale): the activations are quantized in the kernel exactly as
  the backend's quantize kernels do, multiplied with ``mma.m16n8k32`` int8 x int8, summed exactly in int32
  and scaled as the int8 GEMM's epilogue does (one kernel instead of quantize + GEMM + epilogue).

An int8 weight is prepared once (:func:`prepare_weight`) and cached by the caller: ``(Np, Kp)`` padded
with zeros to multiples of 64, so that every 16-byte load is aligned and in bounds. Activations need no
padding: loads past ``K`` read zeros. Nothing here synchronizes with the host or allocates outside CuPy's
pool, so calls can be captured in a CUDA graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import cupy
import numpy as np

from tripy.backend.cuda.storage import DEVICE_FUNCTIONS

#: The most activation rows the kernels take (above it a float GEMM is as fast: the weight is reused).
MAX_ROWS = 16
#: The most rows for which :func:`w8a8_gemv` is used by the int8 Linear: every block quantizes the
#: activations it reads, which costs more than the separate quantize kernel it saves past 8 rows (on an
#: H200 at 16 rows it was slower than quantize + int8 GEMM at every decode shape; at 1 row faster at all).
W8A8_MAX_ROWS = 8
#: The weight's padding: rows and columns of the prepared weight are multiples of this.
PAD = 64
_TYPES = {"float32": 0, "float16": 1, "bfloat16": 2}

SOURCE = (
    DEVICE_FUNCTIONS
    + r"""
/* ---- loads ---------------------------------------------------------------------------------------- */
/* Weights are read once: they bypass L1 (the activations, read by every block, stay there). LD 1 also asks
   L2 to fetch 256 bytes around each miss; LD 2 in addition marks the weight first to evict from L2. */
template <int LD>
__device__ __forceinline__ int4 w8_ld_weight(const int4* p) {
    int4 v;
    if (LD == 2) {
        unsigned long long policy;
        asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
        asm("ld.global.nc.L1::no_allocate.L2::cache_hint.L2::256B.v4.s32 {%0, %1, %2, %3}, [%4], %5;"
            : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p), "l"(policy));
    } else if (LD == 1) {
        asm("ld.global.nc.L1::no_allocate.L2::256B.v4.s32 {%0, %1, %2, %3}, [%4];"
            : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    } else {
        asm("ld.global.nc.L1::no_allocate.v4.s32 {%0, %1, %2, %3}, [%4];"
            : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    }
    return v;
}
__device__ __forceinline__ uint4 w8_ld16(const void* p) {
    uint4 v;
    asm("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}
__device__ __forceinline__ uint2 w8_ld8(const void* p) {
    uint2 v;
    asm("ld.global.nc.v2.u32 {%0, %1}, [%2];" : "=r"(v.x), "=r"(v.y) : "l"(p));
    return v;
}
/* Zero vectors without vector_functions.h (not every NVRTC header set has make_int4). */
__device__ __forceinline__ int4 w8_zero_i4() { int4 v; v.x = v.y = v.z = v.w = 0; return v; }
__device__ __forceinline__ uint4 w8_u4(unsigned int a, unsigned int b, unsigned int c, unsigned int d) {
    uint4 v; v.x = a; v.y = b; v.z = c; v.w = d; return v;
}
__device__ __forceinline__ unsigned int w8_word(const int4& v, int i) {
    return (unsigned int)(i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w);
}
__device__ __forceinline__ unsigned int w8_word(const uint4& v, int i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

/* ---- float types: 0 float32, 1 float16 (bits), 2 bfloat16 (bits) ---------------------------------- */
__device__ __forceinline__ float w8_half_to_f32(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ unsigned short w8_f32_to_half(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
template <int XT> struct W8Io;
template <> struct W8Io<0> {
    typedef float T;
    static __device__ __forceinline__ float load(const float* p, long long i) { return p[i]; }
    static __device__ __forceinline__ float store(float v) { return v; }
    /* four consecutive values at p (16-byte aligned) */
    static __device__ __forceinline__ void load4(const float* p, float* f) {
        uint4 v = w8_ld16(p);
        f[0] = __uint_as_float(v.x); f[1] = __uint_as_float(v.y);
        f[2] = __uint_as_float(v.z); f[3] = __uint_as_float(v.w);
    }
};
template <> struct W8Io<1> {
    typedef unsigned short T;
    static __device__ __forceinline__ float load(const unsigned short* p, long long i) { return w8_half_to_f32(p[i]); }
    static __device__ __forceinline__ unsigned short store(float v) { return w8_f32_to_half(v); }
    static __device__ __forceinline__ void load4(const unsigned short* p, float* f) {
        uint2 v = w8_ld8(p);
        f[0] = w8_half_to_f32((unsigned short)(v.x & 0xffffu)); f[1] = w8_half_to_f32((unsigned short)(v.x >> 16));
        f[2] = w8_half_to_f32((unsigned short)(v.y & 0xffffu)); f[3] = w8_half_to_f32((unsigned short)(v.y >> 16));
    }
};
template <> struct W8Io<2> {
    typedef unsigned short T;
    static __device__ __forceinline__ float load(const unsigned short* p, long long i) { return tp_bf16_to_f32(p[i]); }
    static __device__ __forceinline__ unsigned short store(float v) { return tp_f32_to_bf16(v); }
    static __device__ __forceinline__ void load4(const unsigned short* p, float* f) {
        uint2 v = w8_ld8(p);
        f[0] = __uint_as_float(v.x << 16); f[1] = __uint_as_float(v.x & 0xffff0000u);
        f[2] = __uint_as_float(v.y << 16); f[3] = __uint_as_float(v.y & 0xffff0000u);
    }
};

/* ---- dequantization: exact, no integer-to-float conversion instructions ---------------------------- */
/* ``biased`` is a word of four int8 weights XOR 0x80808080 (each byte q + 128). */
__device__ __forceinline__ float w8_byte_f32(unsigned int biased, unsigned int sel) {
    /* 0x4B0000uu is 2**23 + uu: less 2**23 + 128 it is q, exactly */
    return __uint_as_float(__byte_perm(biased, 0x4B000000u, sel)) - 8388736.0f;
}
/* Two bytes (selected by 0x4140: bytes 0 and 1, or 0x4342: bytes 2 and 3) as a float16 pair. */
__device__ __forceinline__ unsigned int w8_half2(unsigned int biased, unsigned int sel) {
    /* 0x64uu is 1024 + uu in float16: less 1152 it is q, exactly */
    unsigned int h = __byte_perm(biased, 0x64646464u, sel), r;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(r) : "r"(h), "r"(0x64806480u));
    return r;
}
/* The same as a bfloat16 pair (bytes 2i and 2i+1). */
__device__ __forceinline__ unsigned int w8_bf162(unsigned int biased, int i) {
    float lo = w8_byte_f32(biased, 0x7440u + 2u * i), hi = w8_byte_f32(biased, 0x7441u + 2u * i);
    unsigned int r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

template <bool BF16>
__device__ __forceinline__ void w8_mma(float* c, unsigned int a0, unsigned int a1, unsigned int a2,
                                       unsigned int a3, unsigned int b0, unsigned int b1) {
    if (BF16) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
            "{%8, %9}, {%0, %1, %2, %3};"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    } else {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
            "{%8, %9}, {%0, %1, %2, %3};"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    }
}

/* Sixteen activations x[k .. k+15] of one row (16-bit types) as 8 words; zeros past K or when !ok. */
template <bool XVEC>
__device__ __forceinline__ void w8_x16(const unsigned short* row, int k, int K, bool ok, uint4* v) {
    if (XVEC) {  /* K % 16 == 0 and the row 16-byte aligned: the 16 values are all in or all out */
        if (ok && k < K) {
            v[0] = w8_ld16(row + k);
            v[1] = w8_ld16(row + k + 8);
        } else {
            v[0] = w8_u4(0u, 0u, 0u, 0u);
            v[1] = v[0];
        }
    } else {
        unsigned int words[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            unsigned int lo = ok && k + 2 * i < K ? row[k + 2 * i] : 0u;
            unsigned int hi = ok && k + 2 * i + 1 < K ? row[k + 2 * i + 1] : 0u;
            words[i] = lo | (hi << 16);
        }
        v[0] = w8_u4(words[0], words[1], words[2], words[3]);
        v[1] = w8_u4(words[4], words[5], words[6], words[7]);
    }
}

/* Sixteen 16-bit weights w[k .. k+15] of one row, read once (no L1); zeros past K or when !ok. */
template <int LD, bool XVEC>
__device__ __forceinline__ void w8_w16(const unsigned short* row, int k, int K, bool ok, uint4* v) {
    if (XVEC) {
        if (ok && k < K) {
            int4 a = w8_ld_weight<LD>((const int4*)(row + k)), b = w8_ld_weight<LD>((const int4*)(row + k + 8));
            v[0] = w8_u4(a.x, a.y, a.z, a.w);
            v[1] = w8_u4(b.x, b.y, b.z, b.w);
        } else {
            v[0] = w8_u4(0u, 0u, 0u, 0u);
            v[1] = v[0];
        }
    } else {
        w8_x16<false>(row, k, K, ok, v);
    }
}

/* GPT-2's tanh GELU as tp.gelu's float32 steps compute it, one rounding per step (no contraction). */
__device__ __forceinline__ float w8_gelu_tanh(float x) {
    const float cube = __fmul_rn(__fmul_rn(__fmul_rn(0.044715f, x), x), x);
    const float inner = __fmul_rn(0.7978845608028654f, __fadd_rn(x, cube));
    return __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, tanhf(inner)));
}

/* The warps' partial sums of a block's (16 RT) x (8 NB) tile of mma accumulators, added in a fixed order
   (the result does not depend on timing); epi(n, m, sum) stores each element inside N x M. */
template <int RT, int NB, int WK, typename T, typename Epi>
__device__ __forceinline__ void w8_tile_sums(const T (&acc)[RT][NB][4], int wk, int lane, long long n0, int N, int M,
                                             Epi epi) {
    __shared__ T red[WK][RT * NB * 4][32];
#pragma unroll
    for (int j = 0; j < RT; ++j)
#pragma unroll
        for (int b = 0; b < NB; ++b)
#pragma unroll
            for (int i = 0; i < 4; ++i) red[wk][(j * NB + b) * 4 + i][lane] = acc[j][b][i];
    __syncthreads();
    const T* flat = &red[0][0][0];
    for (int e = threadIdx.x; e < RT * NB * 4 * 32; e += WK * 32) {
        T v = 0;
#pragma unroll
        for (int q = 0; q < WK; ++q) v += flat[q * (RT * NB * 4 * 32) + e];
        const int ln = e & 31, idx = e >> 5, i = idx & 3, jb = idx >> 2, b = jb % NB, j = jb / NB;
        const long long n = n0 + 16 * j + (ln >> 2) + 8 * (i >> 1);
        const int m = 8 * b + 2 * (ln & 3) + (i & 1);
        if (n < N && m < M) epi(n, m, v);
    }
}

/* ---- tensor-core kernel: float16 / bfloat16 activations, M <= 8 * NB ----------------------------- */
/* W16: the weight is 16-bit (the activations' type; scale may be null) rather than int8. EPI: 1 tanh GELU,
   2 a residual added last; each step rounds to the output type, as the unfused steps do. */
template <int RT, int NB, int WK, int U, int LD, bool BF16, bool XVEC, bool W16, int EPI>
__global__ void __launch_bounds__(WK * 32)
w8a16_mma(const void* __restrict__ wv_, const float* __restrict__ scale, const unsigned short* __restrict__ x,
          const unsigned short* __restrict__ bias, const unsigned short* __restrict__ residual,
          unsigned short* __restrict__ out, int M, int N, int K, int Kp) {
    const int lane = threadIdx.x & 31, wk = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int4* w = (const int4*)wv_;
    const unsigned short* w16 = (const unsigned short*)wv_;
    const long long row_vecs = Kp >> 4;  /* int8: 16-byte vectors per (padded) weight row */
    const int chunks = (K + 63) >> 6;    /* 64 k per chunk: 4 threads x 16 k of each row */
    const long long n0 = (long long)blockIdx.x * (16 * RT);
    float acc[RT][NB][4];
#pragma unroll
    for (int j = 0; j < RT; ++j)
#pragma unroll
        for (int b = 0; b < NB; ++b)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[j][b][i] = 0.0f;
    const int4* wrow[RT][2];
    const unsigned short* wrow16[RT][2];  /* 16-bit weights are not padded: rows past N read row N - 1 */
#pragma unroll
    for (int j = 0; j < RT; ++j)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const long long r = n0 + 16 * j + g + 8 * h;
            wrow[j][h] = w + r * row_vecs + t;
            wrow16[j][h] = w16 + (r < N ? r : N - 1) * (long long)K;
        }
    const unsigned short* xrow[NB];
    bool xok[NB];
#pragma unroll
    for (int b = 0; b < NB; ++b) {
        const int m = g + 8 * b;
        xok[b] = m < M;
        xrow[b] = x + (long long)(xok[b] ? m : 0) * K;
    }
    for (int c0 = wk; c0 < chunks; c0 += WK * U) {
        int4 wv[U][RT][2];
        uint4 wh[U][RT][2][2];
        uint4 xv[U][NB][2];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = c0 + u * WK;
            const bool ok = c < chunks;
#pragma unroll
            for (int j = 0; j < RT; ++j)
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    if (W16) w8_w16<LD, XVEC>(wrow16[j][h], 64 * c + 16 * t, K, ok, wh[u][j][h]);
                    else wv[u][j][h] = ok ? w8_ld_weight<LD>(wrow[j][h] + 4 * c) : w8_zero_i4();
                }
#pragma unroll
            for (int b = 0; b < NB; ++b) w8_x16<XVEC>(xrow[b], 64 * c + 16 * t, K, ok && xok[b], xv[u][b]);
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
#pragma unroll
            for (int s = 0; s < 4; ++s) {
                /* step s: this thread's k = 64c + 16t + 4s + {0, 1} (B's first register), {2, 3} (second) */
                unsigned int bf[NB][2];
#pragma unroll
                for (int b = 0; b < NB; ++b) {
                    bf[b][0] = w8_word(xv[u][b][s >> 1], 2 * (s & 1));
                    bf[b][1] = w8_word(xv[u][b][s >> 1], 2 * (s & 1) + 1);
                }
#pragma unroll
                for (int j = 0; j < RT; ++j) {
                    const unsigned int r0 = w8_word(wv[u][j][0], s) ^ 0x80808080u;  /* row g */
                    const unsigned int r8 = w8_word(wv[u][j][1], s) ^ 0x80808080u;  /* row g + 8 */
                    unsigned int a0, a1, a2, a3;
                    if (W16) {  /* the same k as the activations' registers: words 2s and 2s + 1 */
                        a0 = w8_word(wh[u][j][0][s >> 1], 2 * (s & 1));
                        a1 = w8_word(wh[u][j][1][s >> 1], 2 * (s & 1));
                        a2 = w8_word(wh[u][j][0][s >> 1], 2 * (s & 1) + 1);
                        a3 = w8_word(wh[u][j][1][s >> 1], 2 * (s & 1) + 1);
                    } else if (BF16) {
                        a0 = w8_bf162(r0, 0); a1 = w8_bf162(r8, 0); a2 = w8_bf162(r0, 1); a3 = w8_bf162(r8, 1);
                    } else {
                        a0 = w8_half2(r0, 0x4140u); a1 = w8_half2(r8, 0x4140u);
                        a2 = w8_half2(r0, 0x4342u); a3 = w8_half2(r8, 0x4342u);
                    }
#pragma unroll
                    for (int b = 0; b < NB; ++b) w8_mma<BF16>(acc[j][b], a0, a1, a2, a3, bf[b][0], bf[b][1]);
                }
            }
        }
    }
    w8_tile_sums<RT, NB, WK>(acc, wk, lane, n0, N, M, [&](long long n, int m, float v) {
        typedef W8Io<BF16 ? 2 : 1> Io;
        float r = scale != nullptr ? v * scale[n] : v;
        if (bias != nullptr) r += Io::load(bias, n);
        unsigned short bits = Io::store(r);
        if (EPI & 1) bits = Io::store(w8_gelu_tanh(Io::load(&bits, 0)));
        if (EPI & 2) bits = Io::store(Io::load(residual, (long long)m * N + n) + Io::load(&bits, 0));
        out[(long long)m * N + n] = bits;
    });
}

/* ---- W8A8: the activations quantized in the kernel, int8 x int8 products summed exactly in int32 ---- */
/* x / s correctly rounded (r = 1 / s correctly rounded; one FMA correction, Markstein), as the backend's
   quantize kernels divide; far-off scales and huge quotients divide outright. */
__device__ __forceinline__ float w8_divide(float x, float s, float r, bool fast) {
    if (fast) {
        float q = tp_mul_rn(x, r);
        if (fabsf(q) < 1e30f) return tp_fma_rn(tp_fma_rn(-q, s, x), r, q);
    }
    return tp_div_rn(x, s);
}
/* Four values as four int8 in a word: round half to even, NaN to 0, clamped to [-128, 127]. */
__device__ __forceinline__ unsigned int w8_quantize4(const float* v, float s, float r, bool fast) {
    unsigned int word = 0u;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        float q = rintf(w8_divide(v[i], s, r, fast));
        q = q != q ? 0.0f : fminf(fmaxf(q, -128.0f), 127.0f);
        word |= ((unsigned int)(unsigned char)(signed char)(int)q) << (8 * i);
    }
    return word;
}
/* Sixteen activations of one row quantized into four words (zeros past K or when !ok). */
template <int XT, bool XVEC>
__device__ __forceinline__ void w8_xq16(const typename W8Io<XT>::T* row, int k, int K, bool ok, float s, float r,
                                        bool fast, unsigned int* q) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        float v[4];
        if (XVEC && ok && k < K) {
            W8Io<XT>::load4(row + k + 4 * i, v);
        } else {
#pragma unroll
            for (int e = 0; e < 4; ++e) v[e] = ok && k + 4 * i + e < K ? W8Io<XT>::load(row, k + 4 * i + e) : 0.0f;
        }
        q[i] = w8_quantize4(v, s, r, fast);
    }
}

template <int RT, int NB, int WK, int U, int LD, int XT, bool XVEC>
__global__ void __launch_bounds__(WK * 32)
w8a8_mma(const int4* __restrict__ w, const float* __restrict__ w_scale, const float* __restrict__ x_scale,
         const typename W8Io<XT>::T* __restrict__ x, const typename W8Io<XT>::T* __restrict__ bias,
         typename W8Io<XT>::T* __restrict__ out, int M, int N, int K, int Kp) {
    typedef W8Io<XT> Io;
    const int lane = threadIdx.x & 31, wk = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const long long row_vecs = Kp >> 4;
    const int chunks = (K + 63) >> 6;
    const long long n0 = (long long)blockIdx.x * (16 * RT);
    const float s = x_scale[0], r = tp_div_rn(1.0f, s);
    const bool fast = fabsf(s) > 1e-20f && fabsf(s) < 1e20f;
    int acc[RT][NB][4];
#pragma unroll
    for (int j = 0; j < RT; ++j)
#pragma unroll
        for (int b = 0; b < NB; ++b)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[j][b][i] = 0;
    const int4* wrow[RT][2];
#pragma unroll
    for (int j = 0; j < RT; ++j)
#pragma unroll
        for (int h = 0; h < 2; ++h) wrow[j][h] = w + (n0 + 16 * j + g + 8 * h) * row_vecs + t;
    const typename Io::T* xrow[NB];
    bool xok[NB];
#pragma unroll
    for (int b = 0; b < NB; ++b) {
        const int m = g + 8 * b;
        xok[b] = m < M;
        xrow[b] = x + (long long)(xok[b] ? m : 0) * K;
    }
    for (int c0 = wk; c0 < chunks; c0 += WK * U) {
        int4 wv[U][RT][2];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = c0 + u * WK;
            const bool ok = c < chunks;
#pragma unroll
            for (int j = 0; j < RT; ++j)
#pragma unroll
                for (int h = 0; h < 2; ++h) wv[u][j][h] = ok ? w8_ld_weight<LD>(wrow[j][h] + 4 * c) : w8_zero_i4();
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = c0 + u * WK;
            unsigned int xq[NB][4];
#pragma unroll
            for (int b = 0; b < NB; ++b)
                w8_xq16<XT, XVEC>(xrow[b], 64 * c + 16 * t, K, c < chunks && xok[b], s, r, fast, xq[b]);
#pragma unroll
            for (int s2 = 0; s2 < 2; ++s2) {
                /* m16n8k32: this thread's k = 64c + 16t + 8 s2 + {0..3} (first registers), + {4..7} (second) */
#pragma unroll
                for (int j = 0; j < RT; ++j) {
                    const unsigned int a0 = w8_word(wv[u][j][0], 2 * s2), a1 = w8_word(wv[u][j][1], 2 * s2);
                    const unsigned int a2 = w8_word(wv[u][j][0], 2 * s2 + 1), a3 = w8_word(wv[u][j][1], 2 * s2 + 1);
#pragma unroll
                    for (int b = 0; b < NB; ++b)
                        asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                            "{%8, %9}, {%0, %1, %2, %3};"
                            : "+r"(acc[j][b][0]), "+r"(acc[j][b][1]), "+r"(acc[j][b][2]), "+r"(acc[j][b][3])
                            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(xq[b][2 * s2]), "r"(xq[b][2 * s2 + 1]));
                }
            }
        }
    }
    w8_tile_sums<RT, NB, WK>(acc, wk, lane, n0, N, M, [&](long long n, int m, int v) {
        /* as the int8 GEMM's epilogue: acc * (sx * sw[n]) (+ bias) */
        float o = (float)v * (s * w_scale[n]);
        if (bias != nullptr) o += Io::load(bias, n);
        out[(long long)m * N + n] = Io::store(o);
    });
}

/* ---- CUDA-core kernel: any float type, M <= MM ---------------------------------------------------- */
template <int R, int MM, int WK, int U, int LD, int XT, bool XVEC>
__global__ void __launch_bounds__(WK * 32)
w8a16_simt(const int4* __restrict__ w, const float* __restrict__ scale, const typename W8Io<XT>::T* __restrict__ x,
           const typename W8Io<XT>::T* __restrict__ bias, typename W8Io<XT>::T* __restrict__ out, int M, int N,
           int K, int Kp) {
    typedef W8Io<XT> Io;
    const int lane = threadIdx.x & 31, wk = threadIdx.x >> 5;
    const long long row_vecs = Kp >> 4;
    const int chunks = (K + 15) >> 4;  /* 16 k per lane and load */
    const long long n0 = (long long)blockIdx.x * R;
    float acc[R][MM];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int m = 0; m < MM; ++m) acc[r][m] = 0.0f;
    for (int c0 = wk * 32 + lane; c0 < chunks; c0 += WK * 32 * U) {
        int4 wv[U][R];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = c0 + u * WK * 32;
#pragma unroll
            for (int r = 0; r < R; ++r)
                wv[u][r] = c < chunks ? w8_ld_weight<LD>(w + (n0 + r) * row_vecs + c) : w8_zero_i4();
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = c0 + u * WK * 32;
            if (c >= chunks) break;
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                float wf[R][4];
#pragma unroll
                for (int r = 0; r < R; ++r) {
                    const unsigned int biased = w8_word(wv[u][r], q) ^ 0x80808080u;
#pragma unroll
                    for (int i = 0; i < 4; ++i) wf[r][i] = w8_byte_f32(biased, 0x7440u + i);
                }
                const int k = 16 * c + 4 * q;
#pragma unroll
                for (int m = 0; m < MM; ++m) {
                    if (m < M) {
                        float xf[4];
                        const typename Io::T* row = x + (long long)m * K;
                        if (XVEC) {
                            Io::load4(row + k, xf);
                        } else {
#pragma unroll
                            for (int i = 0; i < 4; ++i) xf[i] = k + i < K ? Io::load(row, k + i) : 0.0f;
                        }
#pragma unroll
                        for (int r = 0; r < R; ++r)
#pragma unroll
                            for (int i = 0; i < 4; ++i) acc[r][m] = fmaf(xf[i], wf[r][i], acc[r][m]);
                    }
                }
            }
        }
    }
    __shared__ float red[WK][R * MM];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int m = 0; m < MM; ++m) {
            float v = acc[r][m];
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
            if (lane == 0) red[wk][r * MM + m] = v;
        }
    __syncthreads();
    for (int e = threadIdx.x; e < R * MM; e += WK * 32) {
        float v = 0.0f;
#pragma unroll
        for (int q = 0; q < WK; ++q) v += red[q][e];
        const long long n = n0 + e / MM;
        const int m = e % MM;
        if (n < N && m < M) {
            float r = v * scale[n];
            if (bias != nullptr) r += Io::load(bias, n);
            out[(long long)m * N + n] = Io::store(r);
        }
    }
}
"""
)


@dataclass(frozen=True)
class Config:
    """One kernel configuration.

    ``kind`` is ``"mma"`` (tensor cores, float16/bfloat16) or ``"simt"``; ``rows`` the weight rows of a
    block (16, 32 or 64 for ``mma``; 1, 2, 4 or 8 for ``simt``); ``warps`` the warps of a block,
    which split K; ``unroll`` the loads of each weight row a thread has in flight; ``load`` the weight
    loads' cache hints (0: bypass L1; 1: also fetch 256 bytes into L2 per miss; 2: also evict first).
    """

    kind: str
    rows: int
    warps: int
    unroll: int
    load: int = 0

    def __str__(self) -> str:
        hint = f" load={self.load}" if self.load else ""
        return f"{self.kind} rows={self.rows} warps={self.warps} unroll={self.unroll}{hint}"


def _pow2_at_least(m: int) -> int:
    p = 1
    while p < m:
        p *= 2
    return p


@cache
def _compute_capability() -> int:
    return int(cupy.cuda.Device().compute_capability)


@cache
def _multiprocessors() -> int:
    return int(cupy.cuda.Device().attributes["MultiProcessorCount"])


def choose(m: int, n: int, k: int, dtype_name: str, float_weight: bool = False) -> Config:
    """The configuration used for ``m`` activation rows of ``dtype_name`` and an (n, k) weight: int8, or
    with ``float_weight`` 16-bit (the float16 Linear's GEMV). Chosen from measurements on an H200
    (``benchmarks/int8_linear.py --variants``, weights read cold from memory).

    For int8 weights the number of blocks decides (16 weight rows each). Up to two per multiprocessor
    (N <= 4096 on an H200), 16 warps share each block's K: at K = N = 4096 that gave 6.5 us at M = 1 and 7.1 us
    at M = 16, against 8.0 and 9.1 us for 8 warps with several loads in flight per row; where the blocks do
    not even fill the GPU (GPT-2's N = 768 to 3072) each warp issues all its loads at once (K = 768: 2.7 us
    against 3.5). Past two blocks per multiprocessor (K = N = 8192), 8 warps keep the most loads in flight
    per row (71% of the memory bandwidth at M = 1)."""
    if dtype_name == "float32" or _compute_capability() < 80:
        return Config("simt", 2 if m > 4 else 4, 4, 2)
    chunks, blocks, sms = -(-k // 64), -(-n // 16), _multiprocessors()
    if float_weight:
        if blocks <= 2 * sms and chunks <= 48:
            # Few blocks and K <= 3072: a call is a few memory latencies, so every warp issues all its loads
            # at once (at most 3 per row), with evict-first hints (the weight is read once per token).
            # GPT-2's shapes at M = 1 on an H200, in a CUDA graph, weights cold: 768 -> 768 2.67 us,
            # 768 -> 2304 3.46, 3072 -> 768 4.23, against 4.08, 4.27 and 4.69 for 4 or 16 warps with one load
            # of each row in flight. At K = N = 4096, 4 loads per row in one step were slower (12.6 us against
            # 11.3 at M = 1): that shape keeps the rule below.
            warps = 8 if chunks <= 24 else 16
            return Config("mma", 16, warps, -(-chunks // warps), 2)
        return choose_w8a8(m, n, k, float_weight=True)
    if blocks > 2 * sms:
        return Config("mma", 16, 8, max(1, min(4 if m <= 8 else 1, chunks // 8)), 1)
    warps = 16 if chunks >= 8 else 4
    if blocks < sms:  # every warp's loads in one step (at most 4 per row)
        return Config("mma", 16, warps, max(1, min(4, -(-chunks // warps))), 1)
    return Config("mma", 16, warps, 1, 1)


def choose_w8a8(m: int, n: int, k: int, float_weight: bool = False) -> Config:
    """The configuration of the W8A8 kernel (activations quantized in it), and of the float16-weight GEMV
    (``float_weight``): 8 warps and enough loads in flight per thread to cover the memory latency. On an
    H200 at M = 1, K = N = 8192, 16 rows per block with 8 warps and 4 loads in flight per row reached 71% of
    the memory bandwidth, against 59% for 32 rows; at M = 16, 16 rows with 2 loads in flight: 65% (32 rows:
    59%, 64 rows: 46%), the L2 prefetch hint best for the largest weights and evict-first for K = N = 4096."""
    sms = _multiprocessors()
    chunks = -(-k // 64)
    warps = 8 if chunks >= 32 else 4
    if m <= 8:
        rows, unroll, load = 16, 4, 1
    else:  # twice the activation registers: fewer loads in flight
        rows, unroll, load = 16, 2, (1 if n * k >= 1 << 25 else 2)
    if -(-n // rows) < sms and chunks >= 48:
        warps = 16  # few blocks (small N, large K): more warps split K
    unroll = max(1, min(unroll, chunks // warps))
    if float_weight:
        unroll = max(1, unroll // 2)  # twice the bytes per load step
    return Config("mma", rows, warps, unroll, load)


#: The configuration and kernel of each default launch (rows, N, K, types, epilogue), found once.
_CHOSEN: dict[tuple, tuple[Config, Any]] = {}


@cache
def _module(name: str) -> cupy.RawModule:
    return cupy.RawModule(code=SOURCE, name_expressions=(name,))


def kernel_name(
    config: Config, m: int, dtype_name: str, vectorized: bool, float_weight: bool = False, epilogue: int = 0
) -> str:
    """The C++ name of the template instance that runs ``config`` for ``m`` rows (``epilogue``: 1 tanh
    GELU, 2 residual, 3 both; ``float_weight``: a 16-bit weight of the activations' type)."""
    vec = "true" if vectorized else "false"
    if config.kind == "mma":
        if dtype_name == "float32":
            raise ValueError("the mma kernel takes float16 or bfloat16 activations")
        if config.rows not in (16, 32, 64) or config.load not in (0, 1, 2) or epilogue not in (0, 1, 2, 3):
            raise ValueError(f"mma rows must be 16, 32 or 64 and load 0, 1 or 2: {config}")
        nb = 1 if m <= 8 else 2
        bf16 = "true" if dtype_name == "bfloat16" else "false"
        w16 = "true" if float_weight else "false"
        rt, warps, unroll, load = config.rows // 16, config.warps, config.unroll, config.load
        return f"w8a16_mma<{rt}, {nb}, {warps}, {unroll}, {load}, {bf16}, {vec}, {w16}, {epilogue}>"
    if config.kind != "simt" or config.rows not in (1, 2, 4, 8) or config.load not in (0, 1, 2):
        raise ValueError(f"unknown configuration {config}")
    if float_weight or epilogue:
        raise ValueError("the simt kernel takes int8 weights and no epilogue")
    mm = _pow2_at_least(m)
    xt = _TYPES[dtype_name]
    return f"w8a16_simt<{config.rows}, {mm}, {config.warps}, {config.unroll}, {config.load}, {xt}, {vec}>"


def _round_up(v: int, multiple: int) -> int:
    return (v + multiple - 1) // multiple * multiple


def prepare_weight(q: cupy.ndarray) -> cupy.ndarray:
    """The int8 weight ``q`` (N, K) as the kernels read it: C-contiguous, zero-padded to multiples of 64."""
    n, k = q.shape
    out = cupy.zeros((_round_up(max(n, 1), PAD), _round_up(max(k, 1), PAD)), dtype=np.int8)
    out[:n, :k] = q
    return out


def supports(x: cupy.ndarray, dtype_name: str, weight: cupy.ndarray, epilogue: bool = False) -> bool:
    """Whether :func:`gemv` takes these operands: 1 to :data:`MAX_ROWS` rows of C-contiguous ``x`` (M, K),
    and an int8 prepared weight (any float type; with an epilogue float16/bfloat16 on compute capability
    8.0+), or a C-contiguous 16-bit weight (N, K) of ``x``'s type (float16/bfloat16, 8.0+)."""
    if x.ndim != 2 or not 1 <= x.shape[0] <= MAX_ROWS or not x.flags.c_contiguous or dtype_name not in _TYPES:
        return False
    mma_ok = dtype_name != "float32" and _compute_capability() >= 80
    if weight.dtype == np.int8:
        return (mma_ok or not epilogue) and weight.shape[1] >= x.shape[1] and weight.shape[1] % PAD == 0
    return (
        mma_ok
        and weight.dtype == x.dtype
        and weight.ndim == 2
        and weight.shape[1] == x.shape[1]
        and weight.flags.c_contiguous
        and weight.shape[0] > 0
    )


def gemv(
    x: cupy.ndarray,
    dtype_name: str,
    weight: cupy.ndarray,
    scale: cupy.ndarray | None,
    bias: cupy.ndarray | None,
    n: int,
    config: Config | None = None,
    out: cupy.ndarray | None = None,
    residual: cupy.ndarray | None = None,
    gelu: bool = False,
) -> cupy.ndarray:
    """``x @ (w * scale).T + bias`` for C-contiguous ``x`` (M, K), M <= :data:`MAX_ROWS`, of float type
    ``dtype_name`` (held as float32, or uint16 bits for float16 and bfloat16); see :func:`supports`.

    ``weight`` is :func:`prepare_weight`'s padded int8 matrix of ``n`` real rows with ``scale`` float32
    (n,), or a 16-bit (n, K) matrix of ``x``'s type with ``scale`` float32 (n,) or None. ``bias`` is (n,)
    of ``x``'s type or None. Sums are float32; scale and bias are applied to each, then it is rounded once
    to the type. With ``gelu`` that value goes through tp.gelu's tanh GELU (float32 steps, rounded once
    more); with ``residual`` ((M, n), ``x``'s type) the result is ``residual + value``, rounded. Returns
    (M, n) of ``x``'s type (written into ``out`` if given).
    """
    m, k = x.shape
    if not 1 <= m <= MAX_ROWS:
        raise ValueError(f"w8a16 takes 1 to {MAX_ROWS} rows, not {m}")
    float_weight = weight.dtype != np.int8
    if float_weight:
        if weight.dtype != x.dtype or weight.shape != (n, k) or not weight.flags.c_contiguous:
            raise ValueError(f"a float weight must be C-contiguous ({n}, {k}) of x's type, not {weight.shape}")
    elif weight.shape[0] < n or weight.shape[1] < k or weight.shape[1] % PAD or scale is None:
        raise ValueError(f"weight {weight.shape} {weight.dtype} is not a prepared weight for K={k}")
    if residual is not None and (residual.shape != (m, n) or residual.dtype != x.dtype):
        raise ValueError(f"the residual must be ({m}, {n}) of x's type")
    epilogue = (1 if gelu else 0) | (2 if residual is not None else 0)
    vectorized = k % 16 == 0 and x.data.ptr % 16 == 0 and (not float_weight or weight.data.ptr % 16 == 0)
    key = (m, n, k, dtype_name, float_weight, vectorized, epilogue)
    default = config is None
    chosen = _CHOSEN.get(key) if default else None
    if chosen is None:
        config = config or choose(m, n, k, dtype_name, float_weight)
        if config.kind == "simt" and (float_weight or epilogue):
            raise ValueError("a float weight or an epilogue needs float16/bfloat16 and compute capability 8.0")
        name = kernel_name(config, m, dtype_name, vectorized, float_weight, epilogue)
        chosen = (config, _module(name).get_function(name))
        if default and len(_CHOSEN) < 4096:  # the shapes of a model's layers: few
            _CHOSEN[key] = chosen
    config, fn = chosen
    if out is None:
        out = cupy.empty((m, n), dtype=x.dtype)
    grid = (-(-n // config.rows),)
    null = np.uintp(0)
    head: tuple[Any, ...] = (weight, null if scale is None else scale, x, null if bias is None else bias)
    if config.kind == "mma":
        head = (*head, null if residual is None else cupy.ascontiguousarray(residual))
    sizes = (np.int32(m), np.int32(n), np.int32(k), np.int32(k if float_weight else weight.shape[1]))
    fn(grid, (config.warps * 32,), (*head, out, *sizes))
    return out


def w8a8_kernel_name(config: Config, m: int, dtype_name: str, vectorized: bool) -> str:
    """The C++ name of the W8A8 template instance (activations quantized in the kernel) for ``config``."""
    if config.kind != "mma" or config.rows not in (16, 32, 64) or config.load not in (0, 1, 2):
        raise ValueError(f"the W8A8 kernel takes mma configurations, not {config}")
    nb = 1 if m <= 8 else 2
    vec = "true" if vectorized else "false"
    rt, warps, unroll, load = config.rows // 16, config.warps, config.unroll, config.load
    return f"w8a8_mma<{rt}, {nb}, {warps}, {unroll}, {load}, {_TYPES[dtype_name]}, {vec}>"


def w8a8_supported() -> bool:
    """Whether :func:`w8a8_gemv` runs here (int8 tensor-core MMA: compute capability 8.0 or later)."""
    return _compute_capability() >= 80


def w8a8_gemv(
    x: cupy.ndarray,
    dtype_name: str,
    x_scale: cupy.ndarray,
    weight: cupy.ndarray,
    w_scale: cupy.ndarray,
    bias: cupy.ndarray | None,
    n: int,
    config: Config | None = None,
    out: cupy.ndarray | None = None,
) -> cupy.ndarray:
    """The int8 x int8 Linear for few rows: ``x`` (M, K) quantized in the kernel with the float32 scalar
    ``x_scale`` (a device array: round half to even of the correctly rounded quotient, NaN to 0, clamped
    to [-128, 127], as the backend's quantize kernels do), multiplied with :func:`prepare_weight`'s int8
    weight, products summed exactly in int32, then ``acc * (x_scale * w_scale[n]) (+ bias[n])`` rounded
    to ``x``'s type, as the int8 GEMM's epilogue computes it."""
    m, k = x.shape
    if not 1 <= m <= MAX_ROWS:
        raise ValueError(f"w8a8 takes 1 to {MAX_ROWS} rows, not {m}")
    if weight.dtype != np.int8 or weight.shape[0] < n or weight.shape[1] < k or weight.shape[1] % PAD:
        raise ValueError(f"weight {weight.shape} {weight.dtype} is not a prepared weight for K={k}")
    config = config or choose_w8a8(m, n, k)
    vectorized = k % 16 == 0 and x.data.ptr % 16 == 0
    name = w8a8_kernel_name(config, m, dtype_name, vectorized)
    fn = _module(name).get_function(name)
    if out is None:
        out = cupy.empty((m, n), dtype=x.dtype)
    null = np.uintp(0)
    args = (weight, w_scale, x_scale, x, null if bias is None else bias, out)
    sizes = (np.int32(m), np.int32(n), np.int32(k), np.int32(weight.shape[1]))
    fn((-(-n // config.rows),), (config.warps * 32,), (*args, *sizes))
    return out
