"""tp.resize against torch.nn.functional.interpolate (nearest, linear, cubic; sizes and scales) and its errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tripy_testing import rand

import tripy as tp

TORCH_MODE = {("nearest", 3): "nearest", ("linear", 3): "linear", ("linear", 4): "bilinear"}
TORCH_MODE.update({("nearest", 4): "nearest", ("nearest", 5): "nearest", ("linear", 5): "trilinear"})
TORCH_MODE[("cubic", 4)] = "bicubic"

CASES = [  # (shape, output_shape or None, scales or None)
    ((1, 2, 5), (1, 2, 9), None),
    ((1, 2, 8), None, (1, 1, 0.5)),
    ((2, 3, 4, 5), (2, 3, 7, 3), None),
    ((1, 2, 5, 6), None, (1, 1, 2.5, 1.5)),
    ((1, 2, 6, 4), (1, 2, 3, 8), None),
    ((1, 1, 3, 4, 5), (1, 1, 5, 2, 7), None),
]


def _expected(data, mode, output_shape, scales, align_corners):
    torch_mode = TORCH_MODE[(mode, data.ndim)]
    kwargs = {"size": output_shape[2:]} if output_shape else {"scale_factor": scales[2:]}
    if torch_mode != "nearest":
        kwargs["align_corners"] = align_corners
    return F.interpolate(torch.tensor(data, dtype=torch.float64), mode=torch_mode, **kwargs).numpy()


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("mode, align_corners", [("nearest", False), ("linear", False), ("linear", True)])
def test_nearest_and_linear_match_torch(backend, case, mode, align_corners):
    """Linear outputs are weighted sums of two values per resized dimension with weights in [0, 1]: each
    dimension adds at most 4 roundings of max|x| (the weights' own rounding included)."""
    shape, output_shape, scales = case
    data = rand(shape, tp.float32)
    out = tp.resize(tp.Tensor(data), mode, output_shape=output_shape, scales=scales, align_corners=align_corners)
    expected = _expected(data, mode, output_shape, scales, align_corners)
    assert out.shape == expected.shape
    if mode == "nearest":
        np.testing.assert_array_equal(out.numpy(), expected)
    else:
        resized = sum(a != b for a, b in zip(shape, expected.shape, strict=True)) or 1
        bound = 4 * resized * 2.0**-24 * np.abs(data).max()
        assert np.abs(out.numpy() - expected).max() <= bound


@pytest.mark.parametrize("case", [c for c in CASES if len(c[0]) == 4], ids=str)
@pytest.mark.parametrize("align_corners", [False, True])
def test_cubic_matches_torch(backend, case, align_corners):
    """Four taps per dimension with weights summing to 1 and to at most 1.25 in magnitude (a = -0.75): each
    dimension rounds 4 weights, 4 products and 3 sums, at most 11 roundings of 1.25 * max|x|."""
    shape, output_shape, scales = case
    data = rand(shape, tp.float32)
    out = tp.resize(tp.Tensor(data), "cubic", output_shape=output_shape, scales=scales, align_corners=align_corners)
    expected = _expected(data, "cubic", output_shape, scales, align_corners)
    bound = 2 * 11 * 1.25**2 * 2.0**-24 * np.abs(data).max()
    assert np.abs(out.numpy() - expected).max() <= bound


def test_nearest_keeps_integers_and_float16_linear_rounds_once(backend):
    data = rand((1, 1, 3, 3), tp.int8)
    out = tp.resize(tp.Tensor(data), "nearest", scales=(1, 1, 2, 2))
    assert out.dtype == tp.int8
    np.testing.assert_array_equal(out.numpy(), data.repeat(2, axis=2).repeat(2, axis=3))
    half = rand((1, 1, 4, 4), tp.float16)
    got = tp.resize(tp.Tensor(half), "linear", output_shape=(1, 1, 7, 5))
    expected = _expected(half.astype(np.float32), "linear", (1, 1, 7, 5), None, False)
    assert got.dtype == tp.float16
    assert np.abs(got.numpy().astype(np.float64) - expected).max() <= 2.0**-11 * np.abs(expected).max() + 1e-6


def test_same_shape_is_the_input():
    x = tp.ones((1, 1, 2, 2))
    assert tp.resize(x, "linear", output_shape=(1, 1, 2, 2)) is x


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="bilinear", output_shape=(1, 1, 4, 4)), r"`mode` must be one of 'nearest', 'linear', 'cubic'"),
        (dict(mode="linear"), r"give exactly one of `output_shape` and `scales`"),
        (dict(mode="linear", output_shape=(1, 1, 4, 4), scales=(1, 1, 2, 2)), r"give exactly one of"),
        (dict(mode="linear", output_shape=(4, 4)), r"`output_shape` must have one entry per dimension of `input` \(4"),
        (dict(mode="linear", output_shape=(1, 1, 0, 4)), r"`output_shape` must hold positive ints"),
        (dict(mode="linear", scales=(1, 1, -2, 2)), r"`scales` must hold positive numbers"),
        (dict(mode="linear", scales=(1, 1, 0.1, 2)), r"leave each dimension at least 1 long"),
        (dict(mode="nearest", scales=(1, 1, 2, 2), align_corners=True), r"`align_corners` applies to modes"),
    ],
)
def test_errors_name_the_argument(kwargs, message):
    with pytest.raises(tp.TripyException, match=message) as exc:
        tp.resize(tp.ones((1, 1, 2, 2)), **kwargs)
    assert "test_ops_resize.py" in str(exc.value)


def test_linear_needs_floats():
    with pytest.raises(tp.TripyException, match=r"mode 'cubic' needs a floating-point `input`, but it is int32"):
        tp.resize(tp.ones((1, 1, 2, 2), tp.int32), "cubic", scales=(1, 1, 2, 2))
