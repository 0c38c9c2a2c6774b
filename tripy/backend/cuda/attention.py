"""The fused :class:`~tripy.trace.primitives.Attention` on the GPU: one kernel per call.

One thread block computes one query row of one (batch, head): the scores ``q . k_j`` for the visible keys
into shared memory, their maximum, ``exp`` and sum, the probabilities, and ``sum_j p_j v_j``. It rounds as
the primitive's steps do (:meth:`Attention.steps`, which the NumPy backend runs): each score is accumulated
in float32, rounded to the inputs' dtype, multiplied by the scale (itself rounded to that dtype) and
rounded again; the softmax runs in float32 and the probabilities are rounded to the inputs' dtype before
the value product, which accumulates in float32 and is rounded once. Only the order of the float32 sums
differs from the reference.

With ``causal``, row i reads keys ``0 .. start + i`` only (``start`` is read on the device, so the call is
capturable in a CUDA graph whose position changes between replays): the keys and values of a static cache
past the written positions are never loaded, whatever they hold. A row that sees no key (``start + i < 0``)
is NaN, as the steps give (the softmax of nothing).

Shapes and dtypes the kernel does not take (a head dimension that is not 16-byte aligned or above 256,
values of another width than the keys, a row of scores that does not fit in shared memory) run the steps.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any, NamedTuple

import cupy
import ml_dtypes
import numpy as np

from tripy import dtypes
from tripy.backend.base import fused_kernel
from tripy.backend.cuda.kernels import KERNELS
from tripy.backend.cuda.storage import DEVICE_FUNCTIONS, logical_dtype
from tripy.dtypes import DataType
from tripy.trace.primitives import Attention

#: Element kinds of the kernel: the value of ``KIND`` in its source, and the element size in bytes.
_KINDS: dict[DataType, tuple[int, int]] = {dtypes.float32: (0, 4), dtypes.float16: (1, 2), dtypes.bfloat16: (2, 2)}
#: Keys (and values) each thread loads ahead in one loop step, to keep that many loads in flight.
_UNROLL = 4
#: Shared memory a block may use without opting in (bytes).
_SHARED_LIMIT = 48 * 1024
#: Threads of this kernel resident on a large GPU at once (132 SMs of 1024: its 50-odd registers per thread
#: leave room for no more): the block size aims to fill it in one wave.
_TARGET_THREADS = 132 * 1024
#: Whether values are prefetched where the caller does not say.
_PREFETCH = False
#: Blocks that keep each multiprocessor of a large GPU busy (two per SM): rows split into clusters up to it.
_TARGET_BLOCKS = 2 * 132
#: Caches shorter than this are never split: each block's load is small already.
_CLUSTER_MIN_KEYS = 256
_MAX_HEAD_DIM = 256

_SOURCE = r"""
#define CH (D / VEC)                   /* 16-byte chunks in a row of D elements */
#define CPL (CH > 32 ? CH / 32 : 1)    /* chunks per lane */
#define LPK (CH / CPL)                 /* lanes per key (a power of two <= 32) */
#define KPW (32 / LPK)                 /* keys per warp and step */
#define FULL 0xffffffffu

