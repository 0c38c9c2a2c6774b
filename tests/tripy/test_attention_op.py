"""``tp.scaled_dot_product_attention`` on the CPU: against a float64 formula, and its error messages.

Tolerance against the exact (float64) formula, for inputs of dtype relative precision ``e`` (2**-10 for
float16, 2**-23 for float32): the steps round each score to the dtype twice (before and after the scale:
``2 e |s|`` per score, plus float32 sums of D products for float32 inputs, ``D e sum|q k| scale``), which
moves each probability by a factor within ``exp(+-2 ds)``; the probabilities and the output are rounded
once each (``e``), and float32 exp, sum and division add ``(4 + spread + T) * 2**-23``. So
``|out - exact| <= max|v| * (2 ds + 2 e + (4 + spread + 2 T) * 2**-23)``, with a 1 % margin.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tripy as tp

EPS = {tp.float16: 2.0**-10, tp.float32: 2.0**-23}
F32 = 2.0**-23


@pytest.fixture(autouse=True)
def _numpy_backend():
    previous = tp.config.backend
    tp.config.backend = "numpy"
    yield
    tp.config.backend = previous


def _exact(q, k, v, causal: bool, start: int, scale: float) -> np.ndarray:
    """softmax(q k^T scale, masked) v in float64."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    s = q @ k.swapaxes(-1, -2) * scale
    if causal:
        seen = np.arange(k.shape[-2])[None, :] <= start + np.arange(q.shape[-2])[:, None]
        s = np.where(seen, s, -np.inf)
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    return (p / p.sum(axis=-1, keepdims=True)) @ v


def _bound(q, k, v, dtype, scale: float) -> float:
    e = EPS[dtype]
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    d, t = q.shape[-1], k.shape[-2]
    s = np.abs(q @ k.swapaxes(-1, -2)) * scale
    l1 = (np.abs(q) @ np.abs(k).swapaxes(-1, -2)) * scale
    ds = float(np.max(2 * e * s + (d * F32 + e) * l1))
    spread = float(np.max(s)) * 2
    return float(np.abs(v).max()) * 1.01 * (2 * ds + 2 * e + (4 + spread + 2 * t) * F32)


def _draw(rng, shape, dtype):
    return rng.uniform(-2, 2, size=shape).astype(np.float32).astype(dtype.numpy)


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16])
@pytest.mark.parametrize("causal, start, s, t", [(False, 0, 3, 9), (True, 0, 3, 9), (True, 6, 3, 9), (True, 4, 1, 12)])
def test_matches_the_float64_formula(dtype, causal, start, s, t):
    rng = np.random.default_rng(start * 10 + s)
    q, k, v = _draw(rng, (2, 3, s, 16), dtype), _draw(rng, (2, 3, t, 16), dtype), _draw(rng, (2, 3, t, 16), dtype)
    position = tp.Tensor(np.array([start], np.int32))
    out = tp.scaled_dot_product_attention(tp.Tensor(q), tp.Tensor(k), tp.Tensor(v), causal=causal, start=position)
    assert out.dtype == dtype and out.shape == (2, 3, s, 16)
    got = out.numpy().astype(np.float64)
    exact = _exact(q, k, v, causal, start, 1 / math.sqrt(16))
    assert np.abs(got - exact).max() <= _bound(q, k, v, dtype, 0.25)


def test_scale_start_as_int_and_values_of_another_width():
    rng = np.random.default_rng(7)
    q, k, v = _draw(rng, (4, 2, 8), tp.float32), _draw(rng, (4, 5, 8), tp.float32), _draw(rng, (4, 5, 3), tp.float32)
    out = tp.scaled_dot_product_attention(tp.Tensor(q), tp.Tensor(k), tp.Tensor(v), causal=True, start=2, scale=0.7)
    assert out.shape == (4, 2, 3)
    assert np.abs(out.numpy() - _exact(q, k, v, True, 2, 0.7)).max() <= _bound(q, k, v, tp.float32, 0.7)


