"""Floating-point matrix products through cuBLAS on a handle of tripy's own, so they can be captured.

CuPy's own matmul refuses to run while a stream is captured into a CUDA graph (its binding raises
before cuBLAS is called), although cuBLAS itself supports capture. This calls
``cublasGemmStridedBatchedEx`` through ctypes on one handle per thread, bound to the current stream
with a workspace of its own (cuBLAS must not allocate while a stream is captured). float16 and
float32 operands accumulate in float32 (no TF32), as CuPy's matmul does.
"""

from __future__ import annotations

import ctypes
import math
import threading
from functools import cache
from typing import Any

import cupy
import numpy as np

_OP_N = 0
_OP_T = 1
_POINTER_MODE_HOST = 0
_COMPUTE_32F = 68
_GEMM_DEFAULT_TENSOR_OP = 99
_CUDA_TYPES = {np.dtype(np.float32): 0, np.dtype(np.float16): 2}
_WORKSPACE_BYTES = 32 << 20
_ONE = np.ones((), np.float32)
_ZERO = np.zeros((), np.float32)


@cache
def _library() -> ctypes.CDLL:
    """The cuBLAS that CuPy loaded (the same library, so one CUDA context and one version)."""
    from cupy_backends.cuda.libs import cublas  # noqa: F401 - loads libcublas into the process

    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "libcublas.so" in line and "Lt" not in line})
    if not paths:
        raise RuntimeError("libcublas is not loaded in this process")
    lib = ctypes.CDLL(paths[0])
    lib.cublasCreate_v2.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.cublasSetStream_v2.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.cublasSetWorkspace_v2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    lib.cublasSetPointerMode_v2.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.cublasGemmStridedBatchedEx.argtypes = [
        ctypes.c_void_p,  # handle
        ctypes.c_int, ctypes.c_int,  # transa, transb
        ctypes.c_int, ctypes.c_int, ctypes.c_int,  # m, n, k
        ctypes.c_void_p,  # alpha
        ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_longlong,  # A, type, lda, stride
        ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_longlong,  # B, type, ldb, stride
        ctypes.c_void_p,  # beta
        ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_longlong,  # C, type, ldc, stride
        ctypes.c_int, ctypes.c_int, ctypes.c_int,  # batch count, compute type, algorithm
    ]  # fmt: skip
    lib.cublasGemmEx.argtypes = [
        ctypes.c_void_p,  # handle
        ctypes.c_int, ctypes.c_int,  # transa, transb
        ctypes.c_int, ctypes.c_int, ctypes.c_int,  # m, n, k
        ctypes.c_void_p,  # alpha
        ctypes.c_void_p, ctypes.c_int, ctypes.c_int,  # A, type, lda
        ctypes.c_void_p, ctypes.c_int, ctypes.c_int,  # B, type, ldb
        ctypes.c_void_p,  # beta
        ctypes.c_void_p, ctypes.c_int, ctypes.c_int,  # C, type, ldc
        ctypes.c_int, ctypes.c_int,  # compute type, algorithm
    ]  # fmt: skip
    return lib


class _Handles(threading.local):
    def __init__(self) -> None:
        self.handle: ctypes.c_void_p | None = None
        self.workspaces: dict[int, cupy.ndarray] = {}


_handles = _Handles()


def _check(status: int, what: str) -> None:
    if status != 0:
        raise RuntimeError(f"cuBLAS {what} failed with status {status}")


def _handle_on_current_stream() -> ctypes.c_void_p:
    lib = _library()
    if _handles.handle is None:
        handle = ctypes.c_void_p()
        _check(lib.cublasCreate_v2(ctypes.byref(handle)), "cublasCreate")
        _check(lib.cublasSetPointerMode_v2(handle, _POINTER_MODE_HOST), "cublasSetPointerMode")
        _handles.handle = handle
    stream = cupy.cuda.get_current_stream().ptr
    workspace = _handles.workspaces.get(stream)
    if workspace is None:
        workspace = _handles.workspaces[stream] = cupy.empty(_WORKSPACE_BYTES, dtype=np.uint8)
    _check(lib.cublasSetStream_v2(_handles.handle, stream), "cublasSetStream")
    _check(lib.cublasSetWorkspace_v2(_handles.handle, workspace.data.ptr, _WORKSPACE_BYTES), "cublasSetWorkspace")
    return _handles.handle


