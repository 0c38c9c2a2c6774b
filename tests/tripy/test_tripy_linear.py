"""tp.Linear: the seed guide's example, and quantized forwards against a by-hand NumPy reference."""

import numpy as np
import pytest
from tripy_testing import assert_close, ref_dequantize, ref_quantize

import tripy as tp


def test_seed_guide_quantized_linear_with_unit_scales(backend):
    quant_linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=None)
    quant_linear.weight_scale = tp.Parameter(1.0)
    quant_linear.input_scale = tp.Parameter(1.0)
    x = tp.iota((3, 4), dtype=tp.float32)
    out = quant_linear(x)
    assert out.dtype == tp.float32 and out.shape == (3, 2)
    assert out.tolist() == [[0.0, 1.0], [6.0, 23.0], [12.0, 45.0]]
    # The same numbers by hand: placeholders arange(8).reshape(2, 4) and arange(2).
    w, b = np.arange(8, dtype=np.float32).reshape(2, 4), np.arange(2, dtype=np.float32)
    xs = np.broadcast_to(np.arange(3, dtype=np.float32)[:, None], (3, 4))
    np.testing.assert_array_equal(out.numpy(), xs @ w.T + b)


def test_unquantized_linear_is_x_times_weight_transposed_plus_bias(backend):
    rng = np.random.default_rng(0)
    linear = tp.Linear(5, 3)
    w, b = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)
    linear.load_state_dict({"weight": w, "bias": b})
    x = rng.normal(size=(2, 4, 5)).astype(np.float32)
    assert_close(linear(tp.Tensor(x)), x @ w.T + b, tp.float32, ulps=16, atol=1e-5)
    no_bias = tp.Linear(5, 3, bias=False)
    no_bias.weight = tp.Parameter(w)
    assert no_bias.bias is None
    assert_close(no_bias(tp.Tensor(x)), x @ w.T, tp.float32, ulps=16, atol=1e-5)


def ref_linear(x, w, b, quant_dtype, weight_scale, weight_quant_dim, input_scale=None):
    """Quantize -> dequantize -> matmul written out with the element-wise reference."""
    if input_scale is not None:
        x = ref_dequantize(ref_quantize(x, input_scale, quant_dtype), input_scale, tp.float32)
    wq = ref_dequantize(
        ref_quantize(w, weight_scale, quant_dtype, weight_quant_dim), weight_scale, tp.float32, weight_quant_dim
    )
    out = x.astype(np.float64) @ wq.T.astype(np.float64)
    return (out + b).astype(np.float32)


@pytest.mark.parametrize("quant_dtype", [tp.int8, tp.int4, tp.float8], ids=str)
@pytest.mark.parametrize("weight_quant_dim", [None, 0, 1])
@pytest.mark.parametrize("with_input_scale", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_quantized_linear_matches_reference(backend, quant_dtype, weight_quant_dim, with_input_scale, seed):
    rng = np.random.default_rng(seed)
    in_f, out_f = 6, 4
    w = rng.normal(0, 1, size=(out_f, in_f)).astype(np.float32)
    b = rng.normal(0, 1, size=(out_f,)).astype(np.float32)
    x = rng.normal(0, 2, size=(3, in_f)).astype(np.float32)
    hi = {tp.int8: 127, tp.int4: 7, tp.float8: 448}[quant_dtype]
    if weight_quant_dim is None:
        ws = np.float32(np.abs(w).max() / hi * rng.uniform(0.5, 1.5))
    else:
        ws = np.abs(w).max(axis=1 - weight_quant_dim) / hi * rng.uniform(0.5, 1.5, size=w.shape[weight_quant_dim])
        ws = ws.astype(np.float32)
    xs = np.float32(np.abs(x).max() / hi) if with_input_scale else None

    linear = tp.Linear(in_f, out_f, quant_dtype=quant_dtype, weight_quant_dim=weight_quant_dim)
    linear.load_state_dict(
        {
            "weight": w,
            "bias": b,
            "weight_scale": np.asarray(ws),
            **({"input_scale": np.asarray(xs)} if with_input_scale else {}),
        }
    )
    out = linear(tp.Tensor(x))
    expected = ref_linear(
        x, w, b, quant_dtype, np.asarray(ws), weight_quant_dim, np.asarray(xs) if with_input_scale else None
    )
    assert_close(out, expected, tp.float32, ulps=16, atol=1e-5)


def test_int4_block_wise_linear_matches_reference(backend):
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 8)).astype(np.float32)
    ws = rng.uniform(0.1, 0.4, size=(2, 4)).astype(np.float32)  # blocks of 2 x 2
    linear = tp.Linear(8, 4, bias=False, quant_dtype=tp.int4)
    linear.weight = tp.Parameter(w)
    linear.weight_scale = tp.Parameter(ws)
    x = rng.normal(size=(5, 8)).astype(np.float32)
    expected = ref_linear(x, w, 0.0, tp.int4, ws, None)
    assert_close(linear(tp.Tensor(x)), expected, tp.float32, ulps=16, atol=1e-5)


