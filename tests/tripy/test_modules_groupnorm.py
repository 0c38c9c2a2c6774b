"""tp.GroupNorm against torch.nn.GroupNorm, and its errors."""

import numpy as np
import pytest
import torch
from tripy_testing import rand

import tripy as tp

U32 = 2.0**-24


def norm_bound(x, groups_of, weight, bias, eps, count):
    """Error of float32 normalisation over ``count`` values: the mean is off by <= count * u * mean|x|, the
    variance by <= (count + 2) u relatively, half of that reaches the rsqrt, plus a few roundings per value."""
    mean = groups_of(x).mean(axis=-1, keepdims=True)
    std = np.sqrt(groups_of(x).var(axis=-1, keepdims=True) + eps)
    spread = np.abs(groups_of(x) - mean)
    mean_error = count * U32 * groups_of(np.abs(x)).mean(axis=-1, keepdims=True)
    error = (spread * (count / 2 + 6) * U32 + mean_error) / std
    return np.abs(weight) * error.reshape(x.shape) + 2 * U32 * np.abs(bias)


@pytest.mark.parametrize("shape, groups", [((2, 6, 5), 3), ((1, 4, 3, 5), 2), ((2, 4, 3, 3), 4), ((1, 6, 2, 2, 3), 1)])
def test_matches_torch(backend, shape, groups):
    rng = np.random.default_rng(1)
    c = shape[1]
    norm = tp.GroupNorm(groups, c, eps=1e-5)
    norm.weight = rng.uniform(-2, 2, c).astype(np.float32)
    norm.bias = rng.uniform(-1, 1, c).astype(np.float32)
    ref = torch.nn.GroupNorm(groups, c, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(norm.weight.numpy()))
        ref.bias.copy_(torch.tensor(norm.bias.numpy()))
    x = rand(shape, tp.float32) + 3.0  # an offset makes the mean matter
    got = norm(tp.Tensor(x.astype(np.float32))).numpy().astype(np.float64)
    with torch.no_grad():
        expected = ref(torch.tensor(x, dtype=torch.float64)).numpy()
    view = (1, c) + (1,) * (len(shape) - 2)
    wide = x.astype(np.float32).astype(np.float64)
    count = c // groups * int(np.prod(shape[2:]))
    bound = norm_bound(
        wide,
        lambda a: a.reshape(shape[0], groups, -1),
        norm.weight.numpy().reshape(view),
        norm.bias.numpy().reshape(view),
        1e-5,
        count,
    )
    assert np.all(np.abs(got - expected) <= bound)


def test_float16_keeps_its_dtype(backend):
    norm = tp.GroupNorm(2, 4, dtype=tp.float16)
    out = norm(tp.Tensor(rand((1, 4, 3), tp.float16)))
    assert out.dtype == tp.float16 and out.shape == (1, 4, 3)


def test_errors():
    with pytest.raises(tp.TripyException, match=r"GroupNorm: `num_groups`=3 must be a positive int dividing"):
        tp.GroupNorm(3, 4)
    with pytest.raises(tp.TripyException, match=r"GroupNorm: the input must have shape \(N, 4, \.\.\.\)"):
        tp.GroupNorm(2, 4)(tp.ones((1, 2, 3)))
    assert list(tp.GroupNorm(2, 4).state_dict()) == ["weight", "bias"]
