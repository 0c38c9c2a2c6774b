"""Named dimensions, size arguments and saved executables on the cuda backend (run on a GPU machine).

Compiled functions there run as TensorRT engines where TensorRT runs them, else as captured CUDA graphs or
eagerly; each must equal the function evaluated eagerly on the same backend.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tripy as tp

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def cuda(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPY_ENGINE_CACHE", str(tmp_path / "engines"))
    previous = tp.config.backend
    tp.config.backend = "cuda"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback notice, where TensorRT cannot run the engine
        yield
    tp.config.backend = previous


def test_named_dimensions_on_the_gpu():
    batch = tp.NamedDimension("batch", 1, 2, 8)
    exe = tp.compile(
        lambda a, c: a * tp.sum(c, dim=1, keepdim=True),
        args=[tp.InputInfo((batch, 3), tp.float32), tp.InputInfo((batch, 4), tp.float32)],
    )
    for n in (1, 5, 8):
        a, c = tp.iota((n, 3)), tp.ones((n, 4))
        out = exe(a, c)
        assert out.device == "gpu:0"
        np.testing.assert_array_equal(out.numpy(), (a * 4.0).numpy())
    with pytest.raises(tp.TripyException, match="needs equal sizes"):
        exe(tp.ones((2, 3)), tp.ones((3, 4)))


def test_size_arguments_on_the_gpu():
    def grid(x, n):
        return tp.expand(x, (n, x.shape[1])) * n

    exe = tp.compile(grid, args=[tp.InputInfo((1, 3), tp.int32), tp.DimensionInputInfo((1, 2, 8))])
    x = tp.Tensor([[1, 2, 3]])
    for n in (1, 3, 8, 3):  # a bucket seen before is replayed
        out = exe(x, tp.DimensionSize(n))
        assert out.shape == (n, 3) and out.device == "gpu:0"
        np.testing.assert_array_equal(out.numpy(), grid(x, tp.DimensionSize(n)).numpy())


def test_dimension_size_of_a_dynamic_dimension_on_the_gpu():
    exe = tp.compile(
        lambda x: tp.reshape(x, (tp.DimensionSize(x.shape[0]) * 2, -1)), args=[tp.InputInfo(((1, 2, 8), 4), tp.float32)]
    )
    x = tp.iota((6, 4), dim=1)
    np.testing.assert_array_equal(exe(x).numpy(), np.tile(np.array([[0.0, 1.0], [2.0, 3.0]], np.float32), (6, 1)))


def test_a_saved_quantized_linear_loads_and_runs_on_the_gpu(tmp_path):
    linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.weight_scale = tp.Parameter([0.5, 1.0])
    linear.input_scale = tp.Parameter(0.25)
    exe = tp.compile(linear, args=[tp.InputInfo(((1, 3, 5), 4), tp.float32)])
    exe.save(tmp_path / "linear.tpexe")
    loaded = tp.Executable.load(tmp_path / "linear.tpexe")
    assert loaded.engine == exe.engine
    x = tp.iota((5, 4)) - 2.0
    np.testing.assert_array_equal(loaded(x).numpy(), exe(x).numpy())  # the same engine or graph
    # Eager: the same int32 sums, scaled by one float32 product of the scales (at most 1 ulp apart).
    np.testing.assert_allclose(loaded(x).numpy(), linear(x).numpy(), rtol=2**-22, atol=0)
