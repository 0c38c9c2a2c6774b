"""quantize/dequantize against an element-by-element NumPy reference, bit for bit (DESIGN §3)."""

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tripy_testing import FLOATS, ref_dequantize, ref_quantize

import tripy as tp

QDTYPES = [tp.int8, tp.int4, tp.float8]
HYP = settings(max_examples=25, deadline=None)
# Inputs and products beyond float16's range become inf, on purpose: both sides must agree on that too.
overflow_ok = pytest.mark.filterwarnings("ignore:overflow encountered")


def bits(t: tp.Tensor) -> np.ndarray:
    """The values of a quantized or float tensor as float64 (exact for every type here), NaN kept."""
    return t.numpy().astype(np.float64)


def assert_same(actual: tp.Tensor, expected: np.ndarray, dtype) -> None:
    assert actual.dtype == dtype and actual.shape == expected.shape
    np.testing.assert_array_equal(bits(actual), expected.astype(np.float64))


@st.composite
def case(draw, layout):
    """A random input (float32, float16 or bfloat16), a scale layout, and positive scales over many decades."""
    rank = draw(st.integers(1, 3)) if layout != "block" else 2
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    in_dtype = draw(st.sampled_from(FLOATS))
    magnitude = 10.0 ** draw(st.integers(-3, 3))
    dim = None
    if layout == "tensor":
        scale_shape = ()
    elif layout == "channel":
        dim = draw(st.integers(-rank, rank - 1))
        scale_shape = (shape[dim],)
    else:
        blocks = [draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0])) for n in shape]
        scale_shape = tuple(blocks)
    scale = (magnitude * rng.uniform(0.05, 2.0, size=scale_shape)).astype(np.float32)
    # Values up to ~200 scales: most in range, some saturating; a third of them exact ties k + 0.5.
    x = rng.normal(0, 40, size=shape) * magnitude
    ties = (rng.integers(-140, 140, size=shape) + 0.5) * float(scale.reshape(-1)[0])
    x = np.where(rng.random(shape) < 0.33, ties, x).astype(np.float32).astype(in_dtype.numpy)
    return x, scale, dim, in_dtype


@overflow_ok
@pytest.mark.parametrize("dtype", QDTYPES, ids=str)
@pytest.mark.parametrize("layout", ["tensor", "channel"])
def test_round_trip_matches_reference_bit_for_bit(backend, dtype, layout):
    @HYP
    @given(case(layout))
    def check(c):
        x, scale, dim, in_dtype = c
        q = tp.quantize(tp.Tensor(x), tp.Tensor(scale), dtype, dim)
        expected_q = ref_quantize(x, scale, dtype, dim)
        assert_same(q, expected_q, dtype)
        for out_dtype in FLOATS:
            dq = tp.dequantize(q, tp.Tensor(scale), out_dtype, dim)
            assert_same(dq, ref_dequantize(expected_q, scale, out_dtype, dim), out_dtype)

    check()


@overflow_ok
def test_block_wise_int4_matches_reference_bit_for_bit(backend):
    @HYP
    @given(case("block"))
    def check(c):
        x, scale, dim, in_dtype = c
        q = tp.quantize(tp.Tensor(x), tp.Tensor(scale), tp.int4)
        expected_q = ref_quantize(x, scale, tp.int4)
        assert_same(q, expected_q, tp.int4)
        assert_same(
            tp.dequantize(q, tp.Tensor(scale), tp.float32), ref_dequantize(expected_q, scale, tp.float32), tp.float32
        )

    check()


def test_block_wise_blocks_cover_contiguous_tiles(backend):
    x = tp.Tensor(np.arange(16, dtype=np.float32).reshape(4, 4))
    scale = tp.Tensor([[1.0, 2.0], [4.0, 8.0]])
    q = tp.quantize(x, scale, tp.int4)
    # Rows 0-1 / cols 0-1 use 1.0, rows 0-1 / cols 2-3 use 2.0, rows 2-3 use 4.0 and 8.0.
    assert q.tolist() == [[0, 1, 1, 2], [4, 5, 3, 4], [2, 2, 1, 1], [3, 3, 2, 2]]


@pytest.mark.parametrize("dtype", [tp.int8, tp.int4])
def test_ties_round_half_to_even(backend, dtype):
    x = tp.Tensor([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5, 0.49999997, 2.5000002])
    assert tp.quantize(x, 1.0, dtype).tolist() == [0, 2, 2, 4, 0, -2, -2, -4, 0, 3]
    # The tie is decided after dividing by the scale: 1.25 / 0.5 = 2.5 -> 2.
    assert tp.quantize(tp.Tensor([1.25, 0.75]), 0.5, dtype).tolist() == [2, 2]


