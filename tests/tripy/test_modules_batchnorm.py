"""tp.BatchNorm (inference form) against torch.nn.BatchNorm in eval mode, and its errors."""

import numpy as np
import pytest
import torch
from tripy_testing import rand

import tripy as tp

U32 = 2.0**-24


def _loaded(channels, seed=0):
    rng = np.random.default_rng(seed)
    norm = tp.BatchNorm(channels, eps=1e-3)
    state = {
        "weight": rng.uniform(-2, 2, channels),
        "bias": rng.uniform(-1, 1, channels),
        "running_mean": rng.uniform(-1, 1, channels),
        "running_var": rng.uniform(0.1, 3, channels),
    }
    norm.load_state_dict({k: v.astype(np.float32) for k, v in state.items()})
    return norm


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 7), (2, 3, 4, 5), (1, 3, 2, 3, 4)])
def test_matches_torch_eval(backend, shape):
    """Five float32 roundings (centre, rsqrt counted twice, two products) and the shift: <= 6u (|w r (x - m)| + |b|)."""
    norm = _loaded(3)
    ref = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}[
        len(shape)
    ]
    ref = ref(3, eps=1e-3, dtype=torch.float64).eval()
    ref.load_state_dict(
        {k: torch.tensor(v.numpy(), dtype=torch.float64) for k, v in norm.state_dict().items()}, strict=False
    )
    x = rand(shape, tp.float32)
    got = norm(tp.Tensor(x)).numpy().astype(np.float64)
    with torch.no_grad():
        expected = ref(torch.tensor(x, dtype=torch.float64)).numpy()
    view = (1, 3) + (1,) * (len(shape) - 2)
    p = {k: v.numpy().astype(np.float64).reshape(view) for k, v in norm.state_dict().items()}
    scaled = np.abs(p["weight"] * (x - p["running_mean"])) / np.sqrt(p["running_var"] + 1e-3)
    assert np.all(np.abs(got - expected) <= 6 * U32 * (scaled + np.abs(p["bias"])))


def test_float16_input_rounds_once(backend):
    norm = _loaded(3)
    x = rand((2, 3, 4), tp.float16)
    out = norm(tp.Tensor(x))
    wide = norm(tp.Tensor(x.astype(np.float32)))
    assert out.dtype == tp.float16
    np.testing.assert_array_equal(out.numpy(), wide.numpy().astype(np.float16))


def test_parameters_and_printout():
    norm = tp.BatchNorm(4)
    assert list(norm.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    assert all(p.shape == (4,) for p in norm.parameters())
    assert "num_features=4" in repr(norm) and "eps=1e-05" in repr(norm)


@pytest.mark.parametrize("shape, message", [((2, 4, 3), r"\(N, 3, \.\.\.\)"), ((3,), r"at least 2 dimensions")])
def test_wrong_channels(shape, message):
    with pytest.raises(tp.TripyException, match=message):
        tp.BatchNorm(3)(tp.ones(shape))


def test_integer_input():
    with pytest.raises(tp.TripyException, match=r"BatchNorm: the input must have a floating-point dtype"):
        tp.BatchNorm(2)(tp.ones((1, 2), tp.int32))
