"""CuPy kernels of every primitive, with the NumPy reference's semantics.

bfloat16, float8 and int4 live in raw containers (:mod:`.storage`). Work on float16, bfloat16 and float8
runs in float32 and is rounded once to the result type; small integers run in int32 and wrap back, as the
reference does. The fused int8 Linear runs as an int8 GEMM on tensor cores (:mod:`.int8_linear`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cupy
import numpy as np

from tripy import dtypes
from tripy.backend.array_kernels import movement_kernels, scale_layout
from tripy.backend.base import Kernel, input_kernel
from tripy.backend.cuda import float_gemm, storage
from tripy.backend.cuda.int8_gemm import int8_gemm
from tripy.backend.cuda.storage import logical_dtype, storage_dtype
from tripy.dtypes import DataType
from tripy.trace.primitives import (
    Argmax,
    Binary,
    BinaryOp,
    Cast,
    Concat,
    Dequantize,
    Full,
    Input,
    Iota,
    Matmul,
    Primitive,
    Quantize,
    Reduce,
    ReduceOp,
    Unary,
    UnaryOp,
    Where,
)

_FLOAT_CONTAINERS = (dtypes.bfloat16, dtypes.float8)
_SMALL_INT = (dtypes.int8, dtypes.int4)


def _erf(v: Any) -> Any:
    from cupyx.scipy.special import erf

    return erf(v).astype(v.dtype, copy=False)


def _trunc_div(x: Any, y: Any) -> Any:
    if x.dtype.kind in "iu":
        q = cupy.floor_divide(x, y)
        # floor differs from truncation when the signs differ and the division is inexact
        return q + ((cupy.remainder(x, y) != 0) & ((x < 0) != (y < 0))).astype(q.dtype)
    return cupy.trunc(x / y)


_UNARY: dict[UnaryOp, Callable[[Any], Any]] = {
    UnaryOp.NEG: cupy.negative,
    UnaryOp.EXP: cupy.exp,
    UnaryOp.LOG: cupy.log,
    UnaryOp.SQRT: cupy.sqrt,
    UnaryOp.RSQRT: lambda v: cupy.reciprocal(cupy.sqrt(v)),
    UnaryOp.TANH: cupy.tanh,
    UnaryOp.SIN: cupy.sin,
    UnaryOp.COS: cupy.cos,
    UnaryOp.ABS: cupy.abs,
    UnaryOp.NOT: cupy.logical_not,
    UnaryOp.ERF: _erf,
}
_BINARY: dict[BinaryOp, Callable[[Any, Any], Any]] = {
    BinaryOp.ADD: cupy.add,
    BinaryOp.SUB: cupy.subtract,
    BinaryOp.MUL: cupy.multiply,
    BinaryOp.POW: cupy.power,
    BinaryOp.MAX: cupy.maximum,
    BinaryOp.MIN: cupy.minimum,
    BinaryOp.AND: cupy.logical_and,
    BinaryOp.OR: cupy.logical_or,
    BinaryOp.EQ: cupy.equal,
    BinaryOp.NE: cupy.not_equal,
    BinaryOp.LT: cupy.less,
    BinaryOp.LE: cupy.less_equal,
    BinaryOp.GT: cupy.greater,
    BinaryOp.GE: cupy.greater_equal,
    BinaryOp.FLOOR_DIV: cupy.floor_divide,
    BinaryOp.MOD: cupy.mod,
}
_REDUCE = {ReduceOp.SUM: cupy.sum, ReduceOp.PROD: cupy.prod, ReduceOp.MAX: cupy.max, ReduceOp.MIN: cupy.min}
#: float16 ops that CuPy already rounds from one float32 result (no widening needed).
_HALF_NATIVE_UNARY = frozenset({UnaryOp.NEG, UnaryOp.ABS})
_HALF_NATIVE_BINARY = frozenset({BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.MAX, BinaryOp.MIN})


# -- dtype handling ------------------------------------------------------------------------------------------
def widen(x: Any) -> Any:
    """``x`` in its compute type: float32 for 16- and 8-bit floats, int32 for int8/int4, else unchanged."""
    dt = logical_dtype(x)
    if dt in _FLOAT_CONTAINERS:
        return storage.to_float32(x)
    if dt is dtypes.float16:
        return x.astype(np.float32)
    if dt in _SMALL_INT:
        return x.astype(np.int32)
    return x


def narrow(y: Any, dtype: DataType) -> Any:
    """A computed array rounded (floats, no saturation) or wrapped (integers) to ``dtype``'s container."""
    if dtype is dtypes.bfloat16:
        return storage.float_to_bf16(y)
    if dtype is dtypes.float8:
        return storage.float_to_fp8(y)
    if dtype is dtypes.int4:
        return storage.wrap_to_int4(y)
    return y.astype(dtype.numpy, copy=False)