@pytest.mark.parametrize("dtype, lo, hi", [(tp.int8, -128, 127), (tp.int4, -8, 7), (tp.float8, -448.0, 448.0)])
@overflow_ok
def test_saturation(backend, dtype, lo, hi):
    x = tp.Tensor([-1e6, lo - 1.0, lo - 0.4, lo, 0.0, hi, hi + 0.4, hi + 1.0, 1e6])
    q = tp.quantize(x, 1.0, dtype)
    values = q.tolist()
    assert values[0] == values[1] == lo and values[-1] == values[-2] == hi
    assert values[3] == lo and values[5] == hi
    assert min(values) == lo and max(values) == hi
    big = tp.quantize(tp.Tensor([1e30, -1e30]), 1e-30, dtype)
    assert big.tolist() == [hi, lo]


def test_float8_rounds_to_nearest_e4m3_value(backend):
    data = np.array([0.3, 1.0625, 17.0, 300.0, 449.0, -0.001, 0.0009], np.float32)
    expected = np.clip(data, -448, 448).astype(ml_dtypes.float8_e4m3fn).astype(np.float64)
    np.testing.assert_array_equal(bits(tp.quantize(tp.Tensor(data), 1.0, tp.float8)), expected)


@pytest.mark.parametrize("dtype, lo, hi", [(tp.int8, -128, 127), (tp.int4, -8, 7), (tp.float8, -448.0, 448.0)])
def test_infinities_saturate(backend, dtype, lo, hi):
    q = tp.quantize(tp.Tensor([float("inf"), float("-inf")]), 1.0, dtype)
    assert q.tolist() == [hi, lo]


@pytest.mark.parametrize("dtype", [tp.int8, tp.int4])
@pytest.mark.parametrize("in_dtype", FLOATS, ids=str)
def test_nan_quantizes_to_zero_in_integer_types(backend, dtype, in_dtype):
    # Defined (C leaves NaN-to-int undefined): NaN becomes 0, as GPU float-to-int conversions give.
    x = tp.Tensor([float("nan"), 1.0, -float("nan")], dtype=in_dtype)
    assert tp.quantize(x, 0.5, dtype).tolist() == [0, 2, 0]
    assert tp.quantize(x, tp.Tensor([1.0, 1.0, 1.0]), dtype, dim=0).tolist() == [0, 1, 0]


def test_float8_keeps_nan(backend):
    q = tp.quantize(tp.Tensor([float("nan"), 1.0]), 1.0, tp.float8)
    values = bits(q)
    assert np.isnan(values[0]) and values[1] == 1.0
    assert np.isnan(bits(tp.dequantize(q, 2.0, tp.float32))[0])


@pytest.mark.parametrize("in_dtype", FLOATS, ids=str)
@pytest.mark.parametrize("dtype", QDTYPES, ids=str)
def test_per_channel_along_every_dim(backend, in_dtype, dtype):
    rng = np.random.default_rng(7)
    x = rng.normal(0, 3, size=(2, 3, 4)).astype(np.float32).astype(in_dtype.numpy)
    for dim in range(-3, 3):
        scale = rng.uniform(0.1, 1.0, size=(x.shape[dim],)).astype(np.float32)
        q = tp.quantize(tp.Tensor(x), tp.Tensor(scale), dtype, dim=dim)
        assert_same(q, ref_quantize(x, scale, dtype, dim), dtype)


def test_scales_in_low_precision_and_python_forms(backend):
    x = tp.Tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    for scale in (0.5, tp.Tensor(0.5), tp.Tensor(0.5, dtype=tp.float16), tp.Parameter(0.5)):
        assert tp.quantize(x, scale, tp.int8).tolist() == [[2, -4, 6], [8, 10, -12]]
    assert tp.quantize(x, [1.0, 2.0], tp.int8, dim=0).tolist() == [[1, -2, 3], [2, 2, -3]]
    assert tp.quantize(x, tp.Tensor([1.0, 2.0], dtype=tp.bfloat16), tp.int8, dim=0).tolist() == [[1, -2, 3], [2, 2, -3]]


def test_dequantize_output_dtypes(backend):
    q = tp.Tensor([2, -3, 127], dtype=tp.int8)
    for dtype in FLOATS:
        out = tp.dequantize(q, 0.5, dtype)
        assert out.dtype == dtype and out.tolist() == [1.0, -1.5, 63.5]
