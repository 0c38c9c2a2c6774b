"""Eager evaluations met again, replayed as CUDA graphs (``tripy/backend/cuda/eager_graphs.py``).

A replay launches the kernels the usual evaluation launches, on the same inputs, so every result must be
identical to it, bit for bit, floats included.
"""

from __future__ import annotations

import numpy as np
import pytest
from cuda_testing import cuda_backend

import tripy as tp
from tripy.trace.primitives import Unary

pytestmark = pytest.mark.gpu


def _fresh():
    from tripy.backend.cuda.eager_graphs import EagerGraphs  # imports CuPy: not at collection on CPU machines

    return EagerGraphs()


@pytest.fixture(autouse=True)
def graphs(monkeypatch):
    previous = tp.config.backend
    tp.config.backend = "cuda"
    fresh = _fresh()
    monkeypatch.setattr(cuda_backend(), "eager_graphs", fresh)
    yield fresh
    tp.config.backend = previous


def _layer(seed: int = 0):
    rng = np.random.default_rng(seed)
    linear = tp.Linear(64, 96, dtype=tp.float16)
    linear.weight = tp.Parameter(rng.uniform(-0.2, 0.2, (96, 64)).astype(np.float32), dtype=tp.float16)
    linear.bias = tp.Parameter(rng.uniform(-1, 1, (96,)).astype(np.float32), dtype=tp.float16)
    norm = tp.LayerNorm(96, dtype=tp.float16)

    def layer(x: tp.Tensor) -> tp.Tensor:
        h = tp.gelu(linear(x))
        return tp.softmax(tp.cast(norm(h), tp.float32), dim=-1) + tp.exp(-tp.cast(h, tp.float32))

    return layer


def _inputs(count: int, shape=(4, 64)) -> list[tp.Tensor]:
    rng = np.random.default_rng(7)
    return [tp.Tensor(rng.uniform(-2, 2, shape).astype(np.float32), dtype=tp.float16) for _ in range(count)]


def _usual(graphs, fn, *args) -> np.ndarray:
    graphs.enabled = False
    try:
        return fn(*args).numpy()
    finally:
        graphs.enabled = True


@pytest.mark.parametrize("rows", [4, 40])  # the few-row GEMV and the cuBLAS GEMM
def test_a_repeated_trace_is_replayed_and_equals_the_usual_evaluation(graphs, rows):
    layer = _layer()
    xs = _inputs(6, (rows, 64))
    got = [layer(x).numpy() for x in xs]
    assert graphs.stats["captured"] == 1 and graphs.stats["replayed"] == 5  # met once, then captured
    for x, value in zip(xs, got, strict=True):
        np.testing.assert_array_equal(value, _usual(graphs, layer, x))


def test_results_are_not_overwritten_by_later_replays(graphs):
    layer = _layer()
    xs = _inputs(8)
    results = [layer(x) for x in xs[:4]]
    for r in results:
        r.eval()
    kept = [r.numpy().copy() for r in results]
    for x in xs[4:]:
        layer(x).eval()
    assert graphs.stats["replayed"] >= 5
    for r, value, x in zip(results, kept, xs, strict=False):
        np.testing.assert_array_equal(r.numpy(), value)
        np.testing.assert_array_equal(r.numpy(), _usual(graphs, layer, x))


def test_referenced_intermediates_get_values_and_the_others_still_compute(graphs):
    w = tp.Tensor(np.linspace(-1, 1, 32, dtype=np.float32).reshape(4, 8))
    for i in range(4):
        x = tp.Tensor(np.full((3, 4), float(i), np.float32))
        hidden = tp.exp(x @ w)  # referenced by this variable
        out = tp.sum(hidden * 2.0 - 1.0, dim=1)
        out.eval()
    assert graphs.stats["replayed"] >= 2
    assert hidden.node is None  # it got its value from the replay
    np.testing.assert_array_equal(hidden.numpy(), _usual(graphs, lambda: tp.exp(x @ w)))
    np.testing.assert_array_equal(out.numpy(), _usual(graphs, lambda: tp.sum(tp.exp(x @ w) * 2.0 - 1.0, dim=1)))


def test_an_input_read_in_place_that_is_another_array_later_drops_the_graph(graphs):
    x = _inputs(1)[0]
    weights = [tp.Tensor(np.full((64, 32), 0.01 * (i + 1), np.float32), dtype=tp.float16) for i in range(2)]

    def fn(w):
        return tp.sum(tp.gelu(x @ w) * 3.0, dim=1)

    for _ in range(3):
        fn(weights[0]).eval()  # met, captured with x and the weight read in place, replayed
    assert graphs.stats["replayed"] == 2 and graphs.stats["dropped"] == 0
    other = fn(weights[1]).numpy()
    assert graphs.stats["dropped"] == 1
    np.testing.assert_array_equal(other, _usual(graphs, fn, weights[1]))
    np.testing.assert_array_equal(fn(weights[0]).numpy(), _usual(graphs, fn, weights[0]))


def test_non_contiguous_inputs_are_not_captured(graphs):
    """A copy into a contiguous buffer could take another kernel path (cuBLAS reads a transposed operand
    as such): such a trace runs as usual."""
    w = tp.Tensor(np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8))
    for i in range(4):
        b = tp.Tensor(np.arange(64, dtype=np.float32).reshape(8, 8) * (i + 1)).eval()
        x = tp.transpose(b, 0, 1).eval()  # a transposed view: not contiguous
        got = tp.sum(tp.exp(x @ w * 0.001), dim=0).numpy()
        np.testing.assert_array_equal(got, _usual(graphs, lambda x: tp.sum(tp.exp(x @ w * 0.001), dim=0), x))
    assert graphs.stats["refused"] == 1 and graphs.stats["replayed"] == 0


def test_a_trace_that_cannot_be_captured_runs_as_usual_and_is_not_tried_again(graphs, monkeypatch):
    import cupy

    cb = cuda_backend()
    unary = cb.kernels[Unary]

    def synchronizing(prim, x):
        cupy.asnumpy(x)  # a host copy: not allowed while a stream is captured
        return unary(prim, x)

    monkeypatch.setitem(cb.kernels, Unary, synchronizing)
    x = tp.Tensor(np.ones((5,), np.float32))
    results = [tp.sum(tp.exp(x * float(i)) + 1.0, dim=0).numpy() for i in range(5)]
    assert graphs.stats["refused"] == 1 and graphs.stats["replayed"] == 0
    np.testing.assert_allclose(results, [5 * (np.exp(i) + 1) for i in range(5)], rtol=2.0**-20)


def test_ten_thousand_replays_do_not_grow_memory(graphs):
    import cupy

    layer = _layer()
    x = _inputs(1)[0]
    for _ in range(50):
        layer(x).eval()
    cupy.cuda.Device().synchronize()
    pool = cupy.get_default_memory_pool()
    used = pool.used_bytes()
    for _ in range(10_000):
        out = layer(x).eval()
    cupy.cuda.Device().synchronize()
    del out
    assert graphs.stats["captured"] == 1
    assert pool.used_bytes() <= used + (1 << 16)


def test_turned_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("TRIPY_EAGER_GRAPHS", "0")
    assert not _fresh().enabled