def _compute(fn: Callable[..., Any], *xs: Any, half_native: bool = False) -> Any:
    """``fn`` in the compute type, rounded or wrapped once to the input's type. With ``half_native``,
    float16 runs as is (CuPy's float16 arithmetic already rounds one float32 result)."""
    dt = logical_dtype(xs[0])
    if dt in _FLOAT_CONTAINERS or dt in _SMALL_INT or (dt is dtypes.float16 and not half_native):
        return narrow(fn(*(widen(x) for x in xs)), dt)
    return fn(*xs)


def cast_array(x: Any, dtype: DataType) -> Any:
    """``x`` as ``dtype``, as the reference converts (truncation, saturation, NaN to 0)."""
    src = logical_dtype(x)
    if src is dtype:
        return x
    target = dtype.numpy
    v = widen(x) if src in _FLOAT_CONTAINERS else x
    if src is dtypes.float16 and (dtype.is_quantized or target.kind in "iu" or dtype is dtypes.bfloat16):
        v = v.astype(np.float32)
    if dtype is dtypes.float8:  # saturates to +-448, rounds to nearest even
        return storage.float_to_fp8_saturating(v)
    if dtype is dtypes.bfloat16:
        return storage.float_to_bf16(v if v.dtype.kind == "f" else v.astype(np.float32))
    if dtype in _SMALL_INT:  # float truncates toward zero, then saturates
        lo, hi = dtypes.QUANT_RANGE[dtype]
        if v.dtype.kind == "f":
            v = cupy.nan_to_num(cupy.trunc(v), nan=0.0)  # NaN becomes 0, as in the reference
        elif v.dtype == np.bool_:
            v = v.astype(np.int32)
        return cupy.clip(v, lo, hi).astype(storage_dtype(dtype))
    if target.kind in "iu" and v.dtype.kind == "f":
        v = cupy.nan_to_num(cupy.trunc(v), nan=0.0)
    if src is dtypes.int4 and dtype.is_float:
        v = v.astype(np.float32)
    return v.astype(target)


def scale_float32(scale: Any) -> Any:
    """A scale's values as float32 (bfloat16 containers decoded)."""
    return scale if scale.dtype == np.float32 else storage.to_float32(scale)


def scale_for(scale: Any, shape: tuple[int, ...], axis: int | None) -> Any:
    """``scale`` in float32, laid out to broadcast against a tensor of ``shape``."""
    return scale_layout(cupy, scale_float32(scale), shape, axis)


# -- the kernels ---------------------------------------------------------------------------------------------
def _iota(p: Iota) -> Any:
    line = cupy.arange(p.shape[p.dim], dtype=np.float32 if p.dtype.is_float else np.int64)
    view = [1] * len(p.shape)
    view[p.dim] = p.shape[p.dim]
    return cast_array(cupy.broadcast_to(line.reshape(view), p.shape).copy(), p.dtype)


def _full(p: Full) -> Any:
    return cast_array(cupy.full(p.shape, p.value, dtype=np.float32 if p.dtype.is_float else None), p.dtype)


def _unary(p: Unary, x: Any) -> Any:
    return _compute(_UNARY[p.op], x, half_native=p.op in _HALF_NATIVE_UNARY)


#: Storage types for which CuPy's add, subtract, multiply, maximum and minimum already compute what the
#: reference does (float16 among them: one float32 result rounded once), so they run as they are.
_PLAIN_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float16, np.int32, np.int64))


