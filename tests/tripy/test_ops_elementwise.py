"""Elementwise math and the operators of tp.Tensor against NumPy, with broadcasting and Python scalars."""

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp
from tripy_testing import FLOATS, assert_close, rand

import tripy as tp

SHAPE_PAIRS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 1), (1, 5)), ((2, 1, 3), (4, 1)), ((), (3,)), ((3,), ())]

UNARY = {
    "exp": (tp.exp, np.exp, (-3, 3)),
    "log": (tp.log, np.log, (0.1, 5)),
    "sqrt": (tp.sqrt, np.sqrt, (0.0, 9)),
    "rsqrt": (tp.rsqrt, lambda x: 1 / np.sqrt(x), (0.1, 9)),
    "tanh": (tp.tanh, np.tanh, (-3, 3)),
    "sin": (tp.sin, np.sin, (-3, 3)),
    "cos": (tp.cos, np.cos, (-3, 3)),
    "abs": (tp.abs, np.abs, (-3, 3)),
    "neg": (operator.neg, np.negative, (-3, 3)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", [(7,), (2, 3, 4), ()])
def test_unary_float(backend, name, dtype, shape):
    fn, ref, (lo, hi) = UNARY[name]
    data = rand(shape, dtype, seed=3, low=lo, high=hi)
    assert_close(fn(tp.Tensor(data)), ref_float(ref, data, dtype), dtype, atol=1e-6)


def ref_float(fn, data, dtype):
    return np.asarray(fn(data.astype(np.float32))).astype(dtype.numpy)


@pytest.mark.parametrize("dtype", [tp.int32, tp.int8])
def test_abs_and_neg_int(backend, dtype):
    data = rand((3, 4), dtype, seed=1)
    assert_close(tp.abs(tp.Tensor(data)), np.abs(data), dtype)
    assert_close(-tp.Tensor(data), -data, dtype)
    assert_close(abs(tp.Tensor(data)), np.abs(data), dtype)


ARITH = {
    "+": (operator.add, np.add),
    "-": (operator.sub, np.subtract),
    "*": (operator.mul, np.multiply),
    "/": (operator.truediv, np.true_divide),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("sa, sb", SHAPE_PAIRS)
@pytest.mark.parametrize("op", list(ARITH))
def test_float_arithmetic_broadcasts(backend, op, sa, sb, dtype):
    fn, ref = ARITH[op]
    a, b = rand(sa, dtype, seed=1), rand(sb, dtype, seed=2, low=0.5, high=4)
    out = fn(tp.Tensor(a), tp.Tensor(b))
    assert_close(out, ref_pair(ref, a, b, dtype), dtype)


def ref_pair(ref, a, b, dtype):
    return np.asarray(ref(a.astype(np.float32), b.astype(np.float32))).astype(dtype.numpy)


@pytest.mark.parametrize("dtype", [tp.int32, tp.int8])
@pytest.mark.parametrize("sa, sb", SHAPE_PAIRS[:4])
def test_int_arithmetic(backend, sa, sb, dtype):
    a, b = rand(sa, dtype, seed=4), rand(sb, dtype, seed=5)
    b = np.where(b == 0, 3, b).astype(dtype.numpy)
    ta, tb = tp.Tensor(a), tp.Tensor(b)
    wide_a, wide_b = a.astype(np.int64), b.astype(np.int64)
    assert_close(ta + tb, (wide_a + wide_b).astype(dtype.numpy), dtype)
    assert_close(ta - tb, (wide_a - wide_b).astype(dtype.numpy), dtype)
    assert_close(ta * tb, (wide_a * wide_b).astype(dtype.numpy), dtype)
    # Integer division truncates toward zero (as in C and TensorRT); // floors and % follows //, as Python.
    assert_close(ta / tb, np.trunc(wide_a / wide_b).astype(dtype.numpy), dtype)
    assert_close(ta // tb, (wide_a // wide_b).astype(dtype.numpy), dtype)
    assert_close(ta % tb, (wide_a % wide_b).astype(dtype.numpy), dtype)


def test_int_division_rounds_toward_zero(backend):
    a, b = tp.Tensor([7, -7, 7, -7]), tp.Tensor([2, 2, -2, -2])
    assert (a / b).tolist() == [3, -3, -3, 3]
    assert (a // b).tolist() == [3, -4, -4, 3]
    assert (a % b).tolist() == [1, 1, -1, -1]


@pytest.mark.parametrize("dtype", FLOATS)
def test_floor_div_mod_pow_float(backend, dtype):
    a, b = rand((3, 4), dtype, seed=6), rand((4,), dtype, seed=7, low=0.5, high=3)
    ta, tb = tp.Tensor(a), tp.Tensor(b)
    assert_close(ta // tb, ref_pair(np.floor_divide, a, b, dtype), dtype)
    assert_close(ta % tb, ref_pair(np.mod, a, b, dtype), dtype, atol=1e-6)
    pos = np.abs(a).astype(dtype.numpy)
    assert_close(tp.Tensor(pos) ** tb, ref_pair(np.power, pos, b, dtype), dtype, atol=1e-6)
    assert_close(tp.pow(tp.Tensor(pos), tb), ref_pair(np.power, pos, b, dtype), dtype, atol=1e-6)


SCALAR_OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("fn", SCALAR_OPS, ids=lambda f: f.__name__)
def test_python_scalars_both_sides_take_tensor_dtype(backend, fn, dtype):
    data = rand((2, 3), dtype, seed=8, low=0.5, high=3)
    x = tp.Tensor(data)
    for scalar in (2.0, 3, 0.5):
        direct, reflected = fn(x, scalar), fn(scalar, x)
        assert direct.dtype == dtype and reflected.dtype == dtype
        s = np.float32(scalar).astype(dtype.numpy)
        assert_close(direct, ref_pair(fn, data, s, dtype), dtype)
        assert_close(reflected, ref_pair(fn, s, data, dtype), dtype)


@pytest.mark.parametrize("dtype", [tp.int32, tp.int8])
def test_python_int_scalars_with_int_tensors(backend, dtype):
    data = rand((5,), dtype, seed=9)
    x = tp.Tensor(data)
    wide = data.astype(np.int64)
    assert_close(x + 3, (wide + 3).astype(dtype.numpy), dtype)
    assert_close(3 - x, (3 - wide).astype(dtype.numpy), dtype)
    assert_close(2 * x, (2 * wide).astype(dtype.numpy), dtype)
    assert_close(x * 2.0, (2 * wide).astype(dtype.numpy), dtype)  # an integral float is allowed


def test_numpy_array_on_the_left_defers_to_tensor(backend):
    out = np.float32(2.0) + tp.Tensor([1.0, 2.0])
    assert isinstance(out, tp.Tensor) and out.tolist() == [3.0, 4.0]


COMPARE = {
    "==": (operator.eq, np.equal),
    "!=": (operator.ne, np.not_equal),
    "<": (operator.lt, np.less),
    "<=": (operator.le, np.less_equal),
    ">": (operator.gt, np.greater),
    ">=": (operator.ge, np.greater_equal),
}


@pytest.mark.parametrize("dtype", [*FLOATS, tp.int32, tp.int8])
@pytest.mark.parametrize("sa, sb", SHAPE_PAIRS)
@pytest.mark.parametrize("op", list(COMPARE))
def test_comparisons(backend, op, sa, sb, dtype):
    fn, ref = COMPARE[op]
    a, b = rand(sa, dtype, seed=10, low=-2, high=2), rand(sb, dtype, seed=11, low=-2, high=2)
    a = np.round(a).astype(dtype.numpy)  # rounded floats make ties, so == and <= are exercised
    b = np.round(b).astype(dtype.numpy)
    assert_close(fn(tp.Tensor(a), tp.Tensor(b)), ref(a, b), tp.bool)
    assert_close(fn(tp.Tensor(a), 1), ref(a, np.asarray(1, dtype.numpy)), tp.bool)
    assert_close(fn(1, tp.Tensor(a)), ref(np.asarray(1, dtype.numpy), a), tp.bool)


def test_bool_logic(backend):
    a, b = rand((3, 4), tp.bool, seed=1), rand((4,), tp.bool, seed=2)
    ta, tb = tp.Tensor(a), tp.Tensor(b)
    assert_close(ta & tb, a & b, tp.bool)
    assert_close(ta | tb, a | b, tp.bool)
    assert_close(~ta, ~a, tp.bool)
    assert_close(ta == tb, a == b, tp.bool)


@pytest.mark.parametrize("dtype", [*FLOATS, tp.int32, tp.int8])
def test_maximum_minimum(backend, dtype):
    a, b = rand((3, 1), dtype, seed=12), rand((1, 4), dtype, seed=13)
    assert_close(tp.maximum(tp.Tensor(a), tp.Tensor(b)), np.maximum(a, b), dtype, ulps=0)
    assert_close(tp.minimum(tp.Tensor(a), tp.Tensor(b)), np.minimum(a, b), dtype, ulps=0)
    assert_close(tp.maximum(tp.Tensor(a), 1), np.maximum(a, np.asarray(1, dtype.numpy)), dtype, ulps=0)


@pytest.mark.parametrize("dtype", [*FLOATS, tp.int32, tp.int8, tp.bool])
@pytest.mark.parametrize("sc, sa, sb", [((2, 3), (2, 3), (2, 3)), ((3,), (2, 3), ()), ((2, 1), (1, 3), (3,))])
def test_where(backend, sc, sa, sb, dtype):
    cond, a, b = rand(sc, tp.bool, seed=14), rand(sa, dtype, seed=15), rand(sb, dtype, seed=16)
    assert_close(tp.where(tp.Tensor(cond), tp.Tensor(a), tp.Tensor(b)), np.where(cond, a, b), dtype, ulps=0)


def test_where_with_python_scalars(backend):
    cond = tp.Tensor([True, False, True])
    x = tp.Tensor([1.0, 2.0, 3.0])
    assert tp.where(cond, x, 0.0).tolist() == [1.0, 0.0, 3.0]
    assert tp.where(cond, -1.0, x).tolist() == [-1.0, 2.0, -1.0]
    assert tp.where(cond, tp.Tensor([1, 2, 3]), 0).dtype == tp.int32


@pytest.mark.parametrize("dtype", [*FLOATS, tp.int32, tp.int8])
def test_masked_fill(backend, dtype):
    data, mask = rand((3, 4), dtype, seed=17), rand((4,), tp.bool, seed=18)
    out = tp.masked_fill(tp.Tensor(data), tp.Tensor(mask), -5)
    expected = np.where(mask, np.asarray(-5, dtype.numpy), data)
    assert_close(out, expected, dtype, ulps=0)


def test_masked_fill_with_minus_infinity_for_attention(backend):
    scores = tp.ones((3, 3))
    mask = tp.tril(tp.ones((3, 3), dtype=tp.int32)) == 0
    out = tp.masked_fill(scores, mask, float("-inf"))
    expected = np.where(np.tril(np.ones((3, 3))) == 0, -np.inf, 1.0).astype(np.float32)
    assert_close(out, expected, tp.float32, ulps=0)


def test_elementwise_chain_of_many_ops_matches_numpy(backend):
    data = rand((4, 5), tp.float32, seed=19, low=0.5, high=2)
    x = tp.Tensor(data)
    out = tp.sqrt(tp.exp(x) * 2.0 - x) / (1.0 + tp.abs(tp.sin(x)))
    d = data
    assert_close(out, (np.sqrt(np.exp(d) * 2 - d) / (1 + np.abs(np.sin(d)))).astype(np.float32), tp.float32)


def test_numpy_scalars_act_like_python_scalars(backend):
    ints, floats = tp.Tensor([1, 2]), tp.Tensor([1.0, 2.0], dtype=tp.float16)
    assert (ints + np.int64(2)).dtype == tp.int32 and (ints + np.int64(2)).tolist() == [3, 4]
    assert (floats * np.float64(0.5)).dtype == tp.float16 and (floats * np.float64(0.5)).tolist() == [0.5, 1.0]
    assert (np.float32(1.0) - floats).tolist() == [0.0, -1.0]


def test_scalar_operands_are_shared_but_keep_their_sign_and_type(backend):
    x, h = tp.Tensor([1.0, -2.0]), tp.Tensor([1.0, -2.0], dtype=tp.float16)
    # One tensor serves every use of a scalar of one type, dtype and rank...
    assert (x * 2).node.inputs[1] is (x + 2).node.inputs[1]
    assert (x * 2).node.inputs[1] is not (h * 2).node.inputs[1]  # another dtype
    assert (x * 2).node.inputs[1] is not (x * 2.0).node.inputs[1]  # another Python type
    assert (x * 2).node.inputs[1] is not (tp.Tensor([[1.0]]) * 2).node.inputs[1]  # another rank
    assert (x * 2).tolist() == (x * 2.0).tolist() == [2.0, -4.0]
    # ...except zeros, whose sign == cannot tell apart, and NaNs, unequal to themselves.
    assert np.signbit((x * 0.0).numpy()).tolist() == [False, True]
    assert np.signbit((x * -0.0).numpy()).tolist() == [True, False]
    assert np.isnan((x + float("nan")).numpy()).all()
    assert (x * 0.0).node.inputs[1] is not (x * 0.0).node.inputs[1]


def test_python_int_at_the_edge_of_the_dtype_range(backend):
    x = tp.Tensor([0, 1], dtype=tp.int8)
    assert (x + 127).tolist() == [127, -128]  # in range: the int8 sum wraps, as NumPy's does
    assert (x + -128).tolist() == [-128, -127]


def test_random_broadcast_shapes_match_numpy(backend):
    @settings(max_examples=40, deadline=None)
    @given(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, max_side=3))
    def check(shapes):
        sa, sb, sc = shapes.input_shapes
        a, b, c = rand(sa, tp.float32, seed=1), rand(sb, tp.float32, seed=2), rand(sc, tp.bool, seed=3)
        ta, tb, tc = tp.Tensor(a), tp.Tensor(b), tp.Tensor(c)
        assert_close(ta * tb - tb, a * b - b, tp.float32)
        assert_close(tp.where(tc, ta, tb), np.where(c, a, b), tp.float32, ulps=0)
        assert_close(tp.maximum(ta, tb) >= ta, np.maximum(a, b) >= a, tp.bool)

    check()
