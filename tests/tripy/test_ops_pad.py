"""tp.pad against numpy.pad in every mode, and its errors."""

import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tripy_testing import assert_close, assert_user_line, mentions, rand

import tripy as tp

FILE = __file__
NUMPY_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def here() -> int:
    return inspect.currentframe().f_back.f_lineno


@pytest.mark.parametrize("mode", list(NUMPY_MODE))
@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.int8, tp.int32], ids=str)
@pytest.mark.parametrize("pad", [[(0, 0), (1, 2), (2, 0)], [(1, 1), (0, 0), (3, 3)], [(2, 1), (0, 3), (0, 0)]])
def test_modes_match_numpy(backend, mode, dtype, pad):
    data = rand((3, 4, 5), dtype)
    out = tp.pad(tp.Tensor(data), pad, mode=mode)
    assert_close(out, np.pad(data, pad, mode=NUMPY_MODE[mode]), dtype, ulps=0)


@pytest.mark.parametrize("value", [0, -3, 2.5])
def test_constant_value(backend, value):
    data = rand((2, 3), tp.float32)
    out = tp.pad(tp.Tensor(data), [(1, 0), (2, 1)], value=value)
    assert_close(out, np.pad(data, [(1, 0), (2, 1)], constant_values=value), tp.float32, ulps=0)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_matches_torch_on_images(backend, mode):
    data = rand((1, 2, 4, 5), tp.float32)
    out = tp.pad(tp.Tensor(data), [(0, 0), (0, 0), (3, 1), (2, 4)], mode=mode)
    expected = F.pad(torch.tensor(data), (2, 4, 3, 1), mode=mode).numpy()
    assert_close(out, expected, tp.float32, ulps=0)


def test_largest_pads_each_mode_allows(backend):
    data = rand((3,), tp.int32)
    assert_close(tp.pad(tp.Tensor(data), [(2, 2)], mode="reflect"), np.pad(data, 2, mode="reflect"), tp.int32)
    assert_close(tp.pad(tp.Tensor(data), [(3, 3)], mode="circular"), np.pad(data, 3, mode="wrap"), tp.int32)
    assert_close(tp.pad(tp.Tensor(data), [(7, 5)], mode="replicate"), np.pad(data, (7, 5), mode="edge"), tp.int32)


def test_no_padding_is_the_input():
    x = tp.ones((2, 2))
    assert tp.pad(x, [(0, 0), (0, 0)]) is x


@pytest.mark.parametrize(
    "pad, mode, value, message",
    [
        ([(1, 1)], "constant", 0, r"`pad` must have one \(before, after\) pair per dimension of `input` \(2"),
        ([(1, 1), (-1, 0)], "constant", 0, r"`pad` must not be negative"),
        ([1, 2], "constant", 0, r"`pad` must be a sequence of \(before, after\) pairs"),
        ([(0, 0), (1, 1)], "wrap", 0, r"`mode` must be one of 'constant', 'reflect', 'replicate', 'circular'"),
        ([(0, 0), (3, 0)], "reflect", 0, r"in mode 'reflect' each pad must be smaller than its dimension"),
        ([(0, 0), (0, 4)], "circular", 0, r"in mode 'circular' each pad must be at most its dimension"),
        ([(0, 0), (1, 1)], "constant", "x", r"`value` must be a number"),
    ],
)
def test_errors_name_the_argument(pad, mode, value, message):
    x_line = here() + 1
    x = tp.ones((2, 3))
    with pytest.raises(tp.TripyException, match=message) as exc:
        line = here() + 1
        tp.pad(x, pad, mode=mode, value=value)
    message = assert_user_line(exc, FILE, line)
    if "`input`" in message:
        assert mentions(message, FILE, x_line)


def test_fractional_value_for_integers_is_an_error():
    with pytest.raises(tp.TripyException, match=r"`value`=0.5 is not an integer, but `input` is int32"):
        tp.pad(tp.ones((2,), tp.int32), [(1, 1)], value=0.5)
