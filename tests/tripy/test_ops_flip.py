"""tp.flip against numpy.flip."""

import numpy as np
import pytest
from tripy_testing import assert_close, rand

import tripy as tp


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2), (2, 1, 0)])
@pytest.mark.parametrize("dtype", [tp.float32, tp.int8, tp.bool], ids=str)
def test_matches_numpy(backend, dim, dtype):
    data = rand((2, 3, 4), dtype)
    assert_close(tp.flip(tp.Tensor(data), dim), np.flip(data, dim), dtype, ulps=0)


def test_twice_is_identity_and_sizes_one_and_zero(backend):
    data = rand((5, 1), tp.int32)
    assert tp.flip(tp.flip(tp.Tensor(data), 0), 0).tolist() == data.tolist()
    assert tp.flip(tp.Tensor(data), 1).tolist() == data.tolist()
    assert tp.flip(tp.zeros((0, 3)), 0).shape == (0, 3)


def test_errors():
    with pytest.raises(tp.TripyException, match=r"flip: `dim`=2 is out of range for a tensor of rank 2"):
        tp.flip(tp.ones((2, 2)), 2)
    with pytest.raises(tp.TripyException, match=r"flip: `dim` \(0, -2\) names a dimension more than once"):
        tp.flip(tp.ones((2, 2)), (0, -2))
