"""The fused int8 Linear (:class:`~tripy.trace.primitives.Int8Linear`) on the GPU: an int8 GEMM on tensor cores.

The rewrite in :mod:`tripy.trace.fusions` finds the pattern; this module only supplies its kernel. It
quantizes ``x`` into an int8 matrix with one kernel, then, on Hopper GPUs where the shapes allow
(:mod:`.fused_gemm`), runs one int8 GEMM whose epilogue applies ``sx * sw[n]`` and the bias; elsewhere one
cuBLAS int8 x int8 -> int32 GEMM (:mod:`.int8_gemm`) and one epilogue kernel. The quantized weight is
cached, keyed by the weight value's identity and its scale's, and dropped when either is freed. Without
``sx`` (weight-only int8) the input is not quantized, so the product stays in floating point: up to
:data:`~tripy.backend.cuda.w8a16_gemv.MAX_ROWS` rows (decoding), :mod:`.w8a16_gemv` reads the cached int8
weight and dequantizes it in registers (half the bytes of a float16 weight); for more rows the weight,
dequantized once to the Linear's type and cached too, goes to a float GEMM.
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from typing import Any

import cupy
import numpy as np

from tripy import dtypes
from tripy.backend.base import Kernel
from tripy.backend.cuda import fused_gemm, int8_kernels, w8a16_gemv
from tripy.backend.cuda.int8_gemm import int8_gemm_padded, padded, round_up4
from tripy.backend.cuda.kernels import KERNELS, cast_array, scale_for
from tripy.backend.cuda.storage import logical_dtype, storage_dtype
from tripy.trace.primitives import Binary, BinaryOp, Dequantize, Gelu, Int8Linear, Matmul, Quantize

_FLOATS = {dtypes.float32: "float32", dtypes.float16: "float16", dtypes.bfloat16: "bfloat16"}
_F32 = np.dtype(np.float32)
#: Per-call temporaries up to this size are reused between calls (same thread and stream, so in order).
_SCRATCH_MAX_BYTES = 32 << 20
_ADD = Binary(BinaryOp.ADD)


class _CachedWeight:
    """A quantized weight (for weight-only int8 also, once needed, dequantized), alive while its weight and
    scale values are."""

    __slots__ = ("refs", "int8", "scale", "dequantized", "gemv_int8")

    def __init__(self, refs, int8=None, scale=None, dequantized=None):
        self.refs, self.int8, self.scale, self.dequantized = refs, int8, scale, dequantized
        self.gemv_int8: Any = None  #: for input-scaled Linears, the weight as the few-row kernel reads it

    def alive(self, weight, scale) -> bool:
        return self.refs[0]() is weight and self.refs[1]() is scale


class Int8LinearKernel:
    """The kernel of :class:`Int8Linear` on the GPU: ``kernel(prim, *arrays)``, with its weight cache."""

    def __init__(self, gelu: Kernel) -> None:
        #: The :class:`~tripy.trace.primitives.Gelu` kernel, for a GELU that the W8A16 epilogue does not take.
        self.gelu = gelu
        self.cache: dict[tuple, _CachedWeight] = {}
        self.use_fused_kernel = True  #: set False to keep the cuBLAS GEMM + epilogue kernel (for comparisons)
        #: set False to keep few-row Linears on the float GEMM (weight-only) or quantize + int8 GEMM path
        #: (for comparisons)
        self.use_w8a16 = True
        self.fused_failed = False  #: the Hopper kernel failed once (it is not tried again)
        self.w8a16_failed = False  #: the W8A16 kernel failed to build or launch once (it is not tried again)
        self.w8a8_failed = False  #: the same for the few-row kernel of input-scaled Linears
        self.stats = {
            "fused": 0,
            "fused_kernel": 0,
            "weight_only": 0,
            "w8a16": 0,
            "w8a8": 0,
            "cache_hits": 0,
            "cache_misses": 0,
        }
        self._scratches: dict[tuple, cupy.ndarray] = {}
        self._hoppers: dict[tuple, tuple | None] = {}

    def _scratch(self, shape: tuple[int, ...], dtype, stream: Any) -> cupy.ndarray:
        """A temporary of ``shape`` for work queued on ``stream``: small ones are reused, which is safe because
        the kernels of one thread's stream run in order and each temporary dies within the call that fills
        it. They are kept by the stream object, not its handle: a handle is reused once its stream is gone,
        and the temporaries of a graph's stream come from that graph's memory pool."""
        key = (threading.get_ident(), stream, shape, dtype)
        buf = self._scratches.get(key)
        if buf is None:
            buf = cupy.empty(shape, dtype=dtype)
            if buf.nbytes > _SCRATCH_MAX_BYTES:
                return buf
            if len(self._scratches) >= 32:
                self._scratches.clear()
            self._scratches[key] = buf
        return buf

    # -- weights -------------------------------------------------------------------------------------
    def _weight(self, p: Int8Linear, w_value: Any, s_value: Any, n: int) -> _CachedWeight:
        """The cached prepared weight (prepared now on a miss)."""
        key = (id(w_value), id(s_value), p.weight_axis, p.weight_kn, p.input_scaled, p.dtype)
        entry = self.cache.get(key)
        if entry is not None and entry.alive(w_value, s_value):
            self.stats["cache_hits"] += 1
            return entry
        self.stats["cache_misses"] += 1
        q = KERNELS[Quantize](Quantize(dtypes.int8, p.weight_axis), w_value, s_value)
        if not p.input_scaled:  # (N, K) int8 padded for the w8a16 kernels; the scale per output channel
            q_nk = q.T if p.weight_kn else q
            scale = scale_for(s_value, (n,), 0 if p.weight_axis is not None else None)
            entry = _CachedWeight(
                None,
                int8=w8a16_gemv.prepare_weight(q_nk),
                scale=cupy.ascontiguousarray(cupy.broadcast_to(scale, (n,)), dtype=np.float32),
            )
        else:
            if p.weight_kn:
                q = q.T
            k = q.shape[1]
            scale = scale_for(s_value, (n,), 0 if p.weight_axis is not None else None)
            entry = _CachedWeight(
                None,
                int8=padded(q, round_up4(n), round_up4(k)),
                scale=cupy.ascontiguousarray(cupy.broadcast_to(scale, (n,)), dtype=np.float32),
            )
        try:
            entry.refs = (weakref.ref(w_value, self._forget(key)), weakref.ref(s_value, self._forget(key)))
        except TypeError:  # not weak-referenceable: keep it for this call only
            return entry
        self.cache[key] = entry
        return entry

    @staticmethod
    def _dequantized(entry: _CachedWeight, p: Int8Linear, n: int, k: int) -> cupy.ndarray:
        """The weight-only entry's weight dequantized to ``p.dtype`` as (K, N), made on first use."""
        if entry.dequantized is None:
            # A per-tensor scale was broadcast to (n,): scaling each row by it is the same product.
            deq = KERNELS[Dequantize](Dequantize(p.dtype, 0), entry.int8[:n, :k], entry.scale)
            entry.dequantized = cupy.ascontiguousarray(deq.T)
        return entry.dequantized

    def _few_rows_w8a8(
        self, x2: cupy.ndarray, s_x: cupy.ndarray, entry: _CachedWeight, bias: Any, n: int, k: int
    ) -> cupy.ndarray | None:
        """The input-scaled Linear on few rows in one kernel (``x`` quantized in it), or None where that
        kernel cannot run (then the quantize + int8 GEMM path does)."""
        if not w8a16_gemv.w8a8_supported():
            return None
        if entry.gemv_int8 is None:
            entry.gemv_int8 = w8a16_gemv.prepare_weight(entry.int8[:n, :k])
        try:
            out = w8a16_gemv.w8a8_gemv(
                cupy.ascontiguousarray(x2),
                _FLOATS[logical_dtype(x2)],
                s_x.reshape(1),
                entry.gemv_int8,
                entry.scale,
                None if bias is None else cupy.ascontiguousarray(bias),
                n,
            )
        except (RuntimeError, cupy.cuda.compiler.CompileException) as exc:
            self.w8a8_failed = True
            warnings.warn(
                f"tripy: the few-row int8 kernel failed ({exc}); using the int8 GEMM from now on",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        self.stats["w8a8"] += 1
        return out

    def _forget(self, key: tuple):
        cache = self.cache

        def drop(_ref) -> None:
            cache.pop(key, None)

        return drop

    def _w8a16(
        self,
        x: cupy.ndarray,
        out_dtype: dtypes.DataType,
        entry: Any,
        bias: cupy.ndarray | None,
        n: int,
        residual: cupy.ndarray | None = None,
        gelu: bool = False,
    ) -> cupy.ndarray | None:
        """The W8A16 GEMV of ``x`` (rows, K) (None if it failed: the float GEMM from now on)."""
        try:
            out = w8a16_gemv.gemv(
                x,
                _FLOATS[out_dtype],
                entry.int8,
                entry.scale,
                None if bias is None else cupy.ascontiguousarray(bias),
                n,
                residual=residual,
                gelu=gelu,
            )
        except (RuntimeError, cupy.cuda.compiler.CompileException) as exc:  # stay on the float GEMM
            self.w8a16_failed = True
            warnings.warn(
                f"tripy: the W8A16 kernel failed ({exc}); using a float GEMM from now on", RuntimeWarning, stacklevel=3
            )
            return None
        self.stats["w8a16"] += 1
        return out

    def _with_epilogue(self, p: Int8Linear, x: Any, entry: Any, bias: Any, n: int, residual: Any) -> Any:
        """A weight-only Linear with its GELU and ``residual`` (or None) in the W8A16 kernel's epilogue, where
        that kernel takes them (few rows, float16/bfloat16); else None."""
        if p.input_scaled or not self.use_w8a16 or self.w8a16_failed or logical_dtype(x) is not p.dtype:
            return None
        k, rows = x.shape[-1], math.prod(x.shape[:-1])
        if not (0 < rows <= w8a16_gemv.MAX_ROWS and k > 0):
            return None
        x2 = cupy.ascontiguousarray(x.reshape(rows, k))
        if not w8a16_gemv.supports(x2, _FLOATS[p.dtype], entry.int8, epilogue=True):
            return None
        if residual is not None:
            residual = cupy.ascontiguousarray(residual.reshape(rows, n))
        self.stats["weight_only"] += 1
        out = self._w8a16(x2, p.dtype, entry, bias, n, residual, p.gelu)
        return None if out is None else out.reshape(*x.shape[:-1], n)

    # -- the kernel ----------------------------------------------------------------------------------------
    def __call__(self, p: Int8Linear, *args: Any) -> Any:
        """``x @ W.T (+ bias)`` as :class:`Int8Linear` ``p`` defines it, on arrays ``args`` in its input order;
        with ``p.gelu`` the GELU and with ``p.residual`` the last argument added, in the W8A16 kernel's
        epilogue where it takes them, else by the GELU kernel and one add after the product."""
        values = iter(args)
        x = next(values)
        s_x = next(values) if p.input_scaled else None
        w_value, s_w = next(values), next(values)
        bias = next(values) if p.biased else None
        residual = next(values) if p.residual else None
        n = w_value.shape[1] if p.weight_kn else w_value.shape[0]
        entry = self._weight(p, w_value, s_w, n)
        if bias is not None and logical_dtype(bias) is not p.dtype:
            bias = cast_array(bias, p.dtype)
        if p.gelu or residual is not None:
            out = self._with_epilogue(p, x, entry, bias, n, residual)
            if out is not None:
                return out
        out = self._linear(p, x, s_x, entry, bias, n)
        if p.gelu:
            out = self.gelu(Gelu(), out)
        return out if residual is None else KERNELS[Binary](_ADD, residual, out)

    def _hopper(self, rows: int, n: int, k: int, x_name: str, out_name: str, stream: Any) -> tuple | None:
        """For the Hopper kernel, on this stream: the quantize launch, the GEMM launch, and the int8 input
        (None for a large one) and ``sx * sw`` buffers they share (reused: the stream runs them in order), or
        None where that kernel does not take these shapes. Worked out once per shape."""
        fused = fused_gemm.kernel()
        if fused is None:
            return None
        key = (id(fused), rows, n, k, x_name, out_name, stream, threading.get_ident())
        found = self._hoppers.get(key)
        if found is not None:
            return found
        if not fused.supports(n, k, out_name) or rows == 0:
            return None
        padded_rows = round_up4(rows)
        held = padded_rows * k <= _SCRATCH_MAX_BYTES  # a large input's int8 copy is made by each call
        found = (
            int8_kernels.quantize_launch(rows, k, x_name, n),
            fused.launcher(rows, n, k, out_name, stream.ptr),
            self._scratch((padded_rows, k), np.int8, stream) if held else None,
            self._scratch((n,), np.float32, stream),
        )
        if len(self._hoppers) >= 64:
            self._hoppers.clear()
        self._hoppers[key] = found
        return found

    def _linear(self, p: Int8Linear, x: Any, s_x: Any, entry: Any, bias: Any, n: int) -> Any:
        """The product and the bias (``bias`` already of the result's type)."""
        out_shape = (*x.shape[:-1], n)
        k = x.shape[-1]
        rows = math.prod(x.shape[:-1])
        out_dtype = p.dtype
        if s_x is None:  # weight-only: int8 weight x float activations
            self.stats["weight_only"] += 1
            x = x if logical_dtype(x) is out_dtype else cast_array(x, out_dtype)
            if self.use_w8a16 and not self.w8a16_failed and 0 < rows <= w8a16_gemv.MAX_ROWS and k > 0:
                out = self._w8a16(cupy.ascontiguousarray(x.reshape(rows, k)), out_dtype, entry, bias, n)
                if out is not None:
                    return out.reshape(out_shape)
            out = KERNELS[Matmul](Matmul(), x.reshape(rows, k), self._dequantized(entry, p, n, k))
            if bias is not None:
                out = KERNELS[Binary](_ADD, out, bias.reshape(1, -1))
            return out.reshape(out_shape)
        self.stats["fused"] += 1
        s_x = s_x if s_x.dtype == _F32 else scale_for(s_x, (), None)
        few = self.use_w8a16 and not self.w8a8_failed and 0 < rows <= w8a16_gemv.W8A8_MAX_ROWS and k > 0
        if few and logical_dtype(x) is out_dtype:
            out = self._few_rows_w8a8(x.reshape(rows, k), s_x, entry, bias, n, k)
            if out is not None:
                return out.reshape(out_shape)
        w_q = entry.int8
        x_name = _FLOATS[logical_dtype(x)]
        x2 = _aligned(x if x.ndim == 2 else x.reshape(rows, k))
        padded_rows = round_up4(rows)
        if bias is not None:
            bias = _aligned(bias)
        out_name = _FLOATS[out_dtype]
        stream = cupy.cuda.get_current_stream()
        fused = self.use_fused_kernel and not self.fused_failed and w_q.shape == (n, k)
        hopper = self._hopper(rows, n, k, x_name, out_name, stream) if fused else None
        if hopper is not None:
            quantize, gemm, x_q, alpha = hopper
            if x_q is None:
                x_q = cupy.empty((padded_rows, k), dtype=np.int8)
            out = cupy.empty((rows, n), dtype=storage_dtype(out_dtype))
            # The kernel's sx * sw[n], written by the quantize kernel on this call's stream (sx may be a
            # shared buffer that changes between calls, so it is formed every time).
            quantize(x2, s_x, x_q, entry.scale, alpha)
            try:
                gemm(x_q.data.ptr, w_q.data.ptr, out.data.ptr, alpha.data.ptr, None if bias is None else bias.data.ptr)
            except RuntimeError as exc:  # e.g. a driver older than the library's CUDA runtime: stay on cuBLAS
                self.fused_failed = True
                warnings.warn(
                    f"tripy: the Hopper int8 kernel failed ({exc}); using cuBLAS from now on",
                    RuntimeWarning,
                    stacklevel=2,
                )
            else:
                self.stats["fused_kernel"] += 1
                return out if len(out_shape) == 2 else out.reshape(out_shape)
        x_q_buffer = self._scratch((padded_rows, w_q.shape[1]), np.int8, stream)
        x_q = int8_kernels.quantize_rows(x2, x_name, s_x, padded_rows, w_q.shape[1], out=x_q_buffer)
        acc = int8_gemm_padded(x_q, w_q, out=self._scratch((padded_rows, w_q.shape[0]), np.int32, stream))
        out = int8_kernels.epilogue(acc, rows, n, s_x, entry.scale, bias, storage_dtype(out_dtype), out_name)
        return out.reshape(out_shape)


def _aligned(a: cupy.ndarray) -> cupy.ndarray:
    """``a`` C-contiguous and starting on 16 bytes (the kernels load 16-byte vectors; a view may not)."""
    a = cupy.ascontiguousarray(a)
    return a if a.data.ptr % 16 == 0 else a.copy()
