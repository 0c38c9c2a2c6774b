"""A small CNN of tp.Conv, tp.BatchNorm, pooling and plain functions loads a PyTorch twin's state dict and
computes what it computes."""

import numpy as np
import torch

import tripy as tp


def _torch_net():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 8, 3, padding=1, groups=2, bias=False),
        torch.nn.AvgPool2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 5),
    ).double()
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
        net[1].weight.uniform_(0.5, 1.5)
        for value in net.state_dict().values():  # the float32 values tripy gets, so both see the same weights
            if value.is_floating_point():
                value.copy_(value.float().double())
    return net.eval()


def _tripy_net():
    return tp.Sequential(
        tp.Conv(3, 8, (3, 3), padding=[(1, 1), (1, 1)]),
        tp.BatchNorm(8),
        tp.relu,
        lambda x: tp.maxpool(x, (2, 2), stride=(2, 2)),
        tp.Conv(8, 8, (3, 3), padding=[(1, 1), (1, 1)], groups=2, bias=False),
        lambda x: tp.avgpool(x, (4, 4), stride=(4, 4)),
        lambda x: tp.flatten(x, 1),
        tp.Linear(8, 5),
    )


def test_cnn_matches_its_torch_twin(backend):
    ref, net = _torch_net(), _tripy_net()
    state = {k: v.float().numpy() for k, v in ref.state_dict().items()}
    result = net.load_state_dict(state, strict=False)
    assert result.unexpected_keys == ["1.num_batches_tracked"] and result.missing_keys == []
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    got = net(tp.Tensor(x)).numpy().astype(np.float64)
    with torch.no_grad():
        expected = ref(torch.tensor(x, dtype=torch.float64)).numpy()
    assert got.shape == (2, 5)
    # Each reducing layer errs by at most (L + 2) u of its magnitudes, with L = 27, 36, 16 and 8 products, and
    # BatchNorm and pooling by a few u: about 100 u in all, in units of the largest output (these random
    # weights and inputs give sums without heavy cancellation).
    np.testing.assert_allclose(got, expected, rtol=0, atol=100 * 2.0**-24 * np.abs(expected).max())
