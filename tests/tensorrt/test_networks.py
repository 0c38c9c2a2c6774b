"""Real TensorRT engines built on the CPU for the functions the compiler guide and nanoGPT need.

Each test compiles a function, checks the lowered network (layer kinds, where quantize and dequantize
layers sit, the optimization profile), checks the serialized engine (see ``assert_engine_reloads``),
checks that the executable's outputs equal eager outputs exactly (here: the eager fallback), and runs
the network layer by layer with NumPy (``network_interpreter``) against the eager outputs too.
"""

from __future__ import annotations

import math

import pytest
from trt_checks import (
    assert_engine_reloads,
    assert_same_as_eager,
    compile_quietly,
    kinds,
    layers_of,
    producer,
)

import tripy as tp
from tripy.trace.primitives import Dequantize


def quantized_linear(input_scale: bool) -> tp.Linear:
    """The seed guide's Linear: int8, per-channel weight scale along dim 0, optionally a per-tensor input scale."""
    linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.weight_scale = tp.Parameter([0.5, 1.0])
    if input_scale:
        linear.input_scale = tp.Parameter(0.25)
    return linear


class MLP(tp.Module):
    def __init__(self) -> None:
        self.fc1 = tp.Linear(16, 32)
        self.fc2 = tp.Linear(32, 8)

    def forward(self, x):
        return self.fc2(tp.gelu(self.fc1(x)))


def test_float32_mlp(trt):
    mlp = MLP()
    exe = compile_quietly(mlp, [tp.InputInfo((4, 16), tp.float32)])
    layers, lowered = layers_of(trt, exe)

    assert kinds(layers).count("MATRIX_MULTIPLY") == 2
    assert "QUANTIZE" not in kinds(layers) and "DEQUANTIZE" not in kinds(layers)
    assert all(dt in ("FLOAT", "BOOL") for layer in layers for dt in layer["dtypes"])
    assert lowered.profile == {} and lowered.config.num_optimization_profiles == 0
    assert tuple(lowered.network.get_input(0).shape) == (4, 16)
    assert_engine_reloads(trt, exe)
    assert_same_as_eager(exe, mlp, tp.iota((4, 16), dim=1) * 0.1 - 0.5)


def test_quantized_linear_of_the_seed_guide(trt):
    linear = quantized_linear(input_scale=True)
    exe = compile_quietly(linear, [tp.InputInfo((3, 4), tp.float32)])
    layers, _ = layers_of(trt, exe)

    (matmul,) = [layer for layer in layers if layer["type"] == "MATRIX_MULTIPLY"]
    activation, weight = producer(layers, matmul, 0), producer(layers, matmul, 1)
    # The input: quantized to int8 per tensor (rank-0 scale, no axis), then dequantized.
    assert activation["type"] == "DEQUANTIZE" and activation["axis"] == -1
    quantize = producer(layers, activation, 0)
    assert quantize["type"] == "QUANTIZE" and quantize["dtypes"] == ["INT8"] and quantize["axis"] == -1
    assert quantize["inputs"][0] == "input:x"
    assert layers[quantize["inputs"][1]]["shapes"] == [()]
    # The weight: stored in the engine as int8, dequantized per output channel (axis 0, 2 scales).
    assert weight["type"] == "DEQUANTIZE" and weight["axis"] == 0
    stored, scale = layers[weight["inputs"][0]], layers[weight["inputs"][1]]
    assert stored["type"] == "CONSTANT" and stored["dtypes"] == ["INT8"] and stored["shapes"] == [(2, 4)]
    assert scale["type"] == "CONSTANT" and scale["shapes"] == [(2,)]
    assert kinds(layers).count("QUANTIZE") == 1 and kinds(layers).count("DEQUANTIZE") == 2
    assert_engine_reloads(trt, exe)
    assert_same_as_eager(exe, linear, tp.iota((3, 4)))