__device__ __forceinline__ float tp_half_to_f32(unsigned int h) {
    float f;
    unsigned short s = (unsigned short)h;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(s));
    return f;
}
__device__ __forceinline__ unsigned short tp_f32_to_half(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
/* The VEC elements of one 16-byte chunk, as floats. */
__device__ __forceinline__ void tp_unpack(const uint4 u, float* f) {
    const unsigned int w[4] = {u.x, u.y, u.z, u.w};
#if KIND == 0
    #pragma unroll
    for (int e = 0; e < 4; ++e) f[e] = __uint_as_float(w[e]);
#elif KIND == 1
    #pragma unroll
    for (int e = 0; e < 4; ++e) {
        f[2 * e] = tp_half_to_f32(w[e] & 0xffffu);
        f[2 * e + 1] = tp_half_to_f32(w[e] >> 16);
    }
#else
    #pragma unroll
    for (int e = 0; e < 4; ++e) {
        f[2 * e] = __uint_as_float(w[e] << 16);
        f[2 * e + 1] = __uint_as_float(w[e] & 0xffff0000u);
    }
#endif
}
/* x rounded to the element type (to nearest even), as a float. */
__device__ __forceinline__ float tp_round(float x) {
#if KIND == 0
    return x;
#elif KIND == 1
    return tp_half_to_f32(tp_f32_to_half(x));
#else
    return tp_bf16_to_f32(tp_f32_to_bf16(x));
#endif
}
#if KIND == 0
typedef float tp_out_t;
__device__ __forceinline__ tp_out_t tp_encode(float x) { return x; }
#elif KIND == 1
typedef unsigned short tp_out_t;
__device__ __forceinline__ tp_out_t tp_encode(float x) { return tp_f32_to_half(x); }
#else
typedef unsigned short tp_out_t;
__device__ __forceinline__ tp_out_t tp_encode(float x) { return tp_f32_to_bf16(x); }
#endif
/* max that propagates NaN, as NumPy's does */
__device__ __forceinline__ float tp_max(float a, float b) { return (a != a || a > b) ? a : b; }

/* The maximum (op 0) or sum (op 1) of every thread's x, returned to all threads; `scratch` holds 32 floats.
   Ends with a barrier, so `scratch` may be reused right after. */
__device__ __forceinline__ float tp_block_reduce(float x, int op, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    #pragma unroll
    for (int o = 16; o; o >>= 1) {
        float y = __shfl_xor_sync(FULL, x, o);
        x = op == 0 ? tp_max(x, y) : x + y;
    }
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    x = scratch[0];
    for (int w = 1; w < nwarps; ++w) x = op == 0 ? tp_max(x, scratch[w]) : x + scratch[w];
    __syncthreads();
    return x;
}

#if CLUSTER > 1
__device__ __forceinline__ unsigned int tp_cluster_rank() {
    unsigned int r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
    return r;
}
/* Every thread of every block of the cluster arrives; shared memory written before is visible after. */
__device__ __forceinline__ void tp_cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}
/* The float at `p` (this block's shared memory) in the shared memory of block `rank` of the cluster. */
__device__ __forceinline__ float tp_remote(const float* p, unsigned int rank) {
    unsigned int local, remote;
    float v;
    asm volatile("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(local) : "l"(p));
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(local), "r"(rank));
    asm volatile("ld.shared::cluster.f32 %0, [%1];" : "=f"(v) : "r"(remote) : "memory");
    return v;
}
#define TP_CLUSTER_DIMS __cluster_dims__(CLUSTER, 1, 1)
#else
#define TP_CLUSTER_DIMS
#endif

/* out[r, :] for row r of the (rows, S, D) query: softmax(mask(q_r . k_j * scale)) @ v over the keys of its
   (batch, head) bh = r / S. The query may be strided: row i of head h of batch b starts b q_b + h q_h + i q_s
   chunks into q (bh = b H + h); keys, values and the output are C-contiguous. With CLUSTER > 1 the CLUSTER
   blocks of a cluster share a row: each takes a contiguous part of the visible keys, and they exchange the
   maximum, the sum and the partial value sums through distributed shared memory. Dynamic shared memory:
   `chunk` floats of scores, D floats per warp of partial value sums, D floats of the block's value sums. */
