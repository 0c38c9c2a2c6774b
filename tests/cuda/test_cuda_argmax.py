"""The cuda backend's Argmax row kernel gives NumPy's indices: the first maximum, the first NaN, ties and
infinities, at the widths of a vocabulary (one block per row, many elements per thread)."""

from __future__ import annotations

import numpy as np
import pytest
from cuda_testing import assert_same, numpy_backend, run_both

import tripy as tp

pytestmark = pytest.mark.gpu

FLOATS = [tp.float32, tp.float16, tp.bfloat16, tp.float8]


def _rows(cols: int, seed: int) -> np.ndarray:
    """Rows made to trip an argmax: random, ties at the maximum, NaNs, infinities, signed zeros."""
    rng = np.random.default_rng(seed)
    rows = [rng.normal(0, 4, cols)]
    tied = rng.integers(-3, 3, cols).astype(np.float64)  # many elements equal to the maximum
    rows.append(tied)
    nans = rng.normal(0, 1, cols)
    nans[[cols // 3, cols // 2, cols - 1]] = np.nan  # the first NaN wins over larger numbers
    nans[0] = 1e4
    rows.append(nans)
    last_nan = np.full(cols, -np.inf)
    last_nan[-1] = np.nan
    rows.append(last_nan)
    rows.append(np.full(cols, -np.inf))  # all equal: index 0
    zeros = np.zeros(cols)
    zeros[::2] = -0.0
    rows.append(zeros)  # -0.0 equals 0.0: index 0
    late = np.full(cols, -1.0)
    late[-1] = np.inf
    rows.append(late)
    return np.stack(rows).astype(np.float32)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("cols", [1, 5, 31, 256, 257, 2000, 8193, 50257])
def test_last_axis_matches_numpy(dtype, cols):
    values = numpy_backend().cast(_rows(cols, seed=cols), dtype=dtype)
    for keepdim in (False, True):
        ref, got = run_both("argmax", [values], [dtype], axis=1, keepdim=keepdim)
        assert_same(got, ref, tp.int32)
    ref, got = run_both("argmax", [values], [dtype], axis=-1, keepdim=False)
    assert_same(got, ref, tp.int32)


@pytest.mark.parametrize("shape", [(2, 3, 50257), (16, 1, 1000), (1, 7)])
def test_batched_rows_and_a_strided_input(shape):
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1, shape).astype(np.float16)
    ref, got = run_both("argmax", [values], [tp.float16], axis=len(shape) - 1, keepdim=False)
    assert_same(got, ref, tp.int32)
    previous, tp.config.backend = tp.config.backend, "cuda"
    try:  # a transposed (non-contiguous) input is read as laid out logically
        t = tp.transpose(tp.Tensor(values.swapaxes(-1, -2).copy()), -1, -2)
        assert np.array_equal(tp.argmax(t, dim=-1).numpy(), np.argmax(values.astype(np.float32), axis=-1))
    finally:
        tp.config.backend = previous


def test_other_axes_and_integers_run_cupy_argmax():
    values = np.random.default_rng(2).integers(-5, 5, (6, 9)).astype(np.int32)
    for axis in (0, 1):
        ref, got = run_both("argmax", [values], [tp.int32], axis=axis, keepdim=False)
        assert_same(got, ref, tp.int32)
    floats = values.astype(np.float32)
    ref, got = run_both("argmax", [floats], [tp.float32], axis=0, keepdim=True)
    assert_same(got, ref, tp.int32)


def test_block_size_covers_the_row():
    from tripy.backend.cuda.argmax import threads_for  # imports CuPy

    assert threads_for(1, 2) == 32 and threads_for(1024, 2) == 32 and threads_for(1025, 2) == 64
    assert threads_for(1025, 4) == 96 and threads_for(50257, 2) == 1024


@pytest.mark.parametrize("dtype", FLOATS)
def test_a_row_that_starts_between_16_byte_boundaries(dtype):
    values = numpy_backend().cast(_rows(1001, seed=3)[0], dtype=dtype)
    previous, tp.config.backend = tp.config.backend, "cuda"
    try:
        t = tp.cast(tp.Tensor(values.astype(np.float32)), dtype)  # exact: the values have the type's bits
        for start in (1, 3, 7, 15):
            got = tp.argmax(t[start:], dim=-1).numpy()
            assert int(got) == int(np.argmax(tp.cast(t, tp.float32).numpy()[start:]))
    finally:
        tp.config.backend = previous