def test_weight_only_int8_linear(trt):
    linear = quantized_linear(input_scale=False)
    exe = compile_quietly(linear, [tp.InputInfo((3, 4), tp.float32)])
    layers, _ = layers_of(trt, exe)

    assert "QUANTIZE" not in kinds(layers)  # the activation stays float32
    (matmul,) = [layer for layer in layers if layer["type"] == "MATRIX_MULTIPLY"]
    assert producer(layers, matmul, 0) == "input:x"
    weight = producer(layers, matmul, 1)
    assert weight["type"] == "DEQUANTIZE" and weight["axis"] == 0
    assert layers[weight["inputs"][0]]["dtypes"] == ["INT8"]
    assert_engine_reloads(trt, exe)
    assert_same_as_eager(exe, linear, tp.iota((3, 4)) * 3.0)


def test_dynamic_batch(trt):
    linear = tp.Linear(8, 4)

    def head(x):
        batch = x.shape[0]
        pairs = tp.reshape(linear(x), (batch, 2, 2))
        return tp.sum(tp.softmax(pairs, dim=-1), dim=1)

    exe = compile_quietly(head, [tp.InputInfo(((1, 4, 16), 8), tp.float32)])
    layers, lowered = layers_of(trt, exe)

    assert tuple(lowered.network.get_input(0).shape) == (-1, 8)
    assert lowered.profile == {"x": ((1, 8), (4, 8), (16, 8))}
    assert lowered.config.num_optimization_profiles == 1
    # The reshape's target is computed from the input's runtime shape.
    assert "SHAPE" in kinds(layers)
    (reshape,) = [layer for layer in layers if layer["name"].startswith("reshape#") and layer["type"] == "SHUFFLE"]
    assert reshape["inputs"][1] is not None
    assert_engine_reloads(trt, exe)
    for batch in (1, 4, 7, 16):
        assert_same_as_eager(exe, head, tp.iota((batch, 8), dim=0) * 0.25)


class CausalSelfAttention(tp.Module):
    """GPT-2's attention block: one qkv projection, heads, scaled causal softmax attention, projection."""

    def __init__(self, embed: int = 16, heads: int = 2, quant_dtype=None) -> None:
        self.heads = heads
        self.c_attn = tp.Linear(embed, 3 * embed, quant_dtype=quant_dtype, weight_quant_dim=0 if quant_dtype else None)
        self.c_proj = tp.Linear(embed, embed, quant_dtype=quant_dtype, weight_quant_dim=0 if quant_dtype else None)
        if quant_dtype is not None:
            self.c_attn.weight_scale = tp.Parameter(tp.full((3 * embed,), 2.0))
            self.c_proj.weight_scale = tp.Parameter(tp.full((embed,), 2.0))

    def forward(self, x):
        batch, seq, embed = x.shape
        head_dim = embed // self.heads
        q, k, v = tp.split(self.c_attn(x), 3, dim=2)

        def split_heads(t):
            return tp.permute(tp.reshape(t, (batch, seq, self.heads, head_dim)), (0, 2, 1, 3))

        q, k, v = split_heads(q), split_heads(k), split_heads(v)
        scores = (q @ tp.transpose(k, -2, -1)) * (1.0 / math.sqrt(head_dim))
        causal = tp.tril(tp.ones((seq, seq)))
        scores = tp.masked_fill(scores, causal == 0, float("-inf"))
        y = tp.softmax(scores, dim=-1) @ v
        return self.c_proj(tp.reshape(tp.permute(y, (0, 2, 1, 3)), (batch, seq, embed)))


