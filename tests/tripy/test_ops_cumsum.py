"""tp.cumsum against numpy.cumsum: exact for integers (also past 2**24), bounded for floats."""

import numpy as np
import pytest
from tripy_testing import EPS, assert_close, rand

import tripy as tp


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("dtype", [tp.int32, tp.int64, tp.int8], ids=str)
def test_integers_are_exact(backend, dim, dtype):
    data = rand((5, 17, 3), dtype)
    expected = np.cumsum(data, axis=dim, dtype=dtype.numpy)  # int8 wraps, as tp.cumsum does
    assert_close(tp.cumsum(tp.Tensor(data), dim), expected, dtype)


def test_large_integer_sums_stay_exact(backend):
    data = np.full((100,), 2**24 + 1, dtype=np.int64)
    assert tp.cumsum(tp.Tensor(data), 0).tolist() == np.cumsum(data).tolist()


@pytest.mark.parametrize("n", [1, 2, 7, 64, 100])
@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.bfloat16], ids=str)
def test_floats_within_the_scan_bound(backend, n, dtype):
    """Each output is a sum of at most n terms in a tree of depth ceil(log2 n): error <= depth * u * sum |x|
    (in float32), plus one rounding to the output type."""
    data = rand((3, n), dtype)
    got = tp.cumsum(tp.Tensor(data), 1)
    assert got.dtype == dtype
    wide = data.astype(np.float64)
    expected, magnitude = np.cumsum(wide, axis=1), np.cumsum(np.abs(wide), axis=1)
    depth = max(1, int(np.ceil(np.log2(n))))
    bound = depth * 2.0**-24 * magnitude + (0 if dtype == tp.float32 else EPS[dtype]) * np.abs(expected)
    assert np.all(np.abs(got.numpy().astype(np.float64) - expected) <= bound)


def test_bools_count_as_int32(backend):
    out = tp.cumsum(tp.Tensor([True, False, True, True]), 0)
    assert out.dtype == tp.int32 and out.tolist() == [1, 1, 2, 3]


def test_bad_dim():
    with pytest.raises(tp.TripyException, match=r"cumsum: `dim`=2 is out of range for a tensor of rank 2"):
        tp.cumsum(tp.ones((2, 2)), 2)
