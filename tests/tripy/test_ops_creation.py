"""Creation ops against NumPy: iota, ones, zeros, full, arange, the *_like variants, tril and triu."""

import numpy as np
import pytest
from tripy_testing import FLOATS, assert_close, rand

import tripy as tp

DTYPES = [tp.float32, tp.float16, tp.bfloat16, tp.int32, tp.int8]
SHAPES = [(5,), (2, 3), (2, 3, 4), (1, 4, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_iota_counts_along_each_dim(backend, shape, dtype):
    for dim in range(-len(shape), len(shape)):
        view = [1] * len(shape)
        view[dim] = shape[dim]
        expected = np.broadcast_to(np.arange(shape[dim]).reshape(view), shape).astype(dtype.numpy)
        assert_close(tp.iota(shape, dim=dim, dtype=dtype), expected, dtype, ulps=0)


def test_iota_default_is_float32_along_dim_0(backend):
    out = tp.iota((3, 2))
    assert out.dtype == tp.float32
    assert out.tolist() == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]


@pytest.mark.parametrize("dtype", [*DTYPES, tp.bool])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_ones_zeros(backend, shape, dtype):
    assert_close(tp.ones(shape, dtype=dtype), np.ones(shape, dtype.numpy), dtype, ulps=0)
    assert_close(tp.zeros(shape, dtype=dtype), np.zeros(shape, dtype.numpy), dtype, ulps=0)


def test_ones_zeros_default_float32(backend):
    assert tp.ones((2,)).dtype == tp.float32 and tp.zeros((2,)).dtype == tp.float32
    assert tp.ones(3).shape == (3,)


@pytest.mark.parametrize(
    "dtype, value",
    [(tp.float32, 2.5), (tp.float16, -1.25), (tp.bfloat16, 3.0), (tp.int32, -7), (tp.int8, 100), (tp.bool, True)],
)
def test_full(backend, dtype, value):
    assert_close(tp.full((2, 3), value, dtype), np.full((2, 3), value, dtype.numpy), dtype, ulps=0)


@pytest.mark.parametrize("args", [(5,), (2, 7), (0, 6, 2), (1, 2, 0.25), (5, 0, -2), (-3, 3, 1.5), (3, 3)])
@pytest.mark.parametrize("dtype", [tp.float32, tp.int32, tp.float16])
def test_arange(backend, args, dtype):
    if not dtype.is_float and any(isinstance(a, float) for a in args):
        expected = np.trunc(np.arange(*args, dtype=np.float64)).astype(np.int32)
    else:
        expected = np.arange(*args).astype(dtype.numpy)
    assert_close(tp.arange(*args, dtype=dtype), expected, dtype, ulps=0)


@pytest.mark.parametrize("dtype", [*DTYPES, tp.bool])
def test_like_variants_take_shape_and_dtype(backend, dtype):
    x = tp.Tensor(rand((2, 3), dtype))
    assert_close(tp.ones_like(x), np.ones((2, 3), dtype.numpy), dtype, ulps=0)
    assert_close(tp.zeros_like(x), np.zeros((2, 3), dtype.numpy), dtype, ulps=0)
    assert_close(tp.full_like(x, 1), np.full((2, 3), 1, dtype.numpy), dtype, ulps=0)
    if dtype != tp.bool:
        expected = np.broadcast_to(np.arange(3), (2, 3)).astype(dtype.numpy)
        assert_close(tp.iota_like(x, dim=1), expected, dtype, ulps=0)
    assert tp.ones_like(x, dtype=tp.float16).dtype == tp.float16
    assert tp.zeros_like(x, dtype=tp.int32).tolist() == [[0, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize("dtype", [*DTYPES, tp.bool])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2), (2, 3, 5)])
@pytest.mark.parametrize("diagonal", [-2, -1, 0, 1, 3])
def test_tril_triu(backend, shape, dtype, diagonal):
    data = rand(shape, dtype, seed=sum(shape))
    x = tp.Tensor(data)
    assert_close(tp.tril(x, diagonal), np.tril(data, diagonal), dtype, ulps=0)
    assert_close(tp.triu(x, diagonal), np.triu(data, diagonal), dtype, ulps=0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_full_rounds_to_dtype(backend, dtype):
    assert_close(tp.full((2,), 0.1, dtype), np.full((2,), 0.1, np.float32).astype(dtype.numpy), dtype, ulps=0)


@pytest.mark.parametrize("dtype", [tp.int32, tp.int64])
def test_integer_arange_is_exact_beyond_float32_precision(backend, dtype):
    start = 2**25 + 1  # float32 cannot hold odd numbers this large
    expected = np.arange(start, start + 7, 3).astype(dtype.numpy)
    assert_close(tp.arange(start, start + 7, 3, dtype=dtype), expected, dtype)