extern "C" __global__ void TP_CLUSTER_DIMS __launch_bounds__(MAX_THREADS) tripy_attention(
        const uint4* __restrict__ q, const uint4* __restrict__ k, const uint4* __restrict__ v,
        const int* __restrict__ start, tp_out_t* __restrict__ out, int S, int T, int chunk, float scale,
        int causal, int H, long long q_b, long long q_h, long long q_s) {
    extern __shared__ float shared[];
    __shared__ float scratch[32];
    float* scores = shared;
    float* partial = shared + chunk;
#if CLUSTER > 1
    __shared__ float stat[2];
    float* mine = partial + (blockDim.x >> 5) * D;
#endif
    const long long row = blockIdx.x / CLUSTER, bh = row / S;
    const int i = (int)(row - bh * S);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    const int sub = lane & (LPK - 1), grp = lane / LPK;
    const int stride = nwarps * KPW;           /* keys a block covers in one unrolled part of a step */

    int L = T;                                 /* keys 0 .. L-1 are visible */
    if (causal) {
        long long last = (long long)start[0] + i + 1;
        L = last < 0 ? 0 : (last > T ? T : (int)last);
    }
    if (L == 0) {                              /* the steps give NaN: max -inf, exp(NaN), 0 / 0 */
        if (blockIdx.x % CLUSTER == 0)
            for (int d = threadIdx.x; d < D; d += blockDim.x)
                out[row * D + d] = tp_encode(__int_as_float(0x7fc00000));
        return;                                /* every block of the cluster returns here */
    }
#if CLUSTER > 1
    const unsigned int rank = tp_cluster_rank();
    const int per = (L + CLUSTER - 1) / CLUSTER;
    const int lo = (int)rank * per < L ? (int)rank * per : L;
    const int hi = lo + per < L ? lo + per : L;
#else
    const int lo = 0, hi = L;
#endif

    const long long b = bh / H;               /* the query's row: q_b, q_h, q_s chunks apart along B, H, S */
    const uint4* qrow = q + b * q_b + (bh - b * H) * q_h + i * q_s;
    float qr[CPL * VEC];
    #pragma unroll
    for (int m = 0; m < CPL; ++m) tp_unpack(qrow[sub + m * LPK], qr + m * VEC);

    const uint4* kb = k + bh * (long long)T * CH;
    const uint4* vb = v + bh * (long long)T * CH;
#if PREFETCH
    /* The values of this thread's first keys, loaded now: their latency hides behind the scores'. */
    uint4 ahead[UNROLL][CPL];
    #pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
        const int j = lo + warp * KPW + grp + u * stride;
        #pragma unroll
        for (int m = 0; m < CPL; ++m)
            ahead[u][m] = j < hi ? vb[(long long)j * CH + sub + m * LPK] : uint4{0u, 0u, 0u, 0u};
    }
#endif

    /* 1. scores, rounded as the steps round, and their maximum */
    float high = __int_as_float(0xff800000);
    for (int base = lo + warp * KPW; base < hi; base += stride * UNROLL) {   /* uniform across a warp */
        uint4 buf[UNROLL][CPL];
        #pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int j = base + grp + u * stride;
            #pragma unroll
            for (int m = 0; m < CPL; ++m)
                buf[u][m] = j < hi ? kb[(long long)j * CH + sub + m * LPK] : uint4{0u, 0u, 0u, 0u};
        }
        #pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int j = base + grp + u * stride;
            float acc = 0.0f;
            #pragma unroll
            for (int m = 0; m < CPL; ++m) {
                float kf[VEC];
                tp_unpack(buf[u][m], kf);
                #pragma unroll
                for (int e = 0; e < VEC; ++e) acc = fmaf(qr[m * VEC + e], kf[e], acc);
            }
            #pragma unroll
            for (int o = LPK / 2; o; o >>= 1) acc += __shfl_xor_sync(FULL, acc, o);
            const float s = tp_round(__fmul_rn(tp_round(acc), scale));
            if (j < hi) {
                if (sub == 0) scores[j - lo] = s;
                high = tp_max(high, s);
            }
        }
    }
    __syncthreads();
    high = tp_block_reduce(high, 0, scratch);
#if CLUSTER > 1
    if (threadIdx.x == 0) stat[0] = high;
    tp_cluster_sync();
    high = tp_remote(&stat[0], 0);
    for (unsigned int r = 1; r < CLUSTER; ++r) high = tp_max(high, tp_remote(&stat[0], r));
#endif

    /* 2. exp and sum in float32, then the probabilities, rounded to the element type */
    float total = 0.0f;
    for (int j = threadIdx.x; j < hi - lo; j += blockDim.x) {
        const float e = expf(scores[j] - high);
        scores[j] = e;
        total += e;
    }
    total = tp_block_reduce(total, 1, scratch);