def test_quantization_really_changes_the_result(backend):
    # A coarse scale rounds the weight: the quantized layer differs from the float one exactly as predicted.
    w = np.array([[0.4, 1.6]], np.float32)
    float_linear = tp.Linear(2, 1, bias=False)
    float_linear.weight = tp.Parameter(w)
    q_linear = tp.Linear(2, 1, bias=False, quant_dtype=tp.int8)
    q_linear.weight = tp.Parameter(w)
    q_linear.weight_scale = tp.Parameter(1.0)
    x = tp.Tensor([[1.0, 1.0]])
    assert abs(float_linear(x).tolist()[0][0] - 2.0) < 1e-6
    assert q_linear(x).tolist() == [[2.0]]  # round(0.4) + round(1.6) = 0 + 2
    q_linear.weight_scale = tp.Parameter(0.1)
    assert abs(q_linear(x).tolist()[0][0] - 2.0) < 1e-6


@pytest.mark.parametrize("dtype", [tp.float16, tp.bfloat16])
def test_low_precision_linear(backend, dtype):
    rng = np.random.default_rng(4)
    w = rng.normal(size=(3, 4)).astype(np.float32)
    linear = tp.Linear(4, 3, dtype=dtype, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.load_state_dict({"weight": w, "bias": np.zeros(3, np.float32), "weight_scale": np.full(3, 0.02, np.float32)})
    assert linear.weight.dtype == dtype and linear.weight_scale.dtype == tp.float32
    x = rng.normal(size=(2, 4)).astype(np.float32).astype(dtype.numpy)
    out = linear(tp.Tensor(x))
    assert out.dtype == dtype
    wd = w.astype(dtype.numpy)
    expected = ref_linear(x, wd, 0.0, tp.int8, np.full(3, 0.02, np.float32), 0)
    assert_close(out, expected.astype(dtype.numpy), dtype, ulps=8, atol=0.02)


def test_a_layer_called_again_after_its_parameters_change_checks_and_uses_the_new_ones():
    """A Linear remembers the last call's checks while the input's shape and its parameters stay the same;
    a replaced parameter is checked and used, and the old one is not kept alive."""
    import gc
    import weakref

    layer = tp.Linear(4, 3, dtype=tp.float16, quant_dtype=tp.int8, weight_quant_dim=0)
    layer.weight = tp.Parameter(np.arange(12, dtype=np.float32).reshape(3, 4), dtype=tp.float16)
    layer.bias = tp.Parameter(np.zeros(3, np.float32), dtype=tp.float16)
    layer.weight_scale = tp.Parameter(np.ones(3, np.float32))
    x = tp.Tensor(np.ones((2, 4), np.float32), dtype=tp.float16)
    assert layer(x).tolist() == layer(x).tolist() == [[6.0, 22.0, 38.0]] * 2
    old = weakref.ref(layer.weight)
    layer.weight = tp.Parameter(np.ones((3, 4), np.float32), dtype=tp.float16)
    gc.collect()
    assert old() is None  # not held by the layer's memory of its last call
    assert layer(x).tolist() == [[4.0, 4.0, 4.0]] * 2
    layer.weight_scale = tp.Parameter(np.ones(4, np.float32))  # one per output channel is 3
    with pytest.raises(tp.TripyException, match="per-channel `scale`"):
        layer(x)
    layer.weight_scale = tp.Parameter(np.full(3, 2.0, np.float32))  # weights 1 quantize to 0 with scale 2
    layer.input_scale = tp.Parameter(np.ones((2,), np.float32))
    with pytest.raises(tp.TripyException, match="input_scale"):
        layer(x)
    layer.input_scale = None
    assert layer(x).tolist() == [[0.0, 0.0, 0.0]] * 2
    assert layer(tp.Tensor(np.ones((1, 4), np.float32), dtype=tp.float16)).shape == (1, 3)