def _binary(p: Binary, a: Any, b: Any) -> Any:
    op = p.op
    if op in _HALF_NATIVE_BINARY and a.dtype in _PLAIN_DTYPES:  # the common case, as _compute would run it
        return _BINARY[op](a, b)
    if op is BinaryOp.DIV:
        if logical_dtype(a).is_integer:  # integer division truncates toward zero, as in C and TensorRT
            return _compute(_trunc_div, a, b)
        return _compute(cupy.true_divide, a, b, half_native=True)
    fn = _BINARY[op]
    if a.dtype == np.bool_:
        return fn(a, b)
    if op.is_comparison:
        if a.dtype == np.float16:
            return fn(a, b)
        return fn(widen(a), widen(b))
    return _compute(fn, a, b, half_native=op in _HALF_NATIVE_BINARY)


def _reduce(p: Reduce, x: Any) -> Any:
    fn = _REDUCE[p.op]
    return _compute(lambda v: fn(v, axis=p.axes, keepdims=p.keepdim).astype(v.dtype, copy=False), x)


def _argmax(p: Argmax, x: Any) -> Any:
    out = cupy.argmax(widen(x), axis=p.axis)
    if p.keepdim:
        out = cupy.expand_dims(out, p.axis)
    return out.astype(np.int32)


def _float_matmul(a: Any, b: Any) -> Any:
    """float16/float32 products through tripy's own cuBLAS handle (CuPy's binding refuses to run while a
    CUDA graph is captured), so that eager runs and captured graphs compute them with the same call;
    CuPy's matmul for the shapes that one does not take."""
    if float_gemm.supports(a, b):
        return float_gemm.gemm(a, b)
    return cupy.matmul(a, b)


def _matmul(p: Matmul, a: Any, b: Any) -> Any:
    dt = logical_dtype(a)
    if dt.is_integer:
        if dt is dtypes.int8 and a.ndim == 2:
            # int8 x int8 on tensor cores; int32 wraps like int64 does modulo 2**8.
            return int8_gemm(a, b.T).astype(np.int8)
        return narrow(cupy.matmul(a.astype(np.int64), b.astype(np.int64)), dt)
    if dt in _FLOAT_CONTAINERS:
        return narrow(_float_matmul(widen(a), widen(b)), dt)
    return _float_matmul(a, b)


def _quantize(p: Quantize, x: Any, scale: Any) -> Any:
    kernel = {
        dtypes.int8: storage.quantize_int8,
        dtypes.int4: storage.quantize_int4,
        dtypes.float8: storage.quantize_fp8,
    }
    return kernel[p.dtype](x, scale_for(scale, x.shape, p.axis))


def _dequantize(p: Dequantize, q: Any, scale: Any) -> Any:
    out = cupy.empty(q.shape, dtype=storage_dtype(p.dtype))
    return storage.dequantize(q, scale_for(scale, q.shape, p.axis), out)


def _concat(p: Concat, *xs: Any) -> Any:
    """The inputs joined along ``p.axis``: one 2-D copy per C-contiguous input (no kernel to launch: a KV
    cache grown by one position costs little host time), else CuPy's ``concatenate``."""
    first = xs[0]
    if any(not x.flags.c_contiguous or x.dtype != first.dtype for x in xs):
        return cupy.concatenate(xs, axis=p.axis)
    shape = list(first.shape)
    shape[p.axis] = sum(x.shape[p.axis] for x in xs)
    out = cupy.empty(shape, first.dtype)
    outer = math.prod(shape[: p.axis])
    if out.size == 0:
        return out
    row, offset = out.nbytes // outer, 0
    runtime, stream = cupy.cuda.runtime, cupy.cuda.get_current_stream().ptr
    for x in xs:
        width = x.nbytes // outer
        if width:
            runtime.memcpy2DAsync(
                out.data.ptr + offset, row, x.data.ptr, width, width, outer, runtime.memcpyDeviceToDevice, stream
            )
        offset += width
    return out


KERNELS: dict[type[Primitive], Kernel] = {
    Input: input_kernel,
    Iota: _iota,
    Full: _full,
    Unary: _unary,
    Binary: _binary,
    Where: lambda p, cond, a, b: cupy.where(cond, a, b),
    Cast: lambda p, x: cast_array(x, p.dtype),
    Reduce: _reduce,
    Argmax: _argmax,
    Matmul: _matmul,
    Quantize: _quantize,
    Dequantize: _dequantize,
    **movement_kernels(cupy),
    Concat: _concat,
}