#if CLUSTER > 1
    if (threadIdx.x == 0) stat[1] = total;
    tp_cluster_sync();
    total = tp_remote(&stat[1], 0);
    for (unsigned int r = 1; r < CLUSTER; ++r) total += tp_remote(&stat[1], r);
#endif
    for (int j = threadIdx.x; j < hi - lo; j += blockDim.x) scores[j] = tp_round(__fdiv_rn(scores[j], total));
    __syncthreads();

    /* 3. sum_j p_j v_j in float32 */
    float acc[CPL * VEC];
    #pragma unroll
    for (int x = 0; x < CPL * VEC; ++x) acc[x] = 0.0f;
    for (int base = lo + warp * KPW; base < hi; base += stride * UNROLL) {
        uint4 buf[UNROLL][CPL];
        #pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int j = base + grp + u * stride;
            #pragma unroll
            for (int m = 0; m < CPL; ++m) {
#if PREFETCH
                if (base == lo + warp * KPW) {
                    buf[u][m] = ahead[u][m];
                    continue;
                }
#endif
                buf[u][m] = j < hi ? vb[(long long)j * CH + sub + m * LPK] : uint4{0u, 0u, 0u, 0u};
            }
        }
        #pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int j = base + grp + u * stride;
            if (j < hi) {
                const float p = scores[j - lo];
                #pragma unroll
                for (int m = 0; m < CPL; ++m) {
                    float vf[VEC];
                    tp_unpack(buf[u][m], vf);
                    #pragma unroll
                    for (int e = 0; e < VEC; ++e) acc[m * VEC + e] = fmaf(p, vf[e], acc[m * VEC + e]);
                }
            }
        }
    }
    #pragma unroll
    for (int x = 0; x < CPL * VEC; ++x) {
        #pragma unroll
        for (int o = LPK; o < 32; o <<= 1) acc[x] += __shfl_xor_sync(FULL, acc[x], o);
    }
    if (grp == 0) {
        #pragma unroll
        for (int m = 0; m < CPL; ++m) {
            #pragma unroll
            for (int e = 0; e < VEC; ++e) partial[warp * D + (sub + m * LPK) * VEC + e] = acc[m * VEC + e];
        }
    }
    __syncthreads();
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float o = partial[d];
        for (int w = 1; w < nwarps; ++w) o += partial[w * D + d];
#if CLUSTER > 1
        mine[d] = o;
#else
        out[row * D + d] = tp_encode(o);
#endif
    }
#if CLUSTER > 1
    tp_cluster_sync();
    if (rank == 0) {
        for (int d = threadIdx.x; d < D; d += blockDim.x) {
            float o = tp_remote(&mine[d], 0);
            for (unsigned int r = 1; r < CLUSTER; ++r) o += tp_remote(&mine[d], r);
            out[row * D + d] = tp_encode(o);
        }
    }
    tp_cluster_sync();                         /* no block leaves while another reads its shared memory */
#endif
}
"""


def source(dtype: DataType, head_dim: int, cluster: int = 1, prefetch: bool = False) -> str:
    """The CUDA source of the kernel for inputs of ``dtype`` with rows of ``head_dim`` elements, ``cluster``
    blocks per query row (more than 1: a thread block cluster, compute capability 9.0 and later), and with
    ``prefetch``, each thread's first values loaded with its first keys (blocks of at most 512 threads)."""
    kind, size = _KINDS[dtype]
    defines = (
        f"#define KIND {kind}\n#define D {head_dim}\n#define VEC {16 // size}\n#define UNROLL {_UNROLL}\n"
        f"#define CLUSTER {cluster}\n#define PREFETCH {int(prefetch)}\n#define MAX_THREADS {max_threads(prefetch)}\n"
    )
    return defines + DEVICE_FUNCTIONS + _SOURCE


def max_threads(prefetch: bool) -> int:
    """The largest block: prefetched values take registers, so such blocks are at most 512 threads."""
    return 512 if prefetch else 1024


@cache
def _kernel(dtype: DataType, head_dim: int, cluster: int, prefetch: bool) -> cupy.RawKernel:
    """The compiled kernel (NVRTC; CuPy also caches it on disk)."""
    return cupy.RawKernel(source(dtype, head_dim, cluster, prefetch), "tripy_attention")


