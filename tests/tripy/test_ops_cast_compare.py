"""cast (truncation, saturation of int8/int4/float8, low-precision floats) and allclose/equal."""

import ml_dtypes
import numpy as np
import pytest
from tripy_testing import FLOATS, assert_close, rand

import tripy as tp

ALL = [tp.float32, tp.float16, tp.bfloat16, tp.int32, tp.int8, tp.bool]


@pytest.mark.parametrize("src", ALL, ids=str)
@pytest.mark.parametrize("dst", ALL, ids=str)
def test_cast_between_ordinary_types(backend, src, dst):
    data = rand((3, 4), src, seed=1, low=-60, high=60)
    if src.is_float and not dst.is_float and dst != tp.bool:
        expected = np.trunc(data.astype(np.float32)).astype(dst.numpy)
    else:
        expected = data.astype(np.float32).astype(dst.numpy) if src.is_float else data.astype(dst.numpy)
    out = tp.cast(tp.Tensor(data), dst)
    assert out.dtype == dst
    assert_close(out, expected, dst, ulps=0)


def test_float_to_int_truncates_toward_zero(backend):
    assert tp.cast(tp.Tensor([1.7, -1.7, 2.5, -2.5, 0.4]), tp.int32).tolist() == [1, -1, 2, -2, 0]


@pytest.mark.parametrize("src", FLOATS, ids=str)
def test_cast_saturates_to_int8_and_int4(backend, src):
    data = np.array([-1e4, -200.0, -128.9, -9.0, -8.5, -3.7, 0.0, 6.9, 7.5, 127.9, 300.0, 1e4], np.float32)
    data = data.astype(src.numpy)
    wide = np.trunc(data.astype(np.float32))
    assert_close(tp.cast(tp.Tensor(data), tp.int8), np.clip(wide, -128, 127).astype(np.int8), tp.int8)
    assert_close(tp.cast(tp.Tensor(data), tp.int4), np.clip(wide, -8, 7).astype(ml_dtypes.int4), tp.int4)


@pytest.mark.parametrize("src", FLOATS, ids=str)
@pytest.mark.parametrize("dst", [tp.int8, tp.int4, tp.int32, tp.int64], ids=str)
def test_cast_of_nan_to_integers_is_zero(backend, src, dst):
    x = tp.Tensor([float("nan"), -1.5, float("nan")], dtype=src)
    assert tp.cast(x, dst).tolist() == [0, -1, 0]


def test_cast_saturates_int_to_int8_and_int4(backend):
    data = np.array([-1000, -129, -128, -9, -8, 7, 8, 127, 128, 1000], np.int32)
    assert tp.cast(tp.Tensor(data), tp.int8).tolist() == np.clip(data, -128, 127).tolist()
    assert tp.cast(tp.Tensor(data), tp.int4).tolist() == np.clip(data, -8, 7).tolist()


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # 1e5 is inf in float16
@pytest.mark.parametrize("src", FLOATS, ids=str)
def test_cast_to_float8_saturates_at_448_and_rounds_to_nearest(backend, src):
    data = np.array([-1e5, -500.0, -448.0, -0.3, 0.0, 0.3, 1.0625, 17.0, 300.0, 448.0, 464.0, 1e5], np.float32)
    data = data.astype(src.numpy)
    expected = np.clip(data.astype(np.float32), -448, 448).astype(ml_dtypes.float8_e4m3fn)
    out = tp.cast(tp.Tensor(data), tp.float8)
    assert out.dtype == tp.float8
    np.testing.assert_array_equal(out.numpy().astype(np.float32), expected.astype(np.float32))
    assert float(out.numpy().astype(np.float32).max()) == 448.0


@pytest.mark.parametrize("dst", FLOATS, ids=str)
def test_cast_from_float8_and_int4_is_exact(backend, dst):
    values = np.array([-448, -1.5, -0.015625, 0, 0.5, 3.25, 240, 448], np.float32)
    q = tp.cast(tp.Tensor(values), tp.float8)
    assert_close(tp.cast(q, dst), values.astype(dst.numpy), dst, ulps=0)
    ints = tp.cast(tp.Tensor(np.arange(-8, 8, dtype=np.int32)), tp.int4)
    assert_close(tp.cast(ints, dst), np.arange(-8, 8).astype(dst.numpy), dst, ulps=0)
    assert tp.cast(ints, tp.int32).tolist() == list(range(-8, 8))


def test_cast_to_same_dtype_is_the_tensor(backend):
    x = tp.Tensor([1.0])
    assert tp.cast(x, tp.float32) is x


def test_cast_rounds_to_float16_and_bfloat16(backend):
    data = rand((50,), tp.float32, seed=2, low=-100, high=100)
    for dst in (tp.float16, tp.bfloat16):
        np.testing.assert_array_equal(tp.cast(tp.Tensor(data), dst).numpy(), data.astype(dst.numpy))


@pytest.mark.parametrize("dtype", [*FLOATS, tp.int32, tp.int8])
def test_allclose(backend, dtype):
    data = rand((3, 4), dtype, seed=3)
    x = tp.Tensor(data)
    assert tp.allclose(x, tp.Tensor(data.copy()))
    assert tp.allclose(x, x + 0, rtol=0, atol=0)
    bumped = tp.Tensor((data.astype(np.float32) + 1).astype(dtype.numpy))
    assert not tp.allclose(x, bumped)
    assert tp.allclose(x, bumped, atol=1.01)


def test_allclose_tolerances(backend):
    a = tp.Tensor([100.0, 1.0])
    assert tp.allclose(a, tp.Tensor([100.001, 1.0]), rtol=1e-5, atol=0)
    assert not tp.allclose(a, tp.Tensor([100.01, 1.0]), rtol=1e-5, atol=0)
    assert tp.allclose(a, tp.Tensor([100.01, 1.0]), rtol=2e-4)
    assert tp.allclose(tp.Tensor([0.0]), tp.Tensor([1e-9]))
    assert not tp.allclose(tp.Tensor([0.0]), tp.Tensor([1e-7]))


def test_allclose_broadcasts(backend):
    assert tp.allclose(tp.ones((2, 3)), tp.ones((3,)))


@pytest.mark.parametrize("dtype", [*FLOATS, tp.int32, tp.int8, tp.bool])
def test_equal(backend, dtype):
    data = rand((2, 3), dtype, seed=4)
    assert tp.equal(tp.Tensor(data), tp.Tensor(data.copy()))
    other = data.copy()
    other[1, 2] = not other[1, 2] if dtype == tp.bool else other[1, 2] + 1
    assert not tp.equal(tp.Tensor(data), tp.Tensor(other))
    assert not tp.equal(tp.Tensor(data), tp.Tensor(data.reshape(3, 2)))
    assert not tp.equal(tp.Tensor(data), tp.Tensor(data[:1]))


def test_cast_of_out_of_range_floats_to_float16_is_inf_without_a_warning(backend):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tp.cast(tp.Tensor([1e6, -1e6, 1.5]), tp.float16).tolist()
    assert out == [float("inf"), float("-inf"), 1.5]
