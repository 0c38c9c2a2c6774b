"""Every primitive of the cuda backend against the numpy reference, for every dtype it takes.

Movement, integer, quantized and conversion results must be bit-identical; float arithmetic in float32
before one rounding is identical for the correctly rounded operations and within a few roundings for
transcendental functions and reductions.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from cuda_testing import (
    ALL,
    EPS,
    FLOATS,
    INTS,
    assert_same,
    cuda_backend,
    numpy_backend,
    primitive,
    run,
    run_both,
    sample,
)

import tripy as tp

pytestmark = pytest.mark.gpu

SPECIAL = np.array(
    [
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        3.49,
        7.5,
        -8.5,
        100.7,
        -300.2,
        447.0,
        449.0,
        460.0,
        470.0,
        1e4,
        -1e4,
        1e-3,
        2.0**-10,
        3 * 2.0**-11,
        np.inf,
        -np.inf,
        np.nan,
    ],
    dtype=np.float32,
)


@pytest.mark.parametrize("dtype", ALL)
def test_values_round_trip_bit_exactly(dtype):
    values = sample((3, 5), dtype, seed=1)
    cb = cuda_backend()
    value = cb.from_numpy(values, dtype)
    assert cb.dtype_of(value) == dtype
    back = cb.to_numpy(value, dtype)
    assert back.dtype == values.dtype and back.tobytes() == values.tobytes()
    scalar = cb.from_numpy(values.reshape(-1)[:1].reshape(()), dtype)
    assert cb.to_numpy(scalar, dtype).tobytes() == values.reshape(-1)[:1].tobytes()


@pytest.mark.parametrize("dst", ALL)
@pytest.mark.parametrize("src", ALL)
def test_cast_is_exact(src, dst):
    if src.is_float:
        values = numpy_backend().cast(SPECIAL, dtype=src)
        if not dst.is_float and dst != tp.bool:  # float to integer is undefined past the target's range
            finite = np.isfinite(values.astype(np.float32))
            big = np.abs(values.astype(np.float32)) > 1e9
            values = values[finite & ~big]
        if dst in (tp.int32, tp.int64):
            values = values[np.abs(values.astype(np.float32)) < 2**31]
    else:
        values = sample((40,), src, seed=2, low=-300, high=300)
    ref, got = run_both("cast", [values], [src], dtype=dst)
    assert_same(got, ref, dst)


@pytest.mark.parametrize("op", ["neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sin", "cos", "abs", "erf"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_unary_float(op, dtype):
    low = 0.1 if op in ("log", "sqrt", "rsqrt") else -3.0
    values = sample((4, 33), dtype, seed=3, low=low, high=3.0)
    ref, got = run_both("unary", [values], [dtype], op=op)
    exact = op in ("neg", "abs", "sqrt")
    assert_same(got, ref, dtype, ulps=0 if exact else (4 if dtype == tp.float32 else 1))


@pytest.mark.parametrize("op", ["neg", "abs"])
@pytest.mark.parametrize("dtype", INTS)
def test_unary_int(op, dtype):
    ref, got = run_both("unary", [sample((50,), dtype, seed=4)], [dtype], op=op)
    assert_same(got, ref, dtype)


def test_unary_not():
    ref, got = run_both("unary", [sample((50,), tp.bool, seed=5)], [tp.bool], op="not")
    assert_same(got, ref, tp.bool)


ARITH = ["add", "sub", "mul", "div", "max", "min", "pow", "floor_div", "mod"]
COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]


@pytest.mark.parametrize("op", ARITH + COMPARE)
@pytest.mark.parametrize("dtype", FLOATS)
def test_binary_float(op, dtype):
    a = sample((3, 40), dtype, seed=6, low=0.5 if op == "pow" else -6, high=3 if op == "pow" else 6)
    b = sample((1, 40), dtype, seed=7, low=-2 if op == "pow" else -6, high=2 if op == "pow" else 6)
    if op in ("div", "floor_div", "mod"):
        b = np.where(b.astype(np.float32) == 0, np.ones_like(b), b)
    b = np.broadcast_to(b, a.shape).copy() if op != "add" else b
    ref, got = run_both("binary", [a, b], [dtype, dtype], op=op)
    out = tp.bool if op in COMPARE else dtype
    exact = op in COMPARE or op in ("add", "sub", "mul", "div", "max", "min")
    assert_same(got, ref, out, ulps=0 if exact else 2)


@pytest.mark.parametrize("op", ARITH + COMPARE)
@pytest.mark.parametrize("dtype", INTS)
def test_binary_int(op, dtype):
    a = sample((3, 40), dtype, seed=8, low=-2, high=2)
    b = sample((3, 40), dtype, seed=9, low=-2, high=2)
    if op in ("div", "floor_div", "mod", "pow"):
        b = np.where(b.astype(np.int64) == 0, np.ones_like(b), b)
        if op == "pow":
            b = np.abs(b.astype(np.int64)).clip(0, 3).astype(b.dtype)
    ref, got = run_both("binary", [a, b], [dtype, dtype], op=op)
    assert_same(got, ref, tp.bool if op in COMPARE else dtype)


@pytest.mark.parametrize("op", ["and", "or", "eq", "ne"])
def test_binary_bool(op):
    a, b = sample((64,), tp.bool, seed=10), sample((64,), tp.bool, seed=11)
    ref, got = run_both("binary", [a, b], [tp.bool, tp.bool], op=op)
    assert_same(got, ref, tp.bool)


@pytest.mark.parametrize("dtype", ALL)
def test_where(dtype):
    cond = sample((4, 6), tp.bool, seed=12)
    a, b = sample((4, 6), dtype, seed=13), sample((4, 6), dtype, seed=14)
    ref, got = run_both("where", [cond, a, b], [tp.bool, dtype, dtype])
    assert_same(got, ref, dtype)


@pytest.mark.parametrize("axes, keepdim", [((1,), False), ((0, 2), True), ((0, 1, 2), False)])
@pytest.mark.parametrize("op", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("dtype", [d for d in ALL if d != tp.bool])
def test_reduce(dtype, op, axes, keepdim):
    values = sample((3, 4, 5), dtype, seed=15, low=-1 if op == "prod" else -6, high=1 if op == "prod" else 6)
    if op == "prod" and dtype.is_float:
        values = sample((3, 4, 5), dtype, seed=15, low=0.7, high=1.3)
    ref, got = run_both("reduce", [values], [dtype], op=op, axes=axes, keepdim=keepdim)
    if op in ("max", "min") or not dtype.is_float:
        assert_same(got, ref, dtype)
    else:  # summation order differs: allow a few roundings of the sum of magnitudes
        atol = values.size * 6 * EPS[tp.float32] * 4
        np.testing.assert_allclose(got.astype(np.float64), ref.astype(np.float64), rtol=2 * EPS[dtype], atol=atol)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", [d for d in ALL if d != tp.bool])
def test_argmax(dtype, keepdim):
    rng = np.random.default_rng(16)
    values = numpy_backend().cast(np.stack([rng.permutation(7) for _ in range(5)]).astype(np.float32) - 3, dtype=dtype)
    for axis in (0, 1):  # along axis 0 the values tie: both take the first
        ref, got = run_both("argmax", [values], [dtype], axis=axis, keepdim=keepdim)
        assert_same(got, ref, tp.int32)


MATMUL_SHAPES = [((4, 8), (8, 3)), ((2, 5, 8), (2, 8, 6)), ((1, 3, 4), (2, 4, 5)), ((17, 33), (33, 9))]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES)
@pytest.mark.parametrize("dtype", ALL[:-1])
def test_matmul(dtype, sa, sb):
    low, high = (-1.5, 1.5) if dtype.is_float else (-2, 2)
    a, b = sample(sa, dtype, seed=17, low=low, high=high), sample(sb, dtype, seed=18, low=low, high=high)
    ref, got = run_both("matmul", [a, b], [dtype, dtype])
    assert_same(got, ref, dtype, ulps=0 if not dtype.is_float else (64 if dtype == tp.float32 else 2))


def test_int8_matmul_wraps_like_the_reference():
    a, b = np.full((3, 64), 127, np.int8), np.full((64, 5), -127, np.int8)
    ref, got = run_both("matmul", [a, b], [tp.int8, tp.int8])
    assert_same(got, ref, tp.int8)


@pytest.mark.parametrize("dtype", ALL)
def test_movement(dtype):
    x = sample((2, 3, 4), dtype, seed=19)
    cases = [
        ("reshape", [x], dict(shape=(6, 4))),
        ("permute", [x], dict(perm=(2, 0, 1))),
        ("expand", [x[:, :1, :]], dict(shape=(2, 5, 4))),
        ("slice", [x], dict(starts=(1, 2, 3), sizes=(1, 2, 2), steps=(1, -1, -2))),
        ("slice", [x], dict(starts=(0, 0, 1), sizes=(2, 2, 2), steps=(1, 2, 2))),
        ("concat", [x, x[:, :1]], dict(axis=1)),
    ]
    for prim, arrays, attrs in cases:
        ref, got = run_both(prim, arrays, [dtype] * len(arrays), **attrs)
        assert_same(got, ref, dtype)
    indices = np.array([[2, 0], [1, -1]], dtype=np.int32)
    for axis in range(3):
        ref, got = run_both("gather", [x, indices % x.shape[axis]], [dtype, tp.int32], axis=axis)
        assert_same(got, ref, dtype)


@pytest.mark.parametrize("dtype", ALL)
def test_constants(dtype):
    nb, cb = numpy_backend(), cuda_backend()
    for dim in (0, 1):
        iota = primitive("iota", shape=(20, 3), dim=dim, dtype=dtype)
        assert_same(cb.to_numpy(run(cb, iota), dtype), np.asarray(run(nb, iota)), dtype)
    for value in (0, 1, -3, 2.5, True):
        if isinstance(value, float) and not dtype.is_float:
            continue
        full = primitive("full", shape=(2, 3), value=value, dtype=dtype)
        assert_same(cb.to_numpy(run(cb, full), dtype), np.asarray(run(nb, full)), dtype)


QUANT_INPUT = [tp.float32, tp.float16, tp.bfloat16]


def _scales(kind: str, shape, dtype_scale=tp.float32):
    rng = np.random.default_rng(20)
    if kind == "tensor":
        return np.array(0.37, dtype=np.float32), None
    if kind == "channel":
        return rng.uniform(0.05, 2.0, size=(shape[1],)).astype(np.float32), 1
    return rng.uniform(0.05, 2.0, size=(shape[0] // 2, shape[1] // 4)).astype(np.float32), None


# Block-wise scales exist for int4 only.
QUANT_LAYOUTS = [
    (q, k)
    for q in (tp.int8, tp.int4, tp.float8)
    for k in ("tensor", "channel", "block")
    if k != "block" or q == tp.int4
]


@pytest.mark.parametrize("qdtype,kind", QUANT_LAYOUTS)
@pytest.mark.parametrize("xdtype", QUANT_INPUT)
def test_quantize_dequantize_exact(xdtype, qdtype, kind):
    shape = (6, 8)
    x = sample(shape, xdtype, seed=21, low=-60, high=60)
    x.reshape(-1)[: SPECIAL.size - 3] = numpy_backend().cast(SPECIAL[:-3], dtype=xdtype)[: x.size]
    scale, axis = _scales(kind, shape)
    ref, got = run_both("quantize", [x, scale], [xdtype, tp.float32], dtype=qdtype, axis=axis)
    assert_same(got, ref, qdtype)
    for out in QUANT_INPUT:
        ref_d, got_d = run_both("dequantize", [ref, scale], [qdtype, tp.float32], dtype=out, axis=axis)
        assert_same(got_d, ref_d, out)


def test_quantize_rounds_half_to_even_and_saturates():
    cb = cuda_backend()
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.5, 128.0, -128.5, -129.0, 1e9], dtype=np.float32)
    one = cb.from_numpy(np.float32(1.0), tp.float32)
    q = run(cb, primitive("quantize", dtype=tp.int8, axis=None), cb.from_numpy(x, tp.float32), one)
    assert cb.to_numpy(q, tp.int8).tolist() == [0, 2, 2, 0, -2, -2, 127, 127, -128, -128, 127]
    big = cb.from_numpy(np.array([500.0, -1e6], np.float32), tp.float32)
    q8 = run(cb, primitive("quantize", dtype=tp.float8, axis=None), big, one)
    assert cb.to_numpy(q8, tp.float8).astype(np.float32).tolist() == [448.0, -448.0]


@pytest.mark.parametrize("qdtype", [tp.int8, tp.int4, tp.float8])
def test_quantize_keeps_subnormal_inputs_and_scales(qdtype):
    # CuPy compiles kernels with -ftz=true (subnormals flushed to zero); quantize and dequantize must still
    # divide and multiply like the host: a subnormal bfloat16 input over a subnormal scale is about 0.5 to 60.
    tiny = np.arange(1, 128, dtype=np.uint16).view(tp.bfloat16.numpy).astype(np.float32)  # bf16 subnormals
    x = np.concatenate([tiny, -tiny, np.float32([1e-39, 3e-39, 1.0])]).reshape(1, -1)
    for scale in (np.float32(1e-39), np.float32(9e-39), np.float32(2e-38)):
        ref, got = run_both("quantize", [x, scale], [tp.float32, tp.float32], dtype=qdtype, axis=None)
        assert_same(got, ref, qdtype)
        ref_d, got_d = run_both("dequantize", [ref, scale], [qdtype, tp.float32], dtype=tp.float32, axis=None)
        assert_same(got_d, ref_d, tp.float32)


def test_float8_conversion_matches_ml_dtypes_on_many_values():
    from tripy.backend.cuda.kernels import narrow

    rng = np.random.default_rng(22)
    wide = rng.standard_normal(20000) * 10.0 ** rng.integers(-4, 4, 20000)
    values = np.concatenate([wide.astype(np.float32), SPECIAL]).astype(np.float32)
    cb = cuda_backend()
    got = cb.to_numpy(narrow(cb.from_numpy(values, tp.float32), tp.float8), tp.float8)
    np.testing.assert_array_equal(got.view(np.uint8), values.astype(ml_dtypes.float8_e4m3fn).view(np.uint8))
    got_bf = cb.to_numpy(narrow(cb.from_numpy(values, tp.float32), tp.bfloat16), tp.bfloat16)
    np.testing.assert_array_equal(got_bf.view(np.uint16), values.astype(ml_dtypes.bfloat16).view(np.uint16))


def test_eps_table_covers_floats():
    assert set(EPS) == set(FLOATS)


def test_the_cuda_table_covers_every_primitive():
    from tripy.trace.primitives import ALL_PRIMITIVES

    assert set(cuda_backend().kernels) == set(ALL_PRIMITIVES)
