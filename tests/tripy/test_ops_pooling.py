"""tp.maxpool and tp.avgpool against PyTorch and a NumPy window reference, 1 to 3 spatial dimensions."""

import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from tripy_testing import assert_user_line, mentions, rand

import tripy as tp

FILE = __file__
TORCH_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
TORCH_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}

CASES = [  # (input shape, kernel, stride, padding)
    ((2, 3, 9), (3,), (2,), ((1, 1),)),
    ((1, 2, 7, 8), (2, 2), (2, 2), ((0, 0), (0, 0))),
    ((2, 2, 7, 6), (3, 2), (1, 2), ((1, 1), (1, 0))),
    ((1, 2, 5, 6, 4), (2, 3, 2), (2, 1, 2), ((1, 0), (1, 1), (0, 1))),
]


def here() -> int:
    return inspect.currentframe().f_back.f_lineno


def ref_pool(data, kernel, stride, padding, reduce, fill):
    r = len(kernel)
    padded = np.pad(data, [(0, 0), (0, 0), *padding], constant_values=fill)
    win = sliding_window_view(padded, kernel, axis=tuple(range(2, 2 + r)))
    win = win[(slice(None), slice(None), *(slice(None, None, s) for s in stride))]
    return reduce(win, axis=tuple(range(-r, 0)))


def _torch_padding(padding):
    return [p for pair in reversed(padding) for p in pair]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}k{c[1]}s{c[2]}")
@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.int8, tp.int32], ids=str)
def test_maxpool_is_exact(backend, case, dtype):
    shape, kernel, stride, padding = case
    data = rand(shape, dtype)
    out = tp.maxpool(tp.Tensor(data), kernel, stride, padding)
    fill = -np.inf if dtype.is_float else np.iinfo(dtype.numpy).min
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), ref_pool(data, kernel, stride, padding, np.max, fill))
    if dtype == tp.float32:
        padded = F.pad(torch.tensor(data), _torch_padding(padding), value=-np.inf)
        np.testing.assert_array_equal(out.numpy(), TORCH_MAX[len(kernel)](padded, kernel, stride).numpy())


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}k{c[1]}s{c[2]}")
@pytest.mark.parametrize("dtype", [tp.float32, tp.float16], ids=str)
def test_avgpool_within_the_sum_bound(backend, case, dtype):
    """A mean of K values summed in float32: error <= (K + 1) * u32 * mean|x|, plus one rounding to float16."""
    shape, kernel, stride, padding = case
    data = rand(shape, dtype)
    out = tp.avgpool(tp.Tensor(data), kernel, stride, padding)
    wide = data.astype(np.float64)
    expected = ref_pool(wide, kernel, stride, padding, np.mean, 0.0)
    size = int(np.prod(kernel))
    bound = (size + 1) * 2.0**-24 * ref_pool(np.abs(wide), kernel, stride, padding, np.mean, 0.0)
    if dtype == tp.float16:
        bound = bound + 2.0**-11 * np.abs(expected)
    got = out.numpy().astype(np.float64)
    assert out.dtype == dtype and np.all(np.abs(got - expected) <= bound)
    if dtype == tp.float32 and len(kernel) > 1 and all(a == b for a, b in padding):
        expected_torch = TORCH_AVG[len(kernel)](
            torch.tensor(wide), kernel, stride, [a for a, _ in padding], count_include_pad=True
        ).numpy()
        assert np.all(np.abs(got - expected_torch) <= bound)


def test_default_stride_is_one(backend):
    out = tp.maxpool(tp.reshape(tp.arange(9), (1, 1, 9)), (3,))
    assert out.tolist() == [[[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]]]


def test_padding_never_wins_the_maximum(backend):
    x = tp.full((1, 1, 2, 2), -5.0)
    out = tp.maxpool(x, (2, 2), (1, 1), ((1, 1), (1, 1)))
    assert out.tolist() == [[[[-5.0] * 3] * 3]]


@pytest.mark.parametrize(
    "op, shape, kwargs, message",
    [
        (
            tp.maxpool,
            (1, 2, 4, 4),
            dict(kernel_dims=(2,)),
            r"`kernel_dims` must have one value per spatial dimension \(2\)",
        ),
        (tp.maxpool, (1, 2, 4, 4), dict(kernel_dims=(2, 2), stride=(0, 1)), r"`stride` must hold ints >= 1"),
        (tp.avgpool, (1, 2, 4, 4), dict(kernel_dims=(2, 2), padding=((1, 1),)), r"`padding` must have one \(before"),
        (tp.avgpool, (1, 2, 4, 4), dict(kernel_dims=(2, 2), padding=((-1, 1), (0, 0))), r"`padding` must not be neg"),
        (tp.maxpool, (1, 2, 3, 4), dict(kernel_dims=(4, 2)), r"the window \(kernel_dims=\(4, 2\).* spans more than"),
        (tp.maxpool, (4, 4), dict(kernel_dims=(2,)), r"`input` must have shape \(N, C, \*spatial\) with 1 to 3"),
        (tp.maxpool, (1, 1, 2, 2, 2, 2), dict(kernel_dims=(1, 1, 1, 1)), r"with 1 to 3 spatial dimensions"),
    ],
)
def test_errors_name_the_argument(op, shape, kwargs, message):
    x_line = here() + 1
    x = tp.ones(shape)
    with pytest.raises(tp.TripyException, match=message) as exc:
        line = here() + 1
        op(x, **kwargs)
    message = assert_user_line(exc, FILE, line)
    if "`input` was created" in message:
        assert mentions(message, FILE, x_line)


def test_avgpool_needs_floats():
    with pytest.raises(tp.TripyException, match=r"avgpool: `input` must have a floating-point dtype, but it is int8"):
        tp.avgpool(tp.ones((1, 1, 4), tp.int8), (2,))
