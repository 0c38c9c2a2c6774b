"""Reductions against NumPy: sum mean max min prod var argmax argmin all any, over dims, with keepdim."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tripy_testing import FLOATS, assert_close, rand

import tripy as tp

DIMS = [None, 0, -1, (0, 2), (1,), (2, 0, 1)]
SHAPE = (2, 3, 4)


def np_axis(dim):
    return tuple(dim) if isinstance(dim, tuple) else dim


def ref(fn, data, dim, keepdim, dtype, **kw):
    wide = data.astype(np.float32) if dtype.is_float else data.astype(np.int64)
    return np.asarray(fn(wide, axis=np_axis(dim), keepdims=keepdim, **kw)).astype(dtype.numpy)


@pytest.mark.parametrize("dtype", [*FLOATS, tp.int32, tp.int8])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_max_min_prod(backend, dtype, dim, keepdim):
    data = rand(SHAPE, dtype, seed=1, low=-2, high=2)
    x = tp.Tensor(data)
    assert_close(tp.sum(x, dim, keepdim), ref(np.sum, data, dim, keepdim, dtype), dtype, ulps=8, atol=1e-5)
    assert_close(tp.max(x, dim, keepdim), ref(np.max, data, dim, keepdim, dtype), dtype, ulps=0)
    assert_close(tp.min(x, dim, keepdim), ref(np.min, data, dim, keepdim, dtype), dtype, ulps=0)
    small = rand(SHAPE, dtype, seed=2, low=0.5, high=1.5) if dtype.is_float else np.sign(data).astype(dtype.numpy)
    assert_close(tp.prod(tp.Tensor(small), dim, keepdim), ref(np.prod, small, dim, keepdim, dtype), dtype, ulps=8)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_mean_var(backend, dtype, dim, keepdim):
    data = rand(SHAPE, dtype, seed=3)
    x = tp.Tensor(data)
    assert_close(tp.mean(x, dim, keepdim), ref(np.mean, data, dim, keepdim, dtype), dtype, ulps=8, atol=1e-5)
    assert_close(tp.var(x, dim, keepdim), ref(np.var, data, dim, keepdim, dtype, ddof=1), dtype, ulps=16)
    assert_close(tp.var(x, dim, keepdim, correction=0), ref(np.var, data, dim, keepdim, dtype), dtype, ulps=16)


@pytest.mark.parametrize("dtype", [*FLOATS, tp.int32, tp.int8])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin(backend, dtype, dim, keepdim):
    data = rand(SHAPE, dtype, seed=4, low=-3, high=3)
    x = tp.Tensor(data)
    for fn, np_fn in ((tp.argmax, np.argmax), (tp.argmin, np.argmin)):
        expected = np_fn(data.astype(np.float64), axis=dim, keepdims=keepdim if dim is not None else False)
        if dim is None and keepdim:
            expected = np.asarray(np_fn(data.astype(np.float64)))
        out = fn(x, dim, keepdim) if dim is not None else fn(x)
        assert out.dtype == tp.int32
        assert_close(out, expected.astype(np.int32), tp.int32)


def test_argmax_argmin_pick_the_first_of_ties(backend):
    x = tp.Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    assert tp.argmax(x, 1).tolist() == [1, 0]
    assert tp.argmin(x, 0).tolist() == [0, 1, 1]


@pytest.mark.parametrize("dtype", [tp.int8, tp.int32])
def test_argmin_of_the_most_negative_integer(backend, dtype):
    lo = int(np.iinfo(dtype.numpy).min)
    hi = int(np.iinfo(dtype.numpy).max)
    data = np.array([3, lo, 5, hi, lo], dtype=dtype.numpy)
    assert tp.argmin(tp.Tensor(data)).tolist() == int(np.argmin(data))
    assert tp.argmax(tp.Tensor(data)).tolist() == int(np.argmax(data))


def test_argmax_argmin_bool(backend):
    data = np.array([[True, False, True], [False, False, True]])
    x = tp.Tensor(data)
    assert_close(tp.argmax(x, 1), np.argmax(data, 1).astype(np.int32), tp.int32)
    assert_close(tp.argmin(x, 1), np.argmin(data, 1).astype(np.int32), tp.int32)


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_all_any(backend, dim, keepdim):
    data = np.array([[True, False, True], [True, True, True]])
    x = tp.Tensor(data)
    assert_close(tp.all(x, dim, keepdim), np.all(data, axis=np_axis(dim), keepdims=keepdim), tp.bool)
    assert_close(tp.any(x, dim, keepdim), np.any(data, axis=np_axis(dim), keepdims=keepdim), tp.bool)
    none = np.zeros((2, 3), bool)
    assert_close(tp.any(tp.Tensor(none), dim, keepdim), np.any(none, axis=np_axis(dim), keepdims=keepdim), tp.bool)


def test_reduction_of_scalar_results_are_rank_0(backend):
    out = tp.sum(tp.ones((2, 3)))
    assert out.shape == () and out.tolist() == 6.0
    assert tp.mean(tp.Tensor([1.0, 2.0, 6.0])).tolist() == 3.0
    assert tp.var(tp.Tensor([1.0, 3.0])).tolist() == 2.0


def test_float16_sum_is_accumulated_wider_and_rounded_once(backend):
    # 4096 tens: exactly 40960 (a float16 value), though a float16 running sum would stall at spacing 32.
    data = np.full((4096,), 10, np.float16)
    assert tp.sum(tp.Tensor(data)).tolist() == 40960.0
    # Means of many float16 values are accurate (computed in float32, rounded once).
    data = rand((2048,), tp.float16, seed=5, low=0, high=1)
    assert_close(tp.mean(tp.Tensor(data)), np.float16(data.astype(np.float32).mean()), tp.float16, ulps=1)


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.int32, tp.int8])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_all_any_of_numbers_test_for_nonzero(backend, dtype, dim):
    data = np.array([[0, 1, 2], [3, 0, 0]]).astype(dtype.numpy)
    x = tp.Tensor(data)
    assert_close(tp.all(x, dim), np.all(data, axis=dim), tp.bool)
    assert_close(tp.any(x, dim), np.any(data, axis=dim), tp.bool)


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_sum_and_prod_of_bools_count_in_int32(backend, dim):
    data = np.array([[True, True, False], [True, True, True]])
    x = tp.Tensor(data)
    assert_close(tp.sum(x, dim), np.sum(data, axis=dim).astype(np.int32), tp.int32)
    assert_close(tp.prod(x, dim), np.prod(data, axis=dim).astype(np.int32), tp.int32)


@pytest.mark.parametrize("dtype", [tp.float16, tp.bfloat16])
def test_low_precision_mean_and_var_do_not_overflow_midway(backend, dtype):
    # Sums of 4096 values near 30 (and their squares) exceed float16's 65504; the mean and variance do not.
    data = (30 + rand((4, 4096), dtype, seed=6, low=-1, high=1).astype(np.float32)).astype(dtype.numpy)
    wide = data.astype(np.float64)
    assert_close(tp.mean(tp.Tensor(data), 1), wide.mean(1).astype(dtype.numpy), dtype, ulps=1)
    assert_close(tp.var(tp.Tensor(data), 1), wide.var(1, ddof=1).astype(dtype.numpy), dtype, ulps=2)
    assert_close(tp.mean(tp.Tensor(data)), np.asarray(wide.mean()).astype(dtype.numpy), dtype, ulps=1)
    many = np.ones((70000,), dtype.numpy)  # the count itself is beyond float16's range
    assert tp.mean(tp.Tensor(many)).tolist() == 1.0


@st.composite
def reductions(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
    rank = len(shape)
    if rank and draw(st.booleans()):
        dims = draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank, unique_by=lambda d: d % rank))
        dim = tuple(dims) if len(dims) > 1 or draw(st.booleans()) else dims[0]
    else:
        dim = None
    return shape, dim, draw(st.booleans()), draw(st.sampled_from([tp.float32, tp.int32]))


def test_random_reductions_match_numpy(backend):
    @settings(max_examples=60, deadline=None)
    @given(reductions())
    def check(case):
        shape, dim, keepdim, dtype = case
        data = rand(shape, dtype, seed=7)
        x = tp.Tensor(data)
        axis = tuple(d % len(shape) for d in dim) if isinstance(dim, tuple) else dim
        assert_close(tp.sum(x, dim, keepdim), ref(np.sum, data, axis, keepdim, dtype), dtype, ulps=8, atol=1e-5)
        assert_close(tp.max(x, dim, keepdim), ref(np.max, data, axis, keepdim, dtype), dtype, ulps=0)
        if dtype.is_float:
            assert_close(tp.mean(x, dim, keepdim), ref(np.mean, data, axis, keepdim, dtype), dtype, ulps=8, atol=1e-6)

    check()
