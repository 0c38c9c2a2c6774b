"""matmul and ``@`` against NumPy: 1-D, 2-D and batched operands with broadcast batch dimensions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp
from tripy_testing import FLOATS, assert_close, rand

import tripy as tp

SHAPES = [
    ((4,), (4,)),
    ((4,), (4, 3)),
    ((2, 4), (4,)),
    ((2, 4), (4, 3)),
    ((5, 2, 4), (4, 3)),
    ((2, 4), (5, 4, 3)),
    ((5, 2, 4), (5, 4, 3)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 3, 4), (2, 1, 4, 6)),
    ((3, 2, 4), (4,)),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("sa, sb", SHAPES)
def test_matmul_float(backend, sa, sb, dtype):
    a, b = rand(sa, dtype, seed=1), rand(sb, dtype, seed=2)
    expected = np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(dtype.numpy)
    ulps = 2 if dtype != tp.float32 else 16
    assert_close(tp.matmul(tp.Tensor(a), tp.Tensor(b)), expected, dtype, ulps=ulps, atol=1e-4)
    assert_close(tp.Tensor(a) @ tp.Tensor(b), expected, dtype, ulps=ulps, atol=1e-4)


@pytest.mark.parametrize("dtype", [tp.int32, tp.int8])
@pytest.mark.parametrize("sa, sb", SHAPES)
def test_matmul_int_is_exact(backend, sa, sb, dtype):
    a, b = rand(sa, dtype, seed=3, low=-2, high=2), rand(sb, dtype, seed=4, low=-2, high=2)
    expected = np.matmul(a.astype(np.int64), b.astype(np.int64)).astype(dtype.numpy)
    assert_close(tp.Tensor(a) @ tp.Tensor(b), expected, dtype)


def test_matmul_vectors_give_a_scalar(backend):
    out = tp.Tensor([1.0, 2.0, 3.0]) @ tp.Tensor([4.0, 5.0, 6.0])
    assert out.shape == () and out.tolist() == 32.0


def test_int8_matmul_accumulates_wide(backend):
    # 64 products of 127 * 127 overflow int8 and int16 midway; the result is the wrapped exact sum.
    a, b = np.full((1, 64), 127, np.int8), np.full((64, 1), 127, np.int8)
    exact = 64 * 127 * 127
    assert (tp.Tensor(a) @ tp.Tensor(b)).tolist() == [[int(np.int64(exact).astype(np.int8))]]
    wide = tp.cast(tp.Tensor(a), tp.int32) @ tp.cast(tp.Tensor(b), tp.int32)
    assert wide.tolist() == [[exact]]


def test_matmul_with_transposed_operand(backend):
    a, b = rand((3, 4), tp.float32, seed=5), rand((5, 4), tp.float32, seed=6)
    out = tp.Tensor(a) @ tp.transpose(tp.Tensor(b), 0, 1)
    assert_close(out, a @ b.T, tp.float32, ulps=16, atol=1e-5)


def test_random_matmul_shapes_match_numpy(backend):
    @settings(max_examples=40, deadline=None)
    @given(
        hnp.mutually_broadcastable_shapes(signature="(m?,n),(n,p?)->(m?,p?)", max_dims=3, max_side=4),
    )
    def check(shapes):
        sa, sb = shapes.input_shapes
        a, b = rand(sa, tp.int32, seed=1, low=-2, high=2), rand(sb, tp.int32, seed=2, low=-2, high=2)
        out = tp.Tensor(a) @ tp.Tensor(b)
        assert_close(out, np.matmul(a, b), tp.int32)

    check()