def supports(a: Any, b: Any) -> bool:
    """Whether :func:`gemm` takes these operands: float16 or float32 of one type, rank >= 2, and batch
    dimensions that are equal or that one operand lacks (all 1)."""
    if a.dtype != b.dtype or a.dtype not in _CUDA_TYPES or a.ndim < 2 or a.ndim != b.ndim:
        return False
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    return batch_a == batch_b or math.prod(batch_a) == 1 or math.prod(batch_b) == 1


def operand_layout(x: Any) -> tuple[Any, bool]:
    """``x`` as cuBLAS can read it: itself if row-major, itself marked transposed if it is the transpose of
    a row-major array (a weight ``W.T``: no copy), else a row-major copy."""
    if x.flags.c_contiguous:
        return x, False
    if x.swapaxes(-1, -2).flags.c_contiguous:
        return x, True
    return cupy.ascontiguousarray(x), False


def gemm(a: Any, b: Any) -> Any:
    """The row-major matrix product ``a @ b`` of the last two dimensions (see :func:`supports`); operands
    that are transposes of row-major arrays are read as such, without a copy."""
    if a.ndim > 2 and math.prod(b.shape[:-2]) == 1 and a.flags.c_contiguous:
        # One weight for every batch: the batch is more rows of one product (the weight is read once).
        out = gemm(a.reshape(-1, a.shape[-1]), b.reshape(b.shape[-2:]))
        return out.reshape(*a.shape[:-1], b.shape[-1])
    (a, a_t), (b, b_t) = operand_layout(a), operand_layout(b)
    m, k = a.shape[-2:]
    n = b.shape[-1]
    batch_a, batch_b = math.prod(a.shape[:-2]), math.prod(b.shape[:-2])
    batch_shape = a.shape[:-2] if batch_a >= batch_b else b.shape[:-2]
    out = cupy.empty((*batch_shape, m, n), dtype=a.dtype)
    count = max(batch_a, batch_b)
    if out.size == 0:
        return out
    if k == 0:
        out.fill(0)
        return out
    kind = _CUDA_TYPES[a.dtype]
    handle, lib = _handle_on_current_stream(), _library()
    # Row-major (m, n) = a (m, k) @ b (k, n) is column-major (n, m) = b' (n, k) @ a' (k, m). A transposed
    # operand's memory is already that matrix in column-major order: cuBLAS transposes it back.
    op_b, ld_b = (_OP_T, k) if b_t else (_OP_N, n)
    op_a, ld_a = (_OP_T, m) if a_t else (_OP_N, k)
    if count == 1:
        status = lib.cublasGemmEx(
            handle, op_b, op_a, n, m, k, _ONE.ctypes.data, b.data.ptr, kind, ld_b, a.data.ptr, kind, ld_a,
            _ZERO.ctypes.data, out.data.ptr, kind, n, _COMPUTE_32F, _GEMM_DEFAULT_TENSOR_OP,
        )  # fmt: skip
        _check(status, "cublasGemmEx")
        return out
    status = lib.cublasGemmStridedBatchedEx(
        handle, op_b, op_a, n, m, k, _ONE.ctypes.data,
        b.data.ptr, kind, ld_b, k * n if batch_b > 1 else 0,
        a.data.ptr, kind, ld_a, m * k if batch_a > 1 else 0,
        _ZERO.ctypes.data, out.data.ptr, kind, n, m * n, count, _COMPUTE_32F, _GEMM_DEFAULT_TENSOR_OP,
    )  # fmt: skip
    _check(status, "cublasGemmStridedBatchedEx")
    return out
