"""tp.Sequential of modules and plain callables, and Module.named_children."""

import numpy as np
import pytest

import tripy as tp


class Block(tp.Module):
    def __init__(self):
        self.conv = tp.Conv(2, 2, (1,))
        self.norms = [tp.BatchNorm(2), tp.BatchNorm(2)]
        self.scale = tp.Parameter(2.0)

    def forward(self, x):
        return self.norms[1](self.norms[0](self.conv(x))) * self.scale


def test_callables_run_in_order_and_hold_no_state(backend):
    model = tp.Sequential(tp.Linear(2, 2), tp.relu, lambda x: x * 2.0, tp.Linear(2, 1))
    model.load_state_dict(
        {"0.weight": [[1.0, 0.0], [0.0, -1.0]], "0.bias": [0.0, 0.0], "3.weight": [[1.0, 1.0]], "3.bias": [0.5]}
    )
    out = model(tp.Tensor([[3.0, 4.0]]))
    assert out.tolist() == [[6.5]]  # relu(3, -4) = (3, 0), doubled, summed, plus 0.5
    assert list(model.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert len(model) == 4 and model[1] is tp.relu


def test_dict_of_modules_and_callables(backend):
    model = tp.Sequential({"fc": tp.Linear(2, 2), "act": tp.relu})
    assert list(model.state_dict()) == ["fc.weight", "fc.bias"]
    assert model["act"] is tp.relu
    assert "act: relu" in repr(model)


def test_not_callable_is_an_error():
    with pytest.raises(tp.TripyException, match=r"Sequential: entry '1' is a int, not a tp.Module or a callable"):
        tp.Sequential(tp.Linear(2, 2), 3)


def test_named_children_are_direct_modules_only():
    block = Block()
    names = [name for name, _ in block.named_children()]
    assert names == ["conv", "norms.0", "norms.1"]
    assert all(isinstance(child, tp.Module) for _, child in block.named_children())
    model = tp.Sequential(block, tp.relu, tp.Sequential(tp.Linear(2, 2)))
    assert [name for name, _ in model.named_children()] == ["0", "2"]
    assert [name for name, _ in model.named_modules()] == [
        "",
        "0",
        "0.conv",
        "0.norms.0",
        "0.norms.1",
        "2",
        "2.0",
    ]
    assert list(tp.Linear(2, 2).named_children()) == []


def test_block_with_children_runs(backend):
    out = Block()(tp.ones((1, 2, 3)))
    assert out.shape == (1, 2, 3) and np.isfinite(out.numpy()).all()
