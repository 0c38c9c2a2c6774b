"""Helpers shared by the tripy tests: NumPy references, tolerances and checks of error locations."""

from __future__ import annotations

import re

import ml_dtypes
import numpy as np

import tripy as tp

FLOATS = [tp.float32, tp.float16, tp.bfloat16]
#: Relative tolerance of one rounding to each float type (results are compared with a few of these).
EPS = {tp.float32: 1e-6, tp.float16: 2**-10, tp.bfloat16: 2**-7}


def rand(shape, dtype, seed=0, low=-4.0, high=4.0) -> np.ndarray:
    """Random values of ``dtype`` (its NumPy type): floats in [low, high), ints in a small range."""
    rng = np.random.default_rng(seed)
    if dtype == tp.bool:
        return rng.random(shape) < 0.5
    if dtype.is_float:
        return rng.uniform(low, high, size=shape).astype(np.float32).astype(dtype.numpy)
    return rng.integers(int(low) * 2, int(high) * 2, size=shape).astype(dtype.numpy)


def assert_close(actual, expected, dtype, ulps: float = 4, atol: float = 0.0) -> None:
    """Compare a tensor with a NumPy array: exactly for ints and bools, within ``ulps`` roundings for floats."""
    got = actual.numpy() if isinstance(actual, tp.Tensor) else np.asarray(actual)
    expected = np.asarray(expected)
    if isinstance(actual, tp.Tensor):
        assert actual.dtype == dtype, f"dtype {actual.dtype} != {dtype}"
        assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    assert got.shape == expected.shape
    if dtype.is_float:
        g, e = got.astype(np.float64), expected.astype(np.float64)
        np.testing.assert_allclose(g, e, rtol=ulps * EPS.get(dtype, 2**-3), atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected.astype(got.dtype))


CALLED_AT = re.compile(r'Called at:\n  File "(?P<file>[^"]+)", line (?P<line>\d+)')


def assert_user_line(excinfo, filename: str, lineno: int) -> str:
    """The error's "Called at" location is the user's ``filename:lineno`` (never a file inside tripy)."""
    message = str(excinfo.value)
    match = CALLED_AT.search(message)
    assert match, f"no 'Called at' location in:\n{message}"
    assert match["file"] == filename and int(match["line"]) == lineno, message
    assert "/tripy/" not in match["file"].replace("/tests/tripy/", "/")
    return message


def mentions(message: str, filename: str, lineno: int) -> bool:
    """Whether ``message`` points at ``filename:lineno`` anywhere (e.g. where an operand was created)."""
    return f'File "{filename}", line {lineno}' in message


# -- NumPy reference of quantization, written element by element --------------------------------------
QRANGE = {tp.int8: (-128, 127), tp.int4: (-8, 7), tp.float8: (-448.0, 448.0)}


def ref_quantize_scalar(x: float, scale: float, dtype) -> float:
    """One element: divide in float32, round half to even (Python's round), clamp; float8 rounds by ml_dtypes."""
    y = float(np.float32(np.float64(np.float32(x)) / np.float64(np.float32(scale))))
    lo, hi = QRANGE[dtype]
    if dtype == tp.float8:
        y = min(max(y, lo), hi)
        return float(np.array(y, dtype=np.float32).astype(ml_dtypes.float8_e4m3fn).astype(np.float32))
    if np.isinf(y):
        return float(hi if y > 0 else lo)
    return float(min(max(round(y), lo), hi))


def scale_of(scale: np.ndarray, shape, dim, index) -> float:
    """The scale that covers element ``index`` of an input of ``shape``."""
    if scale.ndim == 0:
        return float(scale)
    if dim is not None:
        return float(scale[index[dim]])
    return float(scale[tuple(i // (n // s) for i, n, s in zip(index, shape, scale.shape, strict=True))])


def ref_quantize(x: np.ndarray, scale: np.ndarray, dtype, dim=None) -> np.ndarray:
    out = np.empty(x.shape, dtype=np.float64)
    for index in np.ndindex(*x.shape):
        out[index] = ref_quantize_scalar(float(x[index]), scale_of(scale, x.shape, dim, index), dtype)
    return out.astype(dtype.numpy)


def ref_dequantize(q: np.ndarray, scale: np.ndarray, dtype, dim=None) -> np.ndarray:
    out = np.empty(q.shape, dtype=np.float32)
    for index in np.ndindex(*q.shape):
        out[index] = np.float32(float(q[index])) * np.float32(scale_of(scale, q.shape, dim, index))
    return out.astype(dtype.numpy)
