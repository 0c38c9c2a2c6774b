"""Fixtures of the TensorRT tests: a private engine cache per test, and the TensorRT module (or a skip).

CI installs TensorRT-RTX (the ``tensorrt`` extra), which builds real engines without a GPU; tests that
need TensorRT are skipped only where neither ``tensorrt`` nor ``tensorrt_rtx_bindings`` imports.
"""

from __future__ import annotations

import pytest

import tripy as tp
from tripy.backend.tensorrt import load_tensorrt
from tripy.compiler import executable


@pytest.fixture(autouse=True)
def engine_cache(tmp_path, monkeypatch):
    """Each test builds its engines afresh, into its own cache directory."""
    directory = tmp_path / "engines"
    monkeypatch.setenv("TRIPY_ENGINE_CACHE", str(directory))
    previous = tp.config.backend
    tp.config.backend = "numpy"
    executable._warned.clear()
    yield directory
    tp.config.backend = previous


@pytest.fixture
def trt():
    module = load_tensorrt()
    if module is None:
        pytest.skip("TensorRT is not installed (pip install '.[tensorrt]')")
    return module