def test_a_start_past_the_cache_sees_every_key_and_keys_past_it_are_never_seen():
    rng = np.random.default_rng(8)
    q, k, v = _draw(rng, (1, 2, 8), tp.float32), _draw(rng, (1, 6, 8), tp.float32), _draw(rng, (1, 6, 8), tp.float32)
    full = tp.scaled_dot_product_attention(tp.Tensor(q), tp.Tensor(k), tp.Tensor(v)).numpy()
    late = tp.scaled_dot_product_attention(tp.Tensor(q), tp.Tensor(k), tp.Tensor(v), causal=True, start=100).numpy()
    np.testing.assert_array_equal(late, full)
    k2, v2 = k.copy(), v.copy()
    k2[:, 3:], v2[:, 3:] = 50.0, -50.0  # keys 3.. are past start + i for both rows (start = 1)
    a = tp.scaled_dot_product_attention(tp.Tensor(q), tp.Tensor(k), tp.Tensor(v), causal=True, start=1).numpy()
    b = tp.scaled_dot_product_attention(tp.Tensor(q), tp.Tensor(k2), tp.Tensor(v2), causal=True, start=1).numpy()
    np.testing.assert_array_equal(a, b)


def test_the_docstring_example_values():
    q, k = tp.ones((1, 2, 4)), tp.ones((1, 3, 4))
    v = tp.reshape(tp.iota((3,)), (1, 3, 1))
    assert tp.scaled_dot_product_attention(q, k, v, causal=True, start=1).tolist() == [[[0.5], [1.0]]]


def _sdpa(*args, **kwargs):
    return tp.scaled_dot_product_attention(*args, **kwargs)


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((tp.ones((1, 2, 4), dtype=tp.int32), tp.ones((1, 3, 4)), tp.ones((1, 3, 4))), {}, "`query` must have a float"),
        ((tp.ones((1, 2, 4)), tp.ones((1, 3, 4), dtype=tp.int8), tp.ones((1, 3, 4))), {}, "`key` must have a float"),
        ((tp.ones((1, 2, 4)), tp.ones((1, 3, 4)), tp.ones((1, 3, 4), dtype=tp.float16)), {}, "must have one dtype"),
        ((tp.ones((4,)), tp.ones((3, 4)), tp.ones((3, 4))), {}, r"`query` must have rank >= 2"),
        ((tp.ones((2, 2, 4)), tp.ones((1, 3, 4)), tp.ones((1, 3, 4))), {}, "equal leading dimensions"),
        ((tp.ones((1, 2, 4)), tp.ones((1, 3, 5)), tp.ones((1, 3, 4))), {}, "last dimension of `query`"),
        ((tp.ones((1, 2, 4)), tp.ones((1, 3, 4)), tp.ones((1, 2, 4))), {}, "as many rows as `key`"),
        (
            (tp.ones((1, 2, 4)), tp.ones((1, 3, 4)), tp.ones((1, 3, 4))),
            {"causal": True, "start": tp.Tensor(np.array([1], np.int64))},
            r"`start` must be an int32 tensor of shape \(1,\), but it has dtype int64",
        ),
        (
            (tp.ones((1, 2, 4)), tp.ones((1, 3, 4)), tp.ones((1, 3, 4))),
            {"causal": True, "start": tp.Tensor(np.array([1, 2], np.int32))},
            r"but it has dtype int32 and shape \(2,\)",
        ),
        (
            (tp.ones((1, 2, 4)), tp.ones((1, 3, 4)), tp.ones((1, 3, 4))),
            {"causal": True, "start": 1.5},
            "`start` must be an int or an int32 tp.Tensor of shape \\(1,\\), not float",
        ),
        (
            (tp.ones((1, 2, 4)), tp.ones((1, 3, 4)), tp.ones((1, 3, 4))),
            {"causal": True, "start": True},
            "not bool",
        ),
    ],
)
def test_errors_name_the_argument_and_the_problem(args, kwargs, message):
    with pytest.raises(tp.TripyException, match=message) as info:
        _sdpa(*args, **kwargs)
    assert "scaled_dot_product_attention" in str(info.value)
    assert "test_attention_op.py" in str(info.value)  # the user's line
