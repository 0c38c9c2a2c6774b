"""Every primitive lowers to TensorRT layers and the engine builds, with static and dynamic shapes.

These guard the lowering against TensorRT API misuse (a wrong input rank, a missing shape tensor...):
TensorRT checks the whole network when it builds. Values are checked through the eager fallback and
by running the network layer by layer with NumPy (``network_interpreter``); running the engines
themselves needs a GPU that TensorRT-RTX supports.
"""

from __future__ import annotations

import pytest
from trt_checks import assert_same_as_eager, compile_quietly, kinds, layers_of

import tripy as tp

STATIC = tp.InputInfo((4, 6), tp.float32)
DYNAMIC = tp.InputInfo(((1, 4, 8), 6), tp.float32)

CASES = {
    # name: (function, layer kind it must produce)
    "neg": (lambda x: -x, "UNARY"),
    "exp": (tp.exp, "UNARY"),
    "log": (lambda x: tp.log(tp.abs(x) + 1.0), "UNARY"),
    "sqrt": (lambda x: tp.sqrt(tp.abs(x)), "UNARY"),
    "rsqrt": (lambda x: tp.rsqrt(tp.abs(x) + 1.0), "UNARY"),
    "tanh": (tp.tanh, "ACTIVATION"),
    "sin-cos": (lambda x: tp.sin(x) + tp.cos(x), "UNARY"),
    "gelu-erf": (tp.gelu, "ELEMENTWISE"),
    "not": (lambda x: ~(x > 1.0), "UNARY"),
    "arithmetic": (lambda x: (x + 1.0) * 2.0 - x / 3.0, "ELEMENTWISE"),
    "floor-div-mod": (lambda x: x // 2.0 + x % 2.0, "ELEMENTWISE"),
    "pow-max-min": (lambda x: tp.maximum(tp.minimum(x**2.0, 3.0), 1.0), "ELEMENTWISE"),
    "comparisons": (
        lambda x: tp.where((x == 1.0) | (x != 2.0) & (x < 3.0) | (x <= 0.0) & (x > -1.0) | (x >= 5.0), x, 0.0),
        "SELECT",
    ),
    "reduce": (lambda x: tp.sum(x, dim=1) + tp.max(x, dim=1) + tp.min(x, dim=1) + tp.prod(x, dim=1), "REDUCE"),
    "mean-var": (lambda x: tp.mean(x, dim=0, keepdim=True) + tp.var(x, dim=1, keepdim=True), "REDUCE"),
    "argmax-argmin": (lambda x: tp.argmax(x, dim=1) + tp.argmin(x, dim=1, keepdim=False), "TOPK"),
    "softmax": (lambda x: tp.softmax(x, dim=-1), "REDUCE"),
    "matmul": (lambda x: x @ tp.transpose(x, 0, 1), "MATRIX_MULTIPLY"),
    "batched-matmul": (lambda x: tp.reshape(x, (x.shape[0], 2, 3)) @ tp.ones((1, 3, 5)), "MATRIX_MULTIPLY"),
    "reshape-flatten": (lambda x: tp.flatten(tp.reshape(x, (x.shape[0], 3, 2)), 0, 1), "SHUFFLE"),
    "permute": (lambda x: tp.permute(tp.unsqueeze(x, 0), (2, 0, 1)), "SHUFFLE"),
    "expand": (lambda x: tp.expand(tp.unsqueeze(x, 1), (x.shape[0], 3, 6)), "SLICE"),
    "slice-steps": (lambda x: x[:, 1::2] + x[:, ::-2], "SLICE"),
    "slice-dynamic": (lambda x: x[1:, :3], "SLICE"),
    "split-concat": (lambda x: tp.concatenate(list(reversed(tp.split(x, 3, dim=1))), dim=1), "CONCATENATION"),
    "stack": (lambda x: tp.stack([x, x * 2.0], dim=0), "CONCATENATION"),
    "gather": (lambda x: tp.gather(x, 1, tp.Tensor([0, 2, -1])), "GATHER"),
    "casts": (
        lambda x: (
            tp.cast(tp.cast(tp.cast(x, tp.int32), tp.float16), tp.float32)
            + tp.cast(tp.cast(x, tp.bfloat16), tp.float32)
            + tp.cast(tp.cast(x, tp.bool), tp.float32)
        ),
        "CAST",
    ),
    "float8-cast": (lambda x: tp.cast(tp.cast(x, tp.float8), tp.float32), "QUANTIZE"),
    "int8-cast": (lambda x: tp.cast(tp.cast(x, tp.int8), tp.float32), "CAST"),
    "iota-full": (lambda x: x + tp.iota(x.shape, dim=1) + tp.full(x.shape, 2.0), "FILL"),
    "tril-triu": (lambda x: tp.tril(x) + tp.triu(x, 1), "SELECT"),
    "quantize-per-channel": (
        lambda x: tp.dequantize(
            tp.quantize(x, tp.full((6,), 0.5), tp.int8, dim=1), tp.full((6,), 0.5), tp.float32, dim=1
        ),
        "QUANTIZE",
    ),
    "quantize-float16": (
        lambda x: tp.dequantize(tp.quantize(tp.cast(x, tp.float16), 0.5, tp.int8), 0.5, tp.float16),
        "DEQUANTIZE",
    ),
}


@pytest.mark.parametrize("info", [STATIC, DYNAMIC], ids=["static", "dynamic"])
@pytest.mark.parametrize("name", list(CASES))
def test_primitive_lowers_and_builds(trt, name, info):
    func, kind = CASES[name]
    if name == "iota-full" and info is STATIC:
        kind = "ELEMENTWISE"  # with static shapes iota and full are computed at build time, as constants
    exe = compile_quietly(func, [info])
    layers, _ = layers_of(trt, exe)
    assert kind in kinds(layers), kinds(layers)
    assert exe.engine
    x = tp.reshape(tp.iota((24,)), (4, 6)) * 0.5 - 3.0
    assert_same_as_eager(exe, func, x)
    if info is DYNAMIC:
        assert_same_as_eager(exe, func, tp.reshape(tp.iota((48,)), (8, 6)) * 0.25 - 1.0)


def test_integer_and_bool_inputs(trt):
    def f(ids, mask):
        table = tp.reshape(tp.iota((40,)), (10, 4))
        return tp.where(tp.unsqueeze(mask, 1), tp.gather(table, 0, ids), 0.0)

    exe = compile_quietly(f, [tp.InputInfo(((1, 3, 8),), tp.int32), tp.InputInfo(((1, 3, 8),), tp.bool)])
    layers, lowered = layers_of(trt, exe)
    assert "GATHER" in kinds(layers) and "SELECT" in kinds(layers)
    assert str(lowered.network.get_input(0).dtype).endswith("INT32")
    ids, mask = tp.Tensor([1, 9, -2]), tp.Tensor([True, False, True])
    assert_same_as_eager(exe, f, ids, mask)
