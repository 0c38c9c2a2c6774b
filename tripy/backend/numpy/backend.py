"""NumPy implementation of the primitives: the reference semantics of every backend.

Floating-point work on float16, bfloat16 and float8 is done in float32 and rounded once to the result
type, so results are the correctly rounded ones a GPU computes too. Written against an array module
``xp`` so an array library with NumPy's API (CuPy) can reuse it.
"""

from __future__ import annotations

import numpy as np

from tripy import dtypes
from tripy.backend.base import Backend
from tripy.dtypes import DataType

_LOW_PRECISION = frozenset(
    {np.dtype(dtypes.float16.numpy), np.dtype(dtypes.bfloat16.numpy), np.dtype(dtypes.float8.numpy)}
)
_SMALL_INT = frozenset({np.dtype(np.int8), np.dtype(dtypes.int4.numpy)})

_UNARY = {
    "neg": np.negative,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "abs": np.abs,
    "not": np.logical_not,
}
_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "pow": np.power,
    "max": np.maximum,
    "min": np.minimum,
    "and": np.logical_and,
    "or": np.logical_or,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "floor_div": np.floor_divide,
    "mod": np.mod,
}
_REDUCE = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}


def _erf(x: np.ndarray) -> np.ndarray:
    import math

    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


class NumpyBackend(Backend):
    """Evaluates traces with NumPy on the host (``loc=cpu:0``)."""

    name = "numpy"
    device = "cpu:0"
    xp = np

    # -- values --------------------------------------------------------------------------------------
    def from_numpy(self, array: np.ndarray, dtype: DataType) -> np.ndarray:
        return np.asarray(array, dtype=dtype.numpy)

    def to_numpy(self, value: np.ndarray, dtype: DataType) -> np.ndarray:
        return np.asarray(value)

    # -- helpers -------------------------------------------------------------------------------------
    def _compute(self, fn, *xs):
        """Apply ``fn`` with low-precision floats widened to float32, then round back once."""
        dt = xs[0].dtype
        if dt in _LOW_PRECISION:
            return fn(*(x.astype(np.float32) for x in xs)).astype(dt)
        if dt in _SMALL_INT:
            return fn(*(x.astype(np.int32) for x in xs)).astype(dt)
        return fn(*xs)

    # -- primitives ----------------------------------------------------------------------------------
    def iota(self, *, shape, dim, dtype):
        xp = self.xp
        line = xp.arange(shape[dim], dtype=np.float32 if dtype.is_float else np.int64)
        view = [1] * len(shape)
        view[dim] = shape[dim]
        return self.cast(xp.broadcast_to(line.reshape(view), shape).copy(), dtype=dtype)

    def full(self, *, shape, value, dtype):
        return self.cast(self.xp.full(shape, value, dtype=np.float32 if dtype.is_float else None), dtype=dtype)

    def unary(self, x, *, op):
        if op == "rsqrt":
            return self._compute(lambda v: 1 / self.xp.sqrt(v), x)
        if op == "erf":
            return self._compute(_erf, x)
        return self._compute(_UNARY[op], x)

    def binary(self, a, b, *, op):
        if op == "div":
            if a.dtype.kind in "iu":  # integer division truncates toward zero, as in C and TensorRT
                return self._compute(lambda x, y: (np.trunc(x / y)).astype(x.dtype), a, b)
            return self._compute(np.true_divide, a, b)
        fn = _BINARY[op]
        if a.dtype == np.bool_ or op in ("eq", "ne", "lt", "le", "gt", "ge"):
            return fn(a, b)
        return self._compute(fn, a, b)

    def where(self, cond, a, b):
        return self.xp.where(cond, a, b).astype(a.dtype, copy=False)

    def reduce(self, x, *, op, axes, keepdim):
        fn = _REDUCE[op]
        return self._compute(lambda v: fn(v, axis=axes, keepdims=keepdim).astype(v.dtype, copy=False), x)

    def argmax(self, x, *, axis, keepdim):
        out = self.xp.argmax(x.astype(np.float32) if x.dtype in _LOW_PRECISION else x, axis=axis)
        if keepdim:
            out = self.xp.expand_dims(out, axis)
        return out.astype(np.int32)

    def matmul(self, a, b):
        if a.dtype.kind in "iu" or a.dtype in _SMALL_INT:
            return self.xp.matmul(a.astype(np.int64), b.astype(np.int64)).astype(a.dtype)
        return self._compute(self.xp.matmul, a, b)

    def reshape(self, x, *, shape):
        return x.reshape(shape)

    def permute(self, x, *, perm):
        return x.transpose(perm)

    def expand(self, x, *, shape):
        return self.xp.broadcast_to(x, shape)

    def slice(self, x, *, starts, sizes, steps):
        return x[tuple(slice(a, None, c) for a, c in zip(starts, steps, strict=True))][
            tuple(slice(0, n) for n in sizes)
        ]

    def concat(self, *xs, axis):
        return self.xp.concatenate(xs, axis=axis)

    def gather(self, x, indices, *, axis):
        return self.xp.take(x, indices.astype(np.int64), axis=axis)

    def cast(self, x, *, dtype):
        target = dtype.numpy
        if x.dtype == target:
            return x
        if dtype in dtypes.QUANT_RANGE or target.kind in "iu":
            # Float to integer truncates toward zero; quantized types saturate instead of wrapping.
            src = x.astype(np.float32) if x.dtype in _LOW_PRECISION else x
            if not dtype.is_float and src.dtype.kind == "f":
                src = self.xp.where(self.xp.isnan(src), 0, src)  # NaN becomes 0, as on GPUs (C leaves it undefined)
            if dtype in dtypes.QUANT_RANGE:
                lo, hi = dtypes.QUANT_RANGE[dtype]
                src = self.xp.clip(self.xp.trunc(src) if not dtype.is_float else src, lo, hi)
            elif src.dtype.kind == "f":
                src = self.xp.trunc(src)
            return src.astype(target)
        with np.errstate(over="ignore"):  # out-of-range floats become inf, as IEEE rounding says
            if x.dtype in _LOW_PRECISION or x.dtype in _SMALL_INT:
                return x.astype(np.float32).astype(target)
            return x.astype(target)

    def _to_float32(self, scale):
        """A scale's values as float32 (the CUDA backend converts its raw bfloat16 containers)."""
        return scale.astype(np.float32)

    def _scale_for(self, scale, shape, axis):
        """``scale`` laid out to broadcast against a tensor of ``shape`` (per-channel or block-wise)."""
        scale = self._to_float32(scale)
        if axis is not None:
            view = [1] * len(shape)
            view[axis] = shape[axis]
            return scale.reshape(view)
        if scale.ndim == 2:
            for d in range(2):
                scale = self.xp.repeat(scale, shape[d] // scale.shape[d], axis=d)
        return scale

    def quantize(self, x, scale, *, dtype, axis):
        xp = self.xp
        scaled = x.astype(np.float32) / self._scale_for(scale, x.shape, axis)
        lo, hi = dtypes.QUANT_RANGE[dtype]
        if not dtype.is_float:
            scaled = xp.rint(xp.where(xp.isnan(scaled), 0, scaled))  # round half to even; NaN becomes 0
        return xp.clip(scaled, lo, hi).astype(dtype.numpy)

    def dequantize(self, q, scale, *, dtype, axis):
        return (q.astype(np.float32) * self._scale_for(scale, q.shape, axis)).astype(dtype.numpy)
