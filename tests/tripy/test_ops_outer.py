"""tp.outer against numpy.outer."""

import numpy as np
import pytest
from tripy_testing import assert_close, rand

import tripy as tp


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.int32], ids=str)
def test_matches_numpy(backend, dtype):
    a, b = rand((4,), dtype, seed=1), rand((3,), dtype, seed=2)
    assert_close(tp.outer(tp.Tensor(a), tp.Tensor(b)), np.outer(a, b).astype(dtype.numpy), dtype, ulps=0)


def test_errors():
    with pytest.raises(tp.TripyException, match=r"outer: `vec2` must be 1-D, but its shape is \(2, 2\)"):
        tp.outer(tp.ones((2,)), tp.ones((2, 2)))
    with pytest.raises(tp.TripyException, match=r"operands have different dtypes"):
        tp.outer(tp.ones((2,)), tp.ones((2,), tp.int32))
