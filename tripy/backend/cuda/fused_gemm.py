"""The fused int8 Linear kernel for Hopper GPUs: int8 GEMM with the scales and bias in its epilogue.

``csrc/int8_linear_sm90.cu`` instantiates CUTLASS 3 kernels (TMA, ``wgmma``, warp-specialized) computing
``out[m, n] = alpha[n] * sum_k a[m, k] * w[n, k] + bias[n]`` with exact int32 accumulation and a float16,
bfloat16 or float32 output, so the int32 accumulators never travel through device memory. It is built
ahead of time (``tools/build_int8_linear.py``) into ``lib/libtripy_int8_linear_sm90.so``, which links the
CUDA runtime statically and needs only the driver. :func:`kernel` returns None where it cannot run (no such
library, another GPU generation, or ``TRIPY_CUDA_FUSED_INT8=0``); the caller then keeps its three-kernel path.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import cupy

_DIR = Path(__file__).parent
SOURCE = _DIR / "csrc" / "int8_linear_sm90.cu"
LIBRARY = _DIR / "lib" / "libtripy_int8_linear_sm90.so"
#: Output types the kernels store, by the name the raw kernels use.
OUT_KINDS = {"float16": 0, "bfloat16": 1, "float32": 2}
#: The library's tile configurations, by the number it gives them (see ``choose`` in the source).
CONFIGS = (
    "64x128 ping-pong",
    "128x128 ping-pong",
    "128x128 ping-pong, 2x1 clusters",
    "128x256 cooperative, 2x1 clusters",
)
#: The CUDA runtime linked into the library (13.0): the driver must support at least this version.
_CUDA_RUNTIME = 13000


def source_digest() -> str:
    """SHA-256 of the kernel source: the build records it in the library, and loading checks it."""
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


class FusedInt8Linear:
    """The loaded library: checks shapes, keeps the workspace, and enqueues products on the current stream."""

    def __init__(self, lib: ctypes.CDLL, sm_count: int) -> None:
        self._lib = lib
        self._sm_count = sm_count
        lib.tripy_int8_linear.restype = ctypes.c_int
        lib.tripy_int8_linear.argtypes = [
            ctypes.c_int,
            *[ctypes.c_void_p] * 5,
            *[ctypes.c_int] * 3,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_int,
            ctypes.c_void_p,
        ]
        lib.tripy_int8_linear_config.restype = ctypes.c_int
        lib.tripy_int8_linear_config.argtypes = [ctypes.c_int] * 3
        lib.tripy_int8_linear_workspace.restype = ctypes.c_int
        lib.tripy_int8_linear_workspace.argtypes = [*[ctypes.c_int] * 5, ctypes.POINTER(ctypes.c_size_t)]
        self._workspace_bytes: dict[tuple, int] = {}
        self._workspaces: dict[tuple[int, int], cupy.ndarray] = {}
        self._launchers: dict[tuple, Callable[..., None]] = {}

    def config(self, rows: int, n: int) -> str:
        """The name of the tile configuration the library picks for ``rows`` x ``n`` outputs on this GPU."""
        return CONFIGS[self._lib.tripy_int8_linear_config(rows, n, self._sm_count)]

    @staticmethod
    def supports(n: int, k: int, out_dtype_name: str) -> bool:
        """Whether the kernel's alignment rules hold: rows of 16 bytes for the int8 operands and the output."""
        itemsize = 4 if out_dtype_name == "float32" else 2
        return out_dtype_name in OUT_KINDS and k % 16 == 0 and (n * itemsize) % 16 == 0 and n > 0 and k > 0

    def _workspace(self, kind: int, m: int, n: int, k: int, stream_ptr: int) -> tuple[int, int]:
        key = (kind, m, n, k)
        size = self._workspace_bytes.get(key)
        if size is None:
            out = ctypes.c_size_t(0)
            if self._lib.tripy_int8_linear_workspace(kind, m, n, k, self._sm_count, ctypes.byref(out)):
                raise RuntimeError("fused int8 kernel: no workspace size")
            if len(self._workspace_bytes) >= 1024:
                self._workspace_bytes.clear()
            size = self._workspace_bytes[key] = out.value
        if size == 0:
            return 0, 0
        import cupy

        # One workspace per thread and stream: kernels of one stream run in order, so each may reuse it.
        where = (threading.get_ident(), stream_ptr)
        buf = self._workspaces.get(where)
        if buf is None or buf.nbytes < size:
            buf = self._workspaces[where] = cupy.empty(size, dtype=np.uint8)
        return buf.data.ptr, buf.nbytes

    def __call__(
        self,
        a: cupy.ndarray,
        rows: int,
        w: cupy.ndarray,
        alpha: cupy.ndarray,
        bias: cupy.ndarray | None,
        out: cupy.ndarray,
        out_dtype_name: str,
        stream_ptr: int | None = None,
    ) -> None:
        """``out = alpha * (a[:rows] @ w.T) + bias`` for C-contiguous int8 ``a`` (>= rows, K) and ``w`` (N, K),
        float32 ``alpha`` (N,), ``bias`` (N,) of the output type or None, and a C-contiguous ``out`` (rows, N),
        queued on the stream ``stream_ptr`` (by default the current one)."""
        import cupy

        if stream_ptr is None:
            stream_ptr = cupy.cuda.get_current_stream().ptr
        n, k = w.shape
        launch = self.launcher(rows, n, k, out_dtype_name, stream_ptr)
        launch(a.data.ptr, w.data.ptr, out.data.ptr, alpha.data.ptr, bias.data.ptr if bias is not None else None)

    def launcher(self, rows: int, n: int, k: int, out_dtype_name: str, stream_ptr: int) -> Callable[..., None]:
        """:meth:`__call__` for one shape and stream, given the pointers ``(a, w, out, alpha, bias or None)``
        (kept for the calling thread when the product needs no workspace: a workspace may be reallocated)."""
        key = (rows, n, k, out_dtype_name, stream_ptr, threading.get_ident())
        launch = self._launchers.get(key)
        if launch is None:
            kind = OUT_KINDS[out_dtype_name]
            ws_ptr, ws_bytes = self._workspace(kind, rows, n, k, stream_ptr)
            fn, sms = self._lib.tripy_int8_linear, self._sm_count

            def launch(a: int, w: int, out: int, alpha: int, bias: int | None) -> None:
                status = fn(kind, a, w, out, alpha, bias, rows, n, k, ws_ptr, ws_bytes, sms, stream_ptr)
                if status:
                    raise RuntimeError(f"fused int8 kernel failed with code {status} for M={rows} N={n} K={k}")

            if ws_bytes == 0:
                if len(self._launchers) >= 256:
                    self._launchers.clear()
                self._launchers[key] = launch
        return launch


@cache
def kernel() -> FusedInt8Linear | None:
    """The fused kernel for the current GPU, or None where it cannot run (the caller keeps its other path)."""
    if os.environ.get("TRIPY_CUDA_FUSED_INT8", "1") == "0" or not LIBRARY.exists():
        return None
    import cupy

    device = cupy.cuda.Device()
    if device.compute_capability != "90":  # sm_90a machine code: Hopper only
        return None
    if cupy.cuda.runtime.driverGetVersion() < _CUDA_RUNTIME:  # the static runtime needs a CUDA 13 driver
        return None
    lib = ctypes.CDLL(str(LIBRARY))
    lib.tripy_int8_linear_source.restype = ctypes.c_char_p
    built_from = lib.tripy_int8_linear_source().decode()
    if built_from != source_digest():
        raise RuntimeError(
            f"{LIBRARY} was built from another version of {SOURCE.name}; rebuild it with "
            "tools/build_int8_linear.py (or set TRIPY_CUDA_FUSED_INT8=0)"
        )
    return FusedInt8Linear(lib, device.attributes["MultiProcessorCount"])
