"""softmax, gelu, silu, sigmoid and relu against NumPy formulas."""

import math

import numpy as np
import pytest
from tripy_testing import FLOATS, assert_close, rand

import tripy as tp


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, dim", [((5,), None), ((2, 3), 0), ((2, 3), 1), ((2, 3, 4), -1), ((2, 3, 4), 1)])
def test_softmax(backend, dtype, shape, dim):
    data = rand(shape, dtype, seed=1, low=-5, high=5)
    out = tp.softmax(tp.Tensor(data), dim) if dim is not None else tp.softmax(tp.Tensor(data))
    expected = np_softmax(data.astype(np.float64), -1 if dim is None else dim)
    assert_close(out, expected.astype(dtype.numpy), dtype, ulps=8, atol=1e-6)
    sums = np.asarray(tp.sum(tp.cast(out, tp.float32), -1 if dim is None else dim).numpy())
    np.testing.assert_allclose(sums, 1.0, rtol=8 * (2**-7 if dtype != tp.float32 else 1e-6))


def test_softmax_is_stable_for_large_and_minus_inf_inputs(backend):
    x = tp.Tensor([[1000.0, 1000.0], [0.0, float("-inf")]])
    assert tp.softmax(x, 1).tolist() == [[0.5, 0.5], [1.0, 0.0]]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["gelu", "silu", "sigmoid", "relu"])
def test_activation(backend, dtype, name):
    data = rand((3, 7), dtype, seed=2, low=-6, high=6)
    ref = {
        "gelu": np_gelu_tanh,
        "silu": lambda x: x * np_sigmoid(x),
        "sigmoid": np_sigmoid,
        "relu": lambda x: np.maximum(x, 0),
    }[name]
    out = getattr(tp, name)(tp.Tensor(data))
    # Computed in float32 and rounded once to float16/bfloat16: within a rounding of the exact values,
    # even where they are tiny (gelu of large negative inputs).
    assert_close(out, ref(data.astype(np.float64)).astype(dtype.numpy), dtype, ulps=2, atol=1e-6)


def test_gelu_is_the_tanh_approximation(backend):
    # Erf-GELU(1) = 0.841345; the tanh approximation gives 0.841192.
    assert abs(tp.gelu(tp.Tensor([1.0])).tolist()[0] - 0.8411920) < 1e-6


@pytest.mark.parametrize("dtype", [tp.int32, tp.int8])
def test_relu_int(backend, dtype):
    data = rand((9,), dtype, seed=3)
    assert_close(tp.relu(tp.Tensor(data)), np.maximum(data, 0), dtype)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")
def test_sigmoid_saturates_without_nan(backend):
    assert tp.sigmoid(tp.Tensor([-1000.0, 0.0, 1000.0])).tolist() == [0.0, 0.5, 1.0]
