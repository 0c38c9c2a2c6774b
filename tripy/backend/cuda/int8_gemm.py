"""Exact int8 x int8 -> int32 matrix products on tensor cores through cuBLAS (``cublasGemmEx``).

cuBLAS wants int8 dimensions and leading dimensions that are multiples of 4; other shapes are padded
with zeros, which leaves every sum exact.
"""

from __future__ import annotations

import cupy
import numpy as np
from cupy_backends.cuda.libs import cublas

_CUDA_R_8I = 3
_CUDA_R_32I = 10
_COMPUTE_32I = getattr(cublas, "CUBLAS_COMPUTE_32I", 72)
_GEMM_DEFAULT = -1
_OP_N, _OP_T = 0, 1
_POINTER_MODE_HOST = getattr(cublas, "CUBLAS_POINTER_MODE_HOST", 0)
_ONE = np.ones((), dtype=np.int32)
_ZERO = np.zeros((), dtype=np.int32)


def round_up4(n: int) -> int:
    return (n + 3) // 4 * 4


def padded(a: cupy.ndarray, rows: int, cols: int) -> cupy.ndarray:
    """``a`` as a C-contiguous (rows, cols) matrix, zero-padded at the end of each dimension."""
    if a.shape == (rows, cols):
        return cupy.ascontiguousarray(a)
    out = cupy.zeros((rows, cols), dtype=a.dtype)
    out[: a.shape[0], : a.shape[1]] = a
    return out


def int8_gemm_padded(a: cupy.ndarray, w: cupy.ndarray, out: cupy.ndarray | None = None) -> cupy.ndarray:
    """int32 ``a @ w.T`` of C-contiguous int8 ``a`` (M, K) and ``w`` (N, K), all multiples of 4."""
    m, k = a.shape
    n = w.shape[0]
    if out is None:
        out = cupy.empty((m, n), dtype=np.int32)
    handle = cupy.cuda.device.get_cublas_handle()
    cublas.setPointerMode(handle, _POINTER_MODE_HOST)
    # Row-major out (M, N) is column-major (N, M) = w (col-major K x N, transposed) times a (K x M).
    cublas.gemmEx(
        handle, _OP_T, _OP_N, n, m, k, _ONE.ctypes.data, w.data.ptr, _CUDA_R_8I, k,
        a.data.ptr, _CUDA_R_8I, k, _ZERO.ctypes.data, out.data.ptr, _CUDA_R_32I, n, _COMPUTE_32I, _GEMM_DEFAULT,
    )  # fmt: skip
    return out


def int8_gemm(a: cupy.ndarray, w: cupy.ndarray) -> cupy.ndarray:
    """Exact int32 ``a @ w.T`` of int8 ``a`` (M, K) and ``w`` (N, K) of any shape (zero-padded if needed)."""
    m, k = a.shape
    n = w.shape[0]
    out = int8_gemm_padded(padded(a, round_up4(m), round_up4(k)), padded(w, round_up4(n), round_up4(k)))
    return out if out.shape == (m, n) else out[:m, :n]
