"""Helpers of the cuda backend tests: random data per dtype, and running one primitive on both backends."""

from __future__ import annotations

import numpy as np

import tripy as tp
from tripy import dtypes
from tripy.backend.registry import get_backend
from tripy.trace import primitives as prims

ALL = [tp.float32, tp.float16, tp.bfloat16, tp.float8, tp.int4, tp.int8, tp.int32, tp.int64, tp.bool]
FLOATS = [tp.float32, tp.float16, tp.bfloat16, tp.float8]
INTS = [tp.int4, tp.int8, tp.int32, tp.int64]
#: Relative tolerance of one rounding to each float type.
EPS = {tp.float32: 2.0**-23, tp.float16: 2.0**-10, tp.bfloat16: 2.0**-7, tp.float8: 2.0**-3}


def numpy_backend():
    return get_backend("numpy")


def cuda_backend():
    return get_backend("cuda")


def sample(shape, dtype, seed=0, low=-6.0, high=6.0) -> np.ndarray:
    """Random values representable in ``dtype`` (as ``dtype.numpy``); ints stay inside their type's range."""
    rng = np.random.default_rng(seed)
    if dtype == tp.bool:
        return rng.random(shape) < 0.5
    if dtype.is_float:
        values = rng.uniform(low, high, size=shape).astype(np.float32)
        return numpy_backend().cast(values, dtype=dtype)
    lo, hi = dtypes.QUANT_RANGE.get(dtype, (-100, 100))
    return rng.integers(max(lo, int(low) * 4), min(hi, int(high) * 4) + 1, size=shape).astype(dtype.numpy)


_OPS = {prims.Unary: prims.UnaryOp, prims.Binary: prims.BinaryOp, prims.Reduce: prims.ReduceOp}


def primitive(name: str, **attrs) -> prims.Primitive:
    """The primitive called ``name`` (its class name in lower case) with ``attrs``; ops may be given by value."""
    cls = next(c for c in prims.ALL_PRIMITIVES if c.__name__.lower() == name)
    if "op" in attrs:
        attrs["op"] = _OPS[cls](attrs["op"])
    return cls(**attrs)


def run(backend, prim: prims.Primitive, *values):
    """One primitive on ``backend``'s values, through its kernel table."""
    return backend.kernels[type(prim)](prim, *values)


def run_both(name: str, arrays: list[np.ndarray], in_dtypes: list, **attrs):
    """Primitive ``name`` on the numpy and the cuda backend; returns (reference, cuda result as a host array)."""
    nb, cb = numpy_backend(), cuda_backend()
    prim = primitive(name, **attrs)
    ref = run(nb, prim, *[nb.from_numpy(a, d) for a, d in zip(arrays, in_dtypes, strict=True)])
    got = run(cb, prim, *[cb.from_numpy(a, d) for a, d in zip(arrays, in_dtypes, strict=True)])
    ref = np.asarray(ref)
    out_dtype = attrs.get("dtype") if name in ("cast", "quantize", "dequantize", "iota", "full") else None
    out_dtype = out_dtype or dtypes.from_numpy(ref.dtype)
    assert cb.dtype_of(got) == out_dtype, f"cuda gave {cb.dtype_of(got)}, numpy {out_dtype}"
    return ref, cb.to_numpy(got, out_dtype)


def assert_same(got: np.ndarray, ref: np.ndarray, dtype, ulps: float = 0) -> None:
    """Equal shapes and dtypes; equal values (NaNs alike), or within ``ulps`` roundings for floats."""
    assert got.shape == ref.shape and got.dtype == ref.dtype, (got.shape, got.dtype, ref.shape, ref.dtype)
    if dtype.is_float:
        g, r = got.astype(np.float64), ref.astype(np.float64)
        if ulps == 0:
            np.testing.assert_array_equal(g, r)
        else:
            np.testing.assert_allclose(g, r, rtol=ulps * EPS[dtype], atol=ulps * EPS[dtype], equal_nan=True)
    else:
        np.testing.assert_array_equal(got.astype(np.int64), ref.astype(np.int64))
