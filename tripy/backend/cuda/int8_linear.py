"""Quantized matrix products as int8 GEMMs on tensor cores, recognised in the trace while evaluating.

The pattern is the one ``tp.Linear`` with ``quant_dtype=tp.int8`` writes (and anyone may write by hand)::

    matmul(dequantize(quantize(x, sx)), permute(dequantize(quantize(w, sw, dim)), (1, 0))) [+ bias]

with a per-tensor ``sx`` and ``sw`` per-tensor or per output channel (``w`` of shape (N, K) with dim 0, or
(K, N) unpermuted with dim 1). It runs as one kernel quantizing ``x`` into an int8 matrix, then, on Hopper
GPUs where the shapes allow (:mod:`.fused_gemm`), one int8 GEMM whose epilogue applies ``sx * sw[n]`` and the
bias; elsewhere as one cuBLAS int8 x int8 -> int32 GEMM (``cublasGemmEx``, ``CUBLAS_COMPUTE_32I``) and one
epilogue kernel. The quantized weight is cached, keyed by the weight value's identity and its
scale's, and dropped when either is freed. Without ``sx`` (weight-only int8) the input is not quantized,
so the product stays in floating point: the dequantized weight is what is cached.

cuBLAS wants int8 dimensions and leading dimensions that are multiples of 4; other shapes are padded with
zeros, which leaves every sum exact. Anything else (int4, float8, scales along K, batched weights) runs
unfused through the primitives, which is the reference meaning.
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import cupy
import numpy as np
from cupy_backends.cuda.libs import cublas

from tripy import dtypes
from tripy.backend.cuda import fused_gemm, kernels
from tripy.backend.cuda.storage import logical_dtype, storage_dtype
from tripy.trace import topological_order

_CUDA_R_8I = 3
_CUDA_R_32I = 10
_COMPUTE_32I = getattr(cublas, "CUBLAS_COMPUTE_32I", 72)
_GEMM_DEFAULT = -1
_OP_N, _OP_T = 0, 1
_POINTER_MODE_HOST = getattr(cublas, "CUBLAS_POINTER_MODE_HOST", 0)
_FLOATS = {dtypes.float32: "float32", dtypes.float16: "float16", dtypes.bfloat16: "bfloat16"}
_F32 = np.dtype(np.float32)
#: Per-call temporaries up to this size are reused between calls (same thread and stream, so in order).
_SCRATCH_MAX_BYTES = 32 << 20


def _round_up4(n: int) -> int:
    return (n + 3) // 4 * 4


@dataclass
class LinearPlan:
    """One recognised quantized matrix product: ``x @ W.T (+ bias)`` with W given as (N, K) or (K, N)."""

    x: Any  #: the float input (any rank >= 2; its last dimension is K)
    x_scale: Any | None  #: the per-tensor input scale, None for weight-only
    weight: Any  #: the float weight
    weight_scale: Any
    weight_axis: int | None  #: the weight's quantization dim as recorded in the trace
    weight_kn: bool  #: True when the weight is stored (K, N) and used unpermuted
    bias: Any | None  #: a tensor of N elements, or None
    out_dtype: Any
    out_shape: tuple[int, ...]

    def inputs(self) -> list:
        return [t for t in (self.x, self.x_scale, self.weight, self.weight_scale, self.bias) if t is not None]


def _node(t, prim: str):
    """The node of ``t`` when it is unevaluated and made by ``prim``, else None."""
    node = t._node
    return node if t._value is None and node is not None and node.prim == prim else None


def _dequantized(t):
    """(source, scale, axis) when ``t`` is ``dequantize(quantize(source, scale, int8), scale)``, else None."""
    deq = _node(t, "dequantize")
    if deq is None or deq.attrs["axis"] is not None and deq.inputs[1].rank != 1:
        return None
    quant = _node(deq.inputs[0], "quantize")
    if quant is None or quant.attrs["dtype"] is not dtypes.int8 or quant.attrs["axis"] != deq.attrs["axis"]:
        return None
    if quant.inputs[1] is not deq.inputs[1] or quant.inputs[1].rank == 2:
        return None
    return quant.inputs[0], quant.inputs[1], quant.attrs["axis"]


def _strip_leading_ones(t):
    """``t`` without a reshape that only adds leading 1s (``with_rank``)."""
    node = _node(t, "reshape")
    if node is not None:
        src = node.inputs[0]
        extra = t.rank - src.rank
        if extra > 0 and t.shape[extra:] == src.shape and all(d == 1 for d in t.shape[:extra]):
            return src
    return t


def match_linear(t) -> LinearPlan | None:
    """The plan for ``t`` if it is a quantized int8 matrix product (optionally plus a bias), else None."""
    node = t._node
    if node is None or t._value is not None or t.dtype not in _FLOATS:
        return None
    bias = None
    if node.prim == "binary" and node.attrs["op"] == "add":
        product, bias = node.inputs
        bias = _strip_leading_ones(bias)
        if bias.rank != 1 or bias.shape != t.shape[-1:] or product.shape != t.shape:
            return None
        node = _node(product, "matmul")
        if node is None:
            return None
    elif node.prim != "matmul":
        return None
    a, b = node.inputs
    b = _strip_leading_ones(b)
    if a.rank < 2 or b.rank != 2:
        return None
    weight_kn = True
    permuted = _node(b, "permute")
    if permuted is not None and permuted.attrs["perm"] == (1, 0):
        b, weight_kn = permuted.inputs[0], False
    found = _dequantized(b)
    if found is None:
        return None
    weight, weight_scale, axis = found
    if axis is not None and axis != (1 if weight_kn else 0):
        return None  # a scale along K does not factor out of the sum
    x, x_scale = a, None
    found = _dequantized(a)
    if found is not None:
        if found[2] is not None or found[1].rank != 0:
            return None
        x, x_scale, _ = found
    if x.dtype not in _FLOATS or weight.dtype not in _FLOATS:
        return None
    return LinearPlan(x, x_scale, weight, weight_scale, axis, weight_kn, bias, t.dtype, t.shape)


class _CachedWeight:
    """A quantized (or, for weight-only, dequantized) weight, alive while its weight and scale values are."""

    __slots__ = ("refs", "int8", "scale", "dequantized")

    def __init__(self, refs, int8=None, scale=None, dequantized=None):
        self.refs, self.int8, self.scale, self.dequantized = refs, int8, scale, dequantized

    def alive(self, weight, scale) -> bool:
        return self.refs[0]() is weight and self.refs[1]() is scale


class Int8Linear:
    """The fused int8 path of :class:`CudaBackend`: the GEMM, the weight cache and the evaluation."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.cache: dict[tuple, _CachedWeight] = {}
        self.enabled = True  #: set False to evaluate every trace unfused (for comparisons)
        self.use_fused_kernel = True  #: set False to keep the cuBLAS GEMM + epilogue kernel (for comparisons)
        self._fused_failed = False  #: the fused kernel failed once (it is not tried again)
        self.stats = {"fused": 0, "fused_kernel": 0, "weight_only": 0, "cache_hits": 0, "cache_misses": 0}
        self._one = np.ones((), dtype=np.int32)
        self._zero = np.zeros((), dtype=np.int32)
        self._scratches: dict[tuple, cupy.ndarray] = {}

    def _scratch(self, shape: tuple[int, int], dtype) -> cupy.ndarray:
        """A temporary of ``shape``: small ones are reused, which is safe because the kernels of one thread's
        stream run in order and each temporary dies within the call that fills it."""
        if shape[0] * shape[1] * np.dtype(dtype).itemsize > _SCRATCH_MAX_BYTES:
            return cupy.empty(shape, dtype=dtype)
        key = (threading.get_ident(), cupy.cuda.get_current_stream().ptr, shape, dtype)
        buf = self._scratches.get(key)
        if buf is None:
            if len(self._scratches) >= 32:
                self._scratches.clear()
            buf = self._scratches[key] = cupy.empty(shape, dtype=dtype)
        return buf

    # -- the GEMM ------------------------------------------------------------------------------------
    def gemm_padded(self, a: cupy.ndarray, w: cupy.ndarray, out: cupy.ndarray | None = None) -> cupy.ndarray:
        """int32 ``a @ w.T`` of C-contiguous int8 ``a`` (M, K) and ``w`` (N, K), all multiples of 4."""
        m, k = a.shape
        n = w.shape[0]
        if out is None:
            out = cupy.empty((m, n), dtype=np.int32)
        handle = cupy.cuda.device.get_cublas_handle()
        cublas.setPointerMode(handle, _POINTER_MODE_HOST)
        # Row-major out (M, N) is column-major (N, M) = w (col-major K x N, transposed) times a (K x M).
        cublas.gemmEx(
            handle,
            _OP_T,
            _OP_N,
            n,
            m,
            k,
            self._one.ctypes.data,
            w.data.ptr,
            _CUDA_R_8I,
            k,
            a.data.ptr,
            _CUDA_R_8I,
            k,
            self._zero.ctypes.data,
            out.data.ptr,
            _CUDA_R_32I,
            n,
            _COMPUTE_32I,
            _GEMM_DEFAULT,
        )
        return out

    def gemm(self, a: cupy.ndarray, w: cupy.ndarray) -> cupy.ndarray:
        """Exact int32 ``a @ w.T`` of int8 ``a`` (M, K) and ``w`` (N, K) of any shape (zero-padded if needed)."""
        m, k = a.shape
        n = w.shape[0]
        a, w = _padded(a, _round_up4(m), _round_up4(k)), _padded(w, _round_up4(n), _round_up4(k))
        out = self.gemm_padded(a, w)
        return out if out.shape == (m, n) else out[:m, :n]

    # -- weights -------------------------------------------------------------------------------------
    def _weight(self, plan: LinearPlan, w_value, s_value) -> _CachedWeight:
        """The cached prepared weight of ``plan`` (prepared now on a miss)."""
        key = (id(w_value), id(s_value), plan.weight_axis, plan.weight_kn, plan.x_scale is None, plan.out_dtype)
        entry = self.cache.get(key)
        if entry is not None and entry.alive(w_value, s_value):
            self.stats["cache_hits"] += 1
            return entry
        self.stats["cache_misses"] += 1
        backend = self.backend
        q = backend.quantize(w_value, s_value, dtype=dtypes.int8, axis=plan.weight_axis)
        n = plan.out_shape[-1]
        if plan.x_scale is None:
            deq = backend.dequantize(q, s_value, dtype=plan.out_dtype, axis=plan.weight_axis)
            entry = _CachedWeight(None, dequantized=deq if plan.weight_kn else cupy.ascontiguousarray(deq.T))
        else:
            if plan.weight_kn:
                q = q.T
            k = q.shape[1]
            scale = backend._scale_for(s_value, (n,), 0 if plan.weight_axis is not None else None)
            entry = _CachedWeight(
                None,
                int8=_padded(q, _round_up4(n), _round_up4(k)),
                scale=cupy.ascontiguousarray(cupy.broadcast_to(scale, (n,)), dtype=np.float32),
            )
        try:
            entry.refs = (weakref.ref(w_value, self._forget(key)), weakref.ref(s_value, self._forget(key)))
        except TypeError:  # not weak-referenceable: keep it for this call only
            return entry
        self.cache[key] = entry
        return entry

    def _forget(self, key: tuple):
        cache = self.cache

        def drop(_ref) -> None:
            cache.pop(key, None)

        return drop

    # -- running a plan ------------------------------------------------------------------------------
    def run(self, plan: LinearPlan, values: dict, weight_value) -> Any:
        backend = self.backend
        get = values.__getitem__
        x, s_w = get(id(plan.x)), get(id(plan.weight_scale))
        bias = get(id(plan.bias)) if plan.bias is not None else None
        entry = self._weight(plan, weight_value, s_w)
        k = plan.x.shape[-1]
        rows = math.prod(plan.x.shape[:-1])
        out_dtype = plan.out_dtype
        if bias is not None and logical_dtype(bias) is not out_dtype:
            bias = backend.cast(bias, dtype=out_dtype)
        if plan.x_scale is None:  # weight-only: float GEMM against the cached dequantized weight
            self.stats["weight_only"] += 1
            x = x if logical_dtype(x) is out_dtype else backend.cast(x, dtype=out_dtype)
            out = backend.matmul(x.reshape(rows, k), entry.dequantized)
            if bias is not None:
                out = backend.binary(out, bias.reshape(1, -1), op="add")
            return out.reshape(plan.out_shape)
        self.stats["fused"] += 1
        s_x = get(id(plan.x_scale))
        s_x = s_x if s_x.dtype == _F32 else backend._scale_for(s_x, (), None)
        w_q = entry.int8
        x2 = _aligned(x.reshape(rows, k))
        padded_rows = _round_up4(rows)
        if bias is not None:
            bias = _aligned(bias)
        n = plan.out_shape[-1]
        out_name = _FLOATS[out_dtype]
        fused = fused_gemm.kernel() if self.use_fused_kernel and not self._fused_failed else None
        x_q_buffer = self._scratch((padded_rows, w_q.shape[1]), np.int8)
        if fused is not None and w_q.shape == (n, k) and fused.supports(n, k, out_name):
            out = cupy.empty((rows, n), dtype=storage_dtype(out_dtype))
            # The kernel's sx * sw[n], written by the quantize kernel on this call's stream (sx may be a
            # shared buffer that changes between calls, so it is formed every time).
            alpha = self._scratch((1, n), np.float32).reshape(n)
            x_q = kernels.quantize_rows(
                x2, _FLOATS[plan.x.dtype], s_x, padded_rows, k, out=x_q_buffer, alpha=(entry.scale, alpha)
            )
            try:
                fused(x_q, rows, w_q, alpha, bias, out, out_name)
            except RuntimeError as exc:  # e.g. a driver older than the library's CUDA runtime: stay on cuBLAS
                self._fused_failed = True
                warnings.warn(
                    f"tripy: the Hopper int8 kernel failed ({exc}); using cuBLAS from now on",
                    RuntimeWarning,
                    stacklevel=2,
                )
            else:
                self.stats["fused_kernel"] += 1
                return out.reshape(plan.out_shape)
        x_q = kernels.quantize_rows(x2, _FLOATS[plan.x.dtype], s_x, padded_rows, w_q.shape[1], out=x_q_buffer)
        acc = self.gemm_padded(x_q, w_q, out=self._scratch((padded_rows, w_q.shape[0]), np.int32))
        out = kernels.epilogue(acc, rows, n, s_x, entry.scale, bias, storage_dtype(out_dtype), out_name)
        return out.reshape(plan.out_shape)

    # -- evaluation ----------------------------------------------------------------------------------
    def evaluate(self, outputs: list) -> list[Any]:
        """Values of ``outputs``: the base evaluation, with recognised quantized products fused."""
        backend = self.backend
        if self.enabled and len(outputs) == 1:  # the eager call of one layer: its inputs are all values
            out = outputs[0]
            plan = match_linear(out) if out._node is not None and out._value is None else None
            if plan is not None and all(i._value is not None for i in plan.inputs()):
                values = {id(i): backend.adopt(i) for i in plan.inputs()}
                try:
                    return [self.run(plan, values, values[id(plan.weight)])]
                except Exception as exc:
                    _reraise(backend, out, exc)
        order = topological_order(outputs)
        plans = {}
        if self.enabled:
            covered = set()  # products whose bias add was matched: fused there, not on their own
            for t in reversed(order):
                prim = t._node.prim
                if prim == "binary" or (prim == "matmul" and id(t) not in covered):
                    plan = match_linear(t)
                    if plan is not None:
                        plans[id(t)] = plan
                        if prim == "binary":
                            covered.add(id(t._node.inputs[0]))
        if not plans:
            return backend.evaluate_in_order(order, outputs)
        for plan in plans.values():
            _materialize(plan.weight)
            _materialize(plan.weight_scale)
        needed = {id(o) for o in outputs}
        for t in reversed(order):
            if id(t) in needed and t._value is None:
                plan = plans.get(id(t))
                needed.update(id(i) for i in (plan.inputs() if plan is not None else t._node.inputs))
        values: dict[int, Any] = {}
        for t in order:
            key = id(t)
            if key not in needed:
                continue
            if t._value is not None:  # a weight evaluated by _materialize
                values[key] = backend.adopt(t)
                continue
            plan = plans.get(key)
            inputs = plan.inputs() if plan is not None else t._node.inputs
            for inp in inputs:
                if inp._value is not None and id(inp) not in values:
                    values[id(inp)] = backend.adopt(inp)
            if plan is None:
                values[key] = backend.run(t, [values[id(i)] for i in inputs])
                continue
            try:
                values[key] = self.run(plan, values, values[id(plan.weight)])
            except Exception as exc:
                _reraise(backend, t, exc)
        result = [values[id(o)] if o._value is None else backend.adopt(o) for o in outputs]
        backend.keep(order, values)
        return result


def _materialize(t) -> None:
    """Evaluate a weight (or scale) in place, so its value, and so its cache entry, lasts between calls."""
    if t._value is None and all(u._node.prim != "input" for u in topological_order([t])):
        t.eval()


def _reraise(backend, tensor, exc: Exception):
    from tripy.errors import TripyException

    if isinstance(exc, TripyException):
        raise exc
    where = f"\n  made at: {tensor._where}" if tensor._where else ""
    raise TripyException(f"{backend.name} backend failed running '{tensor._node.prim}': {exc}{where}") from exc


def _aligned(a: cupy.ndarray) -> cupy.ndarray:
    """``a`` C-contiguous and starting on 16 bytes (the kernels load 16-byte vectors; a view may not)."""
    a = cupy.ascontiguousarray(a)
    return a if a.data.ptr % 16 == 0 else a.copy()


def _padded(a: cupy.ndarray, rows: int, cols: int) -> cupy.ndarray:
    """``a`` as a C-contiguous (rows, cols) matrix, zero-padded at the end of each dimension."""
    if a.shape == (rows, cols):
        return cupy.ascontiguousarray(a)
    out = cupy.zeros((rows, cols), dtype=a.dtype)
    out[: a.shape[0], : a.shape[1]] = a
    return out