@cache
def _clusters_supported(device: int) -> bool:
    """Whether the GPU runs thread block clusters (compute capability 9.0 and later)."""
    return int(cupy.cuda.Device(device).compute_capability) >= 90


def supported_head_dim(dtype: DataType, head_dim: int) -> bool:
    """Whether the kernel takes rows of ``head_dim`` elements of ``dtype``: whole 16-byte chunks, a power of
    two of them, at most :data:`_MAX_HEAD_DIM` elements."""
    if dtype not in _KINDS or head_dim <= 0 or head_dim > _MAX_HEAD_DIM:
        return False
    chunks, rest = divmod(head_dim * _KINDS[dtype][1], 16)
    return rest == 0 and chunks & (chunks - 1) == 0


class Launch(NamedTuple):
    """How the kernel runs for one call: ``cluster`` blocks of ``threads`` per query row, each holding
    ``chunk`` scores, with ``shared`` bytes of dynamic shared memory, and values prefetched or not."""

    cluster: int
    threads: int
    chunk: int
    shared: int
    prefetch: bool


def choose_cluster(rows: int, keys: int) -> int:
    """Blocks per query row: 1, or, where few rows would leave most of the GPU idle over a long cache, up to 8
    (a portable cluster size) so that about two blocks run on each multiprocessor."""
    if keys < _CLUSTER_MIN_KEYS:
        return 1
    cluster = 1
    while cluster < 8 and rows * cluster * 2 <= _TARGET_BLOCKS:
        cluster *= 2
    return cluster


