"""im2col convolution against NumPy and PyTorch: exact for int8 sums, within a derived bound for floats."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conv_reference import U32, float_bound, reduction_length, ref_conv, ref_conv_transpose
from hypothesis import given, settings
from hypothesis import strategies as st

import tripy as tp
from tripy.frontend.ops.conv import conv_transpose, convolution

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TORCH_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}

CASES = [  # (input shape, weight shape, stride, padding, dilation, groups)
    ((2, 3, 9), (4, 3, 3), (1,), ((0, 0),), (1,), 1),
    ((1, 4, 10), (6, 2, 3), (2,), ((2, 1),), (2,), 2),
    ((2, 3, 7, 8), (5, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ((1, 4, 9, 7), (6, 2, 3, 2), (2, 3), ((1, 0), (2, 2)), (1, 2), 2),
    ((1, 6, 6, 6), (6, 1, 3, 3), (1, 2), ((1, 1), (0, 1)), (2, 1), 6),  # depthwise
    ((2, 2, 5, 6, 4), (3, 2, 2, 3, 2), (1, 2, 1), ((0, 1), (1, 1), (1, 0)), (2, 1, 1), 1),
    ((1, 3, 4, 4), (2, 3, 1, 1), (2, 2), ((0, 0), (0, 0)), (1, 1), 1),  # 1x1, strided
]


def _data(shape, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    if dtype == np.int8:
        return rng.integers(-128, 128, size=shape).astype(np.int8)
    return rng.uniform(-2, 2, size=shape).astype(dtype)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}x{c[1]}s{c[2]}d{c[4]}g{c[5]}")
def test_float32_matches_numpy_and_torch(backend, case):
    xs, ws, stride, padding, dilation, groups = case
    x, w, b = _data(xs, 0), _data(ws, 1), _data((ws[0],), 2)
    conv = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    out = convolution(tp.Tensor(x), tp.Tensor(w), tp.Tensor(b), **conv)
    ref = ref_conv(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **conv)
    bound = float_bound(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), reduction_length(w), **conv)
    got = out.numpy().astype(np.float64)
    assert out.dtype == tp.float32 and got.shape == ref.shape
    assert np.all(np.abs(got - ref) <= bound)
    padded = F.pad(torch.tensor(x, dtype=torch.float64), [p for pair in reversed(padding) for p in pair])
    expected = TORCH_CONV[len(stride)](
        padded, torch.tensor(w, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), stride, 0, dilation, groups
    )
    assert np.all(np.abs(got - expected.numpy()) <= bound)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}x{c[1]}s{c[2]}d{c[4]}g{c[5]}")
def test_int8_sums_are_exact(backend, case):
    xs, ws, stride, padding, dilation, groups = case
    x, w = _data(xs, 3, np.int8), _data(ws, 4, np.int8)
    conv = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    out = convolution(tp.Tensor(x), tp.Tensor(w), **conv)
    assert out.dtype == tp.int32
    np.testing.assert_array_equal(out.numpy(), ref_conv(x.astype(np.int64), w.astype(np.int64), **conv))


def test_int8_extremes_do_not_wrap(backend):
    """-128 * -128 summed over 3 * 3 * 8 products is 1179648: far outside int8 and int16, exact in int32."""
    x = np.full((1, 8, 3, 3), -128, dtype=np.int8)
    w = np.full((2, 8, 3, 3), -128, dtype=np.int8)
    out = convolution(tp.Tensor(x), tp.Tensor(w))
    assert out.tolist() == [[[[1179648]], [[1179648]]]]


def test_float16_within_one_rounding_of_float32(backend):
    x, w = _data((1, 4, 6, 6), 5, np.float16), _data((3, 4, 3, 3), 6, np.float16)
    out = convolution(tp.Tensor(x), tp.Tensor(w), padding=((1, 1), (1, 1)))
    ref = ref_conv(x.astype(np.float64), w.astype(np.float64), padding=((1, 1), (1, 1)))
    bound = float_bound(x.astype(np.float64), w.astype(np.float64), None, reduction_length(w), padding=((1, 1), (1, 1)))
    assert out.dtype == tp.float16
    assert np.all(np.abs(out.numpy().astype(np.float64) - ref) <= bound + 2.0**-11 * np.abs(ref))


@pytest.mark.parametrize(
    "xs, ws, stride, padding, dilation, groups",
    [
        ((1, 2, 5), (2, 3, 3), (2,), ((0, 0),), (1,), 1),
        ((2, 4, 4, 5), (4, 3, 3, 2), (2, 3), ((1, 1), (0, 1)), (1, 2), 2),
        ((1, 2, 5, 5), (2, 2, 3, 3), (1, 1), ((5, 2), (3, 2)), (2, 1), 1),  # padding past d*(k-1): crops
        ((1, 2, 2, 3, 2), (2, 1, 2, 2, 2), (2, 1, 2), ((0, 0), (1, 0), (0, 1)), (1, 1, 1), 2),
    ],
)
def test_conv_transpose_matches_numpy_and_torch(backend, xs, ws, stride, padding, dilation, groups):
    x, w, b = _data(xs, 7), _data(ws, 8), _data((ws[1] * groups,), 9)
    conv = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    out = conv_transpose(tp.Tensor(x), tp.Tensor(w), tp.Tensor(b), **conv)
    ref = ref_conv_transpose(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **conv)
    absolute = ref_conv_transpose(
        np.abs(x).astype(np.float64), np.abs(w).astype(np.float64), np.abs(b).astype(np.float64), **conv
    )
    bound = (xs[1] // groups * np.prod(ws[2:]) + 2) * U32 * absolute
    got = out.numpy().astype(np.float64)
    assert got.shape == ref.shape
    assert np.all(np.abs(got - ref) <= bound)
    torch_padding = [p for p, _ in padding]
    if all(p == q for p, q in padding):  # torch pads both ends alike
        expected = TORCH_CONV_T[len(stride)](
            torch.tensor(x, dtype=torch.float64),
            torch.tensor(w, dtype=torch.float64),
            torch.tensor(b, dtype=torch.float64),
            stride,
            torch_padding,
            0,
            groups,
            dilation,
        )
        assert np.all(np.abs(got - expected.numpy()) <= bound)


def test_conv_transpose_int8_is_exact(backend):
    x, w = _data((1, 2, 4, 3), 10, np.int8), _data((2, 3, 3, 2), 11, np.int8)
    conv = dict(stride=(2, 1), padding=((1, 0), (0, 1)), dilation=(1, 2))
    out = conv_transpose(tp.Tensor(x), tp.Tensor(w), **conv)
    assert out.dtype == tp.int32
    np.testing.assert_array_equal(out.numpy(), ref_conv_transpose(x.astype(np.int64), w.astype(np.int64), **conv))


@st.composite
def conv_shapes(draw):
    rank = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cg, og = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    stride = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilation = draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    padding = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=rank, max_size=rank))
    spatial = []
    for k, d, (b, a) in zip(kernel, dilation, padding, strict=True):
        least = max(1, d * (k - 1) + 1 - b - a)
        spatial.append(draw(st.integers(least, least + 4)))
    n = draw(st.integers(1, 2))
    return (
        (n, cg * groups, *spatial),
        (og * groups, cg, *kernel),
        tuple(stride),
        tuple(padding),
        tuple(dilation),
        groups,
    )


@settings(max_examples=30, deadline=None)
@given(case=conv_shapes(), seed=st.integers(0, 2**16))
def test_random_shapes_match_references(case, seed):
    xs, ws, stride, padding, dilation, groups = case
    conv = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    xi, wi = _data(xs, seed, np.int8), _data(ws, seed + 1, np.int8)
    exact = convolution(tp.Tensor(xi), tp.Tensor(wi), **conv)
    np.testing.assert_array_equal(exact.numpy(), ref_conv(xi.astype(np.int64), wi.astype(np.int64), **conv))
    x, w = _data(xs, seed + 2), _data(ws, seed + 3)
    got = convolution(tp.Tensor(x), tp.Tensor(w), **conv).numpy().astype(np.float64)
    padded = F.pad(torch.tensor(x, dtype=torch.float64), [p for pair in reversed(padding) for p in pair])
    expected = TORCH_CONV[len(stride)](padded, torch.tensor(w, dtype=torch.float64), None, stride, 0, dilation, groups)
    bound = float_bound(x.astype(np.float64), w.astype(np.float64), None, reduction_length(w), **conv)
    assert got.shape == tuple(expected.shape)
    assert np.all(np.abs(got - expected.numpy()) <= bound)
