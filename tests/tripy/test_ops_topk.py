"""tp.topk against a stable NumPy sort, with ties, NaN and out-of-range k."""

import inspect

import numpy as np
import pytest
import torch
from tripy_testing import assert_user_line, mentions

import tripy as tp

FILE = __file__


def here() -> int:
    return inspect.currentframe().f_back.f_lineno


def ref_topk(data, k, dim):
    """Largest first; equal values in index order (a stable sort of the negated values)."""
    order = np.argsort(-data.astype(np.float64), axis=dim, kind="stable")
    index = np.take(order, np.arange(k), axis=dim)
    return np.take_along_axis(data, index, axis=dim), index.astype(np.int32)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.int32, tp.int8], ids=str)
def test_matches_a_stable_sort(backend, dim, k, dtype):
    rng = np.random.default_rng(k)
    data = rng.integers(-4, 5, size=(5, 6, 7)).astype(dtype.numpy)  # few distinct values: many ties
    values, indices = tp.topk(tp.Tensor(data), k, dim)
    ref_values, ref_indices = ref_topk(data, k, dim)
    assert values.dtype == dtype and indices.dtype == tp.int32
    np.testing.assert_array_equal(values.numpy(), ref_values)
    np.testing.assert_array_equal(indices.numpy(), ref_indices)


def test_matches_torch_on_distinct_values(backend):
    data = np.random.default_rng(0).permutation(60).reshape(3, 20).astype(np.float32)
    values, indices = tp.topk(tp.Tensor(data), 4, 1)
    expected = torch.topk(torch.tensor(data), 4, 1)
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())


def test_nan_is_largest_and_lowest_values_are_found(backend):
    data = np.array([1.0, np.nan, -np.inf, 3.0, -np.inf], dtype=np.float32)
    values, indices = tp.topk(tp.Tensor(data), 5, 0)
    assert indices.tolist() == [1, 3, 0, 2, 4]
    assert np.isnan(values.numpy()[0]) and values.tolist()[1:] == [3.0, 1.0, -np.inf, -np.inf]
    low = np.array([-128, 5, -128], dtype=np.int8)
    values, indices = tp.topk(tp.Tensor(low), 3, 0)
    assert values.tolist() == [5, -128, -128] and indices.tolist() == [1, 0, 2]


@pytest.mark.parametrize("k", [0, 5, -1, 1.5, True])
def test_out_of_range_k(backend, k):
    x_line = here() + 1
    x = tp.ones((2, 4))
    with pytest.raises(
        tp.TripyException, match=r"topk: `k`=.* is out of range: it must be an int from 1 to .* \(4"
    ) as exc:
        line = here() + 1
        tp.topk(x, k, 1)
    assert mentions(assert_user_line(exc, FILE, line), FILE, x_line)


def test_other_errors():
    with pytest.raises(tp.TripyException, match=r"topk: `dim`=2 is out of range"):
        tp.topk(tp.ones((2, 2)), 1, 2)
    with pytest.raises(tp.TripyException, match=r"topk: `input` must hold numbers, not bool"):
        tp.topk(tp.Tensor([True, False]), 1, 0)
