"""Choosing the cuda backend: automatic with a usable GPU, a clear error when forced without one."""

from __future__ import annotations

import pytest

import tripy as tp
from tripy.backend import registry
from tripy.backend.registry import cuda_usable
from tripy.errors import TripyException


@pytest.fixture
def restore_backend():
    previous = tp.config.backend
    yield
    tp.config.backend = previous


def test_forced_cuda_without_a_gpu_is_a_clear_error(monkeypatch, restore_backend):
    monkeypatch.setattr(registry, "unusable_reason", lambda: "CUDA reports no device")
    monkeypatch.setattr(registry, "_instances", {})
    monkeypatch.setattr(registry, "_resolved", {})
    tp.config.backend = "cuda"
    with pytest.raises(
        TripyException, match="'cuda' backend was requested.*no GPU is usable: CUDA reports no device"
    ) as info:
        tp.Tensor([1.0])
    assert "tp.config.backend = 'numpy'" in str(info.value)
    assert __file__ in str(info.value)  # points at the user's line


@pytest.mark.gpu
def test_auto_picks_the_gpu(restore_backend):
    assert cuda_usable()
    tp.config.backend = "auto"
    t = tp.ones((2,)) + 1
    assert t.device == "gpu:0" and t.tolist() == [2.0, 2.0]
