"""tp.InstanceNorm against torch.nn.InstanceNorm (affine), and its errors."""

import numpy as np
import pytest
import torch
from test_modules_groupnorm import norm_bound
from tripy_testing import rand

import tripy as tp


@pytest.mark.parametrize("shape", [(2, 3, 7), (2, 3, 4, 5), (1, 2, 3, 2, 4)])
def test_matches_torch(backend, shape):
    rng = np.random.default_rng(2)
    c = shape[1]
    norm = tp.InstanceNorm(c, eps=1e-5)
    norm.weight = rng.uniform(-2, 2, c).astype(np.float32)
    norm.bias = rng.uniform(-1, 1, c).astype(np.float32)
    ref = {3: torch.nn.InstanceNorm1d, 4: torch.nn.InstanceNorm2d, 5: torch.nn.InstanceNorm3d}[len(shape)]
    ref = ref(c, eps=1e-5, affine=True, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(norm.weight.numpy()))
        ref.bias.copy_(torch.tensor(norm.bias.numpy()))
    x = (rand(shape, tp.float32) - 2.0).astype(np.float32)
    got = norm(tp.Tensor(x)).numpy().astype(np.float64)
    with torch.no_grad():
        expected = ref(torch.tensor(x, dtype=torch.float64)).numpy()
    view = (1, c) + (1,) * (len(shape) - 2)
    bound = norm_bound(
        x.astype(np.float64),
        lambda a: a.reshape(shape[0], c, -1),
        norm.weight.numpy().reshape(view),
        norm.bias.numpy().reshape(view),
        1e-5,
        int(np.prod(shape[2:])),
    )
    assert np.all(np.abs(got - expected) <= bound)


def test_errors():
    with pytest.raises(
        tp.TripyException, match=r"InstanceNorm: the input must have shape \(N, 3, \.\.\.\) with at least 3"
    ):
        tp.InstanceNorm(3)(tp.ones((2, 3)))
    with pytest.raises(tp.TripyException, match=r"InstanceNorm: the input must have shape \(N, 3, \.\.\.\)"):
        tp.InstanceNorm(3)(tp.ones((2, 4, 5)))
    assert list(tp.InstanceNorm(3).state_dict()) == ["weight", "bias"]
