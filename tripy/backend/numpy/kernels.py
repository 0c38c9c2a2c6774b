"""NumPy kernels of every primitive: the reference semantics of every backend.

Floating-point work on float16, bfloat16 and float8 is done in float32 and rounded once to the result
type, so results are the correctly rounded ones a GPU computes too; int8 and int4 work in int32 and wrap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tripy import dtypes
from tripy.backend.array_kernels import movement_kernels, scale_layout
from tripy.backend.base import Kernel, fused_classes, fused_kernel, input_kernel
from tripy.dtypes import DataType
from tripy.trace.primitives import (
    ALL_PRIMITIVES,
    Argmax,
    Binary,
    BinaryOp,
    Cast,
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

_LOW_PRECISION = frozenset(
    {np.dtype(dtypes.float16.numpy), np.dtype(dtypes.bfloat16.numpy), np.dtype(dtypes.float8.numpy)}
)
_SMALL_INT = frozenset({np.dtype(np.int8), np.dtype(dtypes.int4.numpy)})


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


_UNARY: dict[UnaryOp, Callable[[np.ndarray], np.ndarray]] = {
    UnaryOp.NEG: np.negative,
    UnaryOp.EXP: np.exp,
    UnaryOp.LOG: np.log,
    UnaryOp.SQRT: np.sqrt,
    UnaryOp.RSQRT: lambda v: 1 / np.sqrt(v),
    UnaryOp.TANH: np.tanh,
    UnaryOp.SIN: np.sin,
    UnaryOp.COS: np.cos,
    UnaryOp.ABS: np.abs,
    UnaryOp.NOT: np.logical_not,
    UnaryOp.ERF: _erf,
}
_BINARY: dict[BinaryOp, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    BinaryOp.ADD: np.add,
    BinaryOp.SUB: np.subtract,
    BinaryOp.MUL: np.multiply,
    BinaryOp.DIV: np.true_divide,
    BinaryOp.POW: np.power,
    BinaryOp.MAX: np.maximum,
    BinaryOp.MIN: np.minimum,
    BinaryOp.AND: np.logical_and,
    BinaryOp.OR: np.logical_or,
    BinaryOp.EQ: np.equal,
    BinaryOp.NE: np.not_equal,
    BinaryOp.LT: np.less,
    BinaryOp.LE: np.less_equal,
    BinaryOp.GT: np.greater,
    BinaryOp.GE: np.greater_equal,
    BinaryOp.FLOOR_DIV: np.floor_divide,
    BinaryOp.MOD: np.mod,
}
_REDUCE: dict[ReduceOp, Callable[..., np.ndarray]] = {
    ReduceOp.SUM: np.sum,
    ReduceOp.PROD: np.prod,
    ReduceOp.MAX: np.max,
    ReduceOp.MIN: np.min,
}


#: The type that work on each low-precision type is done in (then rounded or wrapped back once).
_COMPUTE_TYPE = {**{dt: np.dtype(np.float32) for dt in _LOW_PRECISION}, **{dt: np.dtype(np.int32) for dt in _SMALL_INT}}
_BOOL = np.dtype(np.bool_)


def _compute(fn: Callable[..., np.ndarray], *xs: np.ndarray) -> np.ndarray:
    """Apply ``fn`` with low-precision floats widened to float32 (small ints to int32), then round back once."""
    dt = xs[0].dtype
    wide = _COMPUTE_TYPE.get(dt)
    if wide is None:
        return fn(*xs)
    return fn(*(x.astype(wide) for x in xs)).astype(dt)


def cast_array(x: np.ndarray, dtype: DataType) -> np.ndarray:
    """``x`` as ``dtype``: floats to integers truncate (NaN becomes 0); quantized types saturate."""
    target = dtype.numpy
    if x.dtype == target:
        return x
    if dtype in dtypes.QUANT_RANGE or target.kind in "iu":
        src = x.astype(np.float32) if x.dtype in _LOW_PRECISION else x
        if not dtype.is_float and src.dtype.kind == "f":
            src = np.where(np.isnan(src), 0, src)  # NaN becomes 0, as on GPUs (C leaves it undefined)
        if dtype in dtypes.QUANT_RANGE:
            lo, hi = dtypes.QUANT_RANGE[dtype]
            src = np.clip(np.trunc(src) if not dtype.is_float else src, lo, hi)
        elif src.dtype.kind == "f":
            src = np.trunc(src)
        return src.astype(target)
    with np.errstate(over="ignore"):  # out-of-range floats become inf, as IEEE rounding says
        if x.dtype in _LOW_PRECISION or x.dtype in _SMALL_INT:
            return x.astype(np.float32).astype(target)
        return x.astype(target)


def _iota(p: Iota) -> np.ndarray:
    line = np.arange(p.shape[p.dim], dtype=np.float32 if p.dtype.is_float else np.int64)
    view = [1] * len(p.shape)
    view[p.dim] = p.shape[p.dim]
    return cast_array(np.broadcast_to(line.reshape(view), p.shape).copy(), p.dtype)


def full_array(shape: tuple[int, ...], value: float | int | bool, dtype: DataType) -> np.ndarray:
    """``shape`` filled with ``value`` as ``dtype`` (converted as :func:`cast_array` does)."""
    return cast_array(np.full(shape, value, dtype=np.float32 if dtype.is_float else None), dtype)


def _full(p: Full) -> np.ndarray:
    return full_array(p.shape, p.value, p.dtype)


def _unary(p: Unary, x: np.ndarray) -> np.ndarray:
    return _compute(_UNARY[p.op], x)


def _binary(p: Binary, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    op = p.op
    if op is BinaryOp.DIV and a.dtype.kind in "iu":  # integer division truncates toward zero, as in C
        return _compute(lambda x, y: (np.trunc(x / y)).astype(x.dtype), a, b)
    fn = _BINARY[op]
    if a.dtype is _BOOL or op.is_comparison:
        return fn(a, b)
    return _compute(fn, a, b)


def _where(p: Where, cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(cond, a, b).astype(a.dtype, copy=False)


def _reduce(p: Reduce, x: np.ndarray) -> np.ndarray:
    fn = _REDUCE[p.op]
    return _compute(lambda v: fn(v, axis=p.axes, keepdims=p.keepdim).astype(v.dtype, copy=False), x)


def _argmax(p: Argmax, x: np.ndarray) -> np.ndarray:
    out = np.argmax(x.astype(np.float32) if x.dtype in _LOW_PRECISION else x, axis=p.axis)
    if p.keepdim:
        out = np.expand_dims(out, p.axis)
    return out.astype(np.int32)


def _matmul(p: Matmul, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu" or a.dtype in _SMALL_INT:
        return np.matmul(a.astype(np.int64), b.astype(np.int64)).astype(a.dtype)
    return _compute(np.matmul, a, b)


def _quantize(p: Quantize, x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    scaled = x.astype(np.float32) / scale_layout(np, scale.astype(np.float32), x.shape, p.axis)
    lo, hi = dtypes.QUANT_RANGE[p.dtype]
    if not p.dtype.is_float:
        scaled = np.rint(np.where(np.isnan(scaled), 0, scaled))  # round half to even; NaN becomes 0
    return np.clip(scaled, lo, hi).astype(p.dtype.numpy)


def _dequantize(p: Dequantize, q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return (q.astype(np.float32) * scale_layout(np, scale.astype(np.float32), q.shape, p.axis)).astype(p.dtype.numpy)


KERNELS: dict[type[Primitive], Kernel] = {
    Input: input_kernel,
    Iota: _iota,
    Full: _full,
    Unary: _unary,
    Binary: _binary,
    Where: _where,
    Cast: lambda p, x: cast_array(x, p.dtype),
    Reduce: _reduce,
    Argmax: _argmax,
    Matmul: _matmul,
    Quantize: _quantize,
    Dequantize: _dequantize,
    **movement_kernels(np),
}
#: Fused primitives run their steps (the reference meaning of each fusion).
KERNELS.update(
    {cls: fused_kernel(KERNELS, lambda a: dtypes.from_numpy(a.dtype)) for cls in fused_classes(ALL_PRIMITIVES)}
)


def run_any(prim: Primitive, *args: Any) -> Any:
    """Run one primitive on NumPy arrays (the TensorRT lowering folds constants with it)."""
    return KERNELS[type(prim)](prim, *args)