@pytest.mark.parametrize("quant_dtype", [None, tp.int8], ids=["float32", "int8-weights"])
def test_gpt2_attention_block(trt, quant_dtype):
    attention = CausalSelfAttention(quant_dtype=quant_dtype)
    exe = compile_quietly(attention, [tp.InputInfo(((1, 2, 4), (1, 8, 16), 16), tp.float32)])
    layers, lowered = layers_of(trt, exe)

    assert tuple(lowered.network.get_input(0).shape) == (-1, -1, 16)
    assert lowered.profile == {"x": ((1, 1, 16), (2, 8, 16), (4, 16, 16))}
    assert kinds(layers).count("MATRIX_MULTIPLY") == 4  # qkv, q @ k^T, scores @ v, projection
    assert "SELECT" in kinds(layers)  # the causal mask
    assert "FILL" in kinds(layers)  # iota of the mask, sized by the sequence length at run time
    assert {"REDUCE", "UNARY"} <= set(kinds(layers))  # softmax
    dequantized = [layer for layer in layers if layer["type"] == "DEQUANTIZE"]
    if quant_dtype is None:
        assert not dequantized
    else:
        assert len(dequantized) == 2 and all(layer["axis"] == 0 for layer in dequantized)
        assert all(layers[layer["inputs"][0]]["dtypes"] == ["INT8"] for layer in dequantized)
        assert "QUANTIZE" not in kinds(layers)
    assert_engine_reloads(trt, exe)
    for batch, seq in ((1, 1), (2, 8), (3, 5), (4, 16)):
        x = tp.reshape(tp.iota((batch * seq * 16,)), (batch, seq, 16)) * 0.01
        assert_same_as_eager(exe, attention, x)


def test_block_wise_int4_and_float8(trt):
    int4_linear = tp.Linear(64, 8, quant_dtype=tp.int4)
    int4_linear.weight_scale = tp.Parameter(tp.full((8, 2), 4.0))  # blocks of 32 along the input features
    fp8_linear = tp.Linear(64, 8, quant_dtype=tp.float8)
    fp8_linear.weight_scale = tp.Parameter(2.0)
    fp8_linear.input_scale = tp.Parameter(0.5)

    def both(x):
        return int4_linear(x), fp8_linear(x)

    exe = compile_quietly(both, [tp.InputInfo((2, 64), tp.float32)])
    layers, _ = layers_of(trt, exe)

    matmuls = [layer for layer in layers if layer["type"] == "MATRIX_MULTIPLY"]
    int4_weight, fp8_weight = (producer(layers, matmul, 1) for matmul in matmuls)
    # int4: weights stored as int4, dequantized block-wise by the 2-D scale (8 rows x 2 blocks of 32).
    assert int4_weight["type"] == "DEQUANTIZE" and int4_weight["axis"] == -1
    assert layers[int4_weight["inputs"][0]]["dtypes"] == ["INT4"]
    assert layers[int4_weight["inputs"][1]]["shapes"] == [(8, 2)]
    assert producer(layers, matmuls[0], 0) == "input:x"  # no input scale: the activation stays float
    # float8: weights stored as float8; the input quantized to float8 and dequantized, per tensor.
    assert layers[fp8_weight["inputs"][0]]["dtypes"] == ["FP8"]
    activation = producer(layers, matmuls[1], 0)
    quantize = producer(layers, activation, 0)
    assert activation["type"] == "DEQUANTIZE" and quantize["type"] == "QUANTIZE"
    assert quantize["dtypes"] == ["FP8"] and quantize["inputs"][0] == "input:x"
    assert_engine_reloads(trt, exe)
    assert_same_as_eager(exe, both, tp.iota((2, 64), dim=1) * 0.1)


def test_the_network_interpreter_catches_a_wrong_lowering(trt, monkeypatch):
    """The layer-by-layer comparison has teeth: a per-channel dequantize on the wrong axis is caught."""
    from tripy.backend.tensorrt.network import NetworkLowering

    linear = tp.Linear(3, 3, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.weight_scale = tp.Parameter([0.5, 1.0, 2.0])
    lower = NetworkLowering.lower_dequantize

    def wrong_axis(self, ins, prim):
        return lower(self, ins, Dequantize(prim.dtype, None if prim.axis is None else 1 - prim.axis))

    monkeypatch.setattr(NetworkLowering, "lower_dequantize", wrong_axis)
    exe = compile_quietly(linear, [tp.InputInfo((2, 3), tp.float32)])
    with pytest.raises(AssertionError):
        assert_same_as_eager(exe, linear, tp.iota((2, 3)))