@cache
def launch_for(
    rows: int, keys: int, dtype: DataType, head_dim: int, cluster: int, prefetch: bool, threads: int | None = None
) -> Launch | None:
    """The launch of ``rows`` query rows over ``keys`` keys: ``threads`` per block if given, else enough to fill
    the GPU in one wave and no more warps than a block's keys need; shared memory within the default limit
    (None when not even one warp fits)."""
    chunk = -(-keys // cluster)
    width = head_dim * _KINDS[dtype][1] // 16
    keys_per_warp = 32 // min(width, 32) * _UNROLL
    if threads is None:
        threads = max_threads(prefetch)
        while threads > 128 and rows * cluster * threads > _TARGET_THREADS:
            threads //= 2
        while threads > 32 and threads // 2 >= 32 * -(-chunk // keys_per_warp):
            threads //= 2
    threads = min(threads, max_threads(prefetch))

    def shared(threads: int) -> int:
        return 4 * (chunk + (threads // 32 + 1) * head_dim)

    while threads >= 32 and shared(threads) + 256 > _SHARED_LIMIT:
        threads //= 2
    return Launch(cluster, threads, chunk, shared(threads), prefetch) if threads >= 32 else None


@cache
def _scale_in(dtype: DataType, scale: float) -> float:
    """The scale as the steps hold it (a ``Full`` of the inputs' dtype), as a float32-exact number."""
    if dtype is dtypes.float16:
        return float(np.float16(np.float32(scale)))
    if dtype is dtypes.bfloat16:
        return float(np.float32(scale).astype(ml_dtypes.bfloat16))
    return float(np.float32(scale))


def _aligned(x: Any) -> Any:
    """``x`` as a C-contiguous array whose data is 16-byte aligned (a copy from the pool if it is not)."""
    x = cupy.ascontiguousarray(x)
    return x if x.data.ptr % 16 == 0 else x.copy()


def query_layout(q: Any) -> tuple[Any, int, tuple[int, int, int]]:
    """``q`` as the kernel reads it, with H and its strides along B, H and S in 16-byte chunks. A 4-D query whose
    rows are contiguous and 16-byte aligned is read in place (the view of a fused QKV projection that a
    transpose makes); any other is made C-contiguous first."""
    if q.ndim == 4 and q.data.ptr % 16 == 0 and (q.shape[-1] == 1 or q.strides[-1] == q.itemsize):
        strides = [0 if n == 1 else st for n, st in zip(q.shape[:-1], q.strides[:-1], strict=True)]
        if all(st % 16 == 0 for st in strides):
            return q, q.shape[1], (strides[0] // 16, strides[1] // 16, strides[2] // 16)
    q = _aligned(q)
    chunks = q.shape[-1] * q.itemsize // 16
    return q, 1, (q.shape[-2] * chunks, 0, chunks)


class AttentionKernel:
    """The kernel of :class:`Attention` on the GPU (``kernel(prim, q, k, v[, start])``): the fused kernel
    where it applies, the primitive's steps elsewhere. ``stats`` counts the calls of each."""

    def __init__(self) -> None:
        self.steps = fused_kernel(KERNELS, logical_dtype)
        self.use_kernel = True  #: set False to run the steps always (for comparisons)
        #: Blocks per query row: None chooses (:func:`choose_cluster`); 1 never splits a row. Above 1 only on
        #: GPUs with thread block clusters.
        self.cluster: int | None = None
        #: Threads per block: None chooses (:func:`launch_for`); a power of two from 32 to 1024 forces it.
        self.threads: int | None = None
        #: Load each thread's first values with its first keys: None chooses, True or False forces it (rows of
        #: more than 512 bytes never prefetch).
        self.prefetch: bool | None = None
        self.stats = {"kernel": 0, "cluster": 0, "steps": 0}

    def plan(self, q: Any, k: Any, v: Any, start: Any | None) -> Launch | None:
        """The launch of the fused kernel for these arrays, or None where it does not take them."""
        dtype = logical_dtype(q)
        head_dim = q.shape[-1]
        if not self.use_kernel or logical_dtype(k) is not dtype or logical_dtype(v) is not dtype:
            return None
        if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim or q.shape[:-2] != k.shape[:-2]:
            return None
        if v.shape != k.shape or k.shape[-1] != head_dim or not supported_head_dim(dtype, head_dim):
            return None
        if start is not None and (start.dtype != np.int32 or start.size != 1):
            return None
        rows, keys = math.prod(q.shape[:-1]), k.shape[-2]
        if rows == 0 or keys == 0 or rows * 8 >= 2**31 or keys >= 2**30:
            return None
        cluster = choose_cluster(rows, keys) if self.cluster is None else max(1, min(8, self.cluster))
        if cluster > 1 and not _clusters_supported(cupy.cuda.Device().id):
            cluster = 1
        prefetch = _PREFETCH if self.prefetch is None else self.prefetch
        prefetch = prefetch and head_dim * _KINDS[dtype][1] <= 512
        return launch_for(rows, keys, dtype, head_dim, cluster, prefetch, self.threads)

    def __call__(self, p: Attention, q: Any, k: Any, v: Any, *rest: Any) -> Any:
        """``softmax(mask(q @ k^T * scale)) @ v`` as :class:`Attention` ``p`` defines it."""
        start = rest[0] if p.causal else None
        launch = self.plan(q, k, v, start)
        if launch is None:
            self.stats["steps"] += 1
            return self.steps(p, q, k, v, *rest)
        self.stats["kernel"] += 1
        self.stats["cluster"] += launch.cluster > 1
        dtype = logical_dtype(q)
        rows = math.prod(q.shape[:-1])
        out = cupy.empty(q.shape, dtype=q.dtype)
        # Without causal the kernel never reads `start`: any device pointer does.
        start = out if start is None else cupy.ascontiguousarray(start)
        query, heads, (q_b, q_h, q_s) = query_layout(q)
        _kernel(dtype, q.shape[-1], launch.cluster, launch.prefetch)(
            (rows * launch.cluster,),
            (launch.threads,),
            (
                query,
                _aligned(k),
                _aligned(v),
                start,
                out,
                np.int32(q.shape[-2]),
                np.int32(k.shape[-2]),
                np.int32(launch.chunk),
                np.float32(_scale_in(dtype, p.scale)),
                np.int32(p.causal),
                np.int32(heads),
                np.int64(q_b),
                np.int64(q_h),
                np.int64(q_s),
            ),
            shared_mem=launch.shared,
        )
        return out
