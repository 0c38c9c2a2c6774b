"""``tp.layer_norm`` (one fused primitive) computes exactly the composite ``tp.LayerNorm`` wrote before."""

from __future__ import annotations

import numpy as np
import pytest

import tripy as tp


def _composite(x: tp.Tensor, weight: tp.Tensor, bias: tp.Tensor, eps: float, dims: int) -> tp.Tensor:
    axes = tuple(range(x.rank - dims, x.rank))
    wide = tp.cast(x, tp.float32)
    centred = wide - tp.mean(wide, axes, keepdim=True)
    variance = tp.mean(centred * centred, axes, keepdim=True)
    return tp.cast(centred * tp.rsqrt(variance + eps), weight.dtype) * weight + bias


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.bfloat16])
@pytest.mark.parametrize("shape,dims", [((3, 8), 1), ((2, 3, 10), 1), ((2, 4, 6), 2)])
def test_layer_norm_equals_the_composite_bit_for_bit(backend, dtype, shape, dims):
    rng = np.random.default_rng(len(shape) + dims)
    x = tp.Tensor(rng.normal(3, 4, shape).astype(np.float32), dtype=dtype)
    weight = tp.Tensor(rng.normal(1, 0.5, shape[-dims:]).astype(np.float32), dtype=dtype)
    bias = tp.Tensor(rng.normal(0, 0.5, shape[-dims:]).astype(np.float32), dtype=dtype)
    fused = tp.cast(tp.layer_norm(x, weight, bias, 1e-5), tp.float32).numpy()
    expected = tp.cast(_composite(x, weight, bias, 1e-5, dims), tp.float32).numpy()
    if backend == "cuda":  # another summation order for the means: a few float32 ulps, then one rounding
        step = np.finfo(np.float32 if dtype == tp.float32 else np.float16).eps * np.abs(expected).max()
        assert np.abs(fused - expected).max() <= 2 * step
    else:
        assert np.array_equal(fused, expected)


def test_float32_statistics_for_float16_input_and_a_result_dtype(backend):
    """GPT-2's LayerNorm: float16 activations, float32 parameters, a float16 result."""
    rng = np.random.default_rng(0)
    x = tp.Tensor(rng.normal(0, 300, (4, 64)).astype(np.float32), dtype=tp.float16)  # squares overflow float16
    weight, bias = tp.Tensor(rng.normal(1, 0.1, (64,)).astype(np.float32)), tp.zeros((64,))
    out = tp.layer_norm(x, weight, bias, dtype=tp.float16)
    expected = tp.cast(_composite(tp.cast(x, tp.float32), weight, bias, 1e-5, 1), tp.float16)
    assert out.dtype == tp.float16
    got, want = tp.cast(out, tp.float32).numpy(), tp.cast(expected, tp.float32).numpy()
    assert np.isfinite(got).all()
    if backend == "cuda":
        assert np.abs(got - want).max() <= np.finfo(np.float16).eps * np.abs(want).max()
    else:
        assert np.array_equal(got, want)


def test_the_module_uses_one_primitive():
    norm = tp.LayerNorm(8)
    out = norm(tp.ones((2, 8)))
    assert type(out.node.prim).__name__ == "LayerNorm"  # type: ignore[union-attr]


def test_layer_norm_errors_name_the_problem():
    x = tp.ones((2, 8))
    with pytest.raises(tp.TripyException, match="shape of the last"):
        tp.layer_norm(x, tp.ones((4,)), tp.zeros((4,)))
    with pytest.raises(tp.TripyException, match="one dtype"):
        tp.layer_norm(x, tp.ones((8,)), tp.zeros((8,), dtype=tp.float16))
    with pytest.raises(tp.TripyException, match="float"):
        tp.layer_norm(tp.ones((2, 8), dtype=tp.int32), tp.ones((8,)), tp.zeros((8,)))
