"""The float Linear rewrite: what ``tp.Linear`` (no quantization) writes becomes one ``FloatLinear``, whose
steps compute exactly what the unfused primitives compute (NumPy reference, bit for bit)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tripy as tp
from tripy.backend.numpy.kernels import KERNELS
from tripy.backend.registry import get_backend
from tripy.trace.evaluate import evaluate
from tripy.trace.fusions import ALL_REWRITES
from tripy.trace.node import topological_order
from tripy.trace.primitives import FloatLinear, Int8Linear
from tripy.trace.rewrite import plan


def _planned(out: tp.Tensor):
    numpy = get_backend("numpy")
    steps = plan(topological_order([out]), [out], ALL_REWRITES)
    values = {}
    for step in steps:
        args = [values[id(i)] if id(i) in values else i.value_on(numpy) for i in step.inputs]
        values[id(step.tensor)] = KERNELS[type(step.prim)](step.prim, *args)
    return steps, values[id(out)]


@pytest.mark.parametrize(
    "dtype, bias, rank, kn",
    list(itertools.product((tp.float32, tp.float16, tp.bfloat16), (True, False), (2, 3), (False, True))),
)
def test_the_fused_float_linear_equals_its_primitives(dtype, bias, rank, kn):
    rng = np.random.default_rng(rank)
    w = tp.Tensor(rng.uniform(-1, 1, (24, 10) if kn else (10, 24)).astype(np.float32), dtype=dtype)
    b = tp.Tensor(rng.uniform(-1, 1, (10,)).astype(np.float32), dtype=dtype)
    x = tp.Tensor(rng.uniform(-2, 2, (5, 24) if rank == 2 else (2, 3, 24)).astype(np.float32), dtype=dtype)

    def forward():
        out = x @ (w if kn else tp.transpose(w, 0, 1))
        return out + b if bias else out

    unfused = forward()
    evaluate([unfused], get_backend("numpy"))
    steps, fused = _planned(forward())
    linears = [s.prim for s in steps if isinstance(s.prim, FloatLinear)]
    assert linears == [FloatLinear(kn, bias)]
    assert np.array_equal(np.asarray(fused).view(np.uint8), unfused.numpy().view(np.uint8))


def test_tp_linear_is_one_float_linear_and_a_quantized_one_stays_int8():
    layer = tp.Linear(8, 4)
    steps, _ = _planned(layer(tp.ones((3, 8))))
    assert [type(s.prim) for s in steps if type(s.prim) in (FloatLinear, Int8Linear)] == [FloatLinear]
    q = tp.Linear(8, 4, quant_dtype=tp.int8, weight_quant_dim=0)
    q.weight_scale = tp.Parameter(np.full((4,), 0.01, np.float32))
    steps, _ = _planned(q(tp.ones((3, 8))))
    assert [type(s.prim) for s in steps if type(s.prim) in (FloatLinear, Int8Linear)] == [Int8Linear]


def test_products_that_are_not_linears_stay_unfused():
    a, b = tp.ones((2, 3, 4)), tp.ones((2, 4, 5))
    steps, _ = _planned(a @ b)  # a batched weight: not a Linear
    assert not any(isinstance(s.prim, FloatLinear) for s in steps)
    steps, _ = _planned(tp.ones((3, 4)) @ tp.ones((4, 5)) + tp.ones((3, 5)))  # the "bias" is a matrix
    assert [type(s.prim).__name__ for s in steps if isinstance(s.prim, FloatLinear)] == ["FloatLinear"]
    assert sum(type(s.prim).__name__ == "Binary" for s in steps) == 1  # the add stays apart


def _layer_and_input(k: int, n: int, dtype, quantized: bool, seed: int):
    """A Linear (int8 per-channel when ``quantized``) with random parameters, and an input (2, 3, k)."""
    rng = np.random.default_rng(seed)
    layer = tp.Linear(k, n, dtype=dtype, quant_dtype=tp.int8 if quantized else None, weight_quant_dim=0)
    layer.weight = tp.Parameter(rng.uniform(-1, 1, (n, k)).astype(np.float32), dtype=dtype)
    layer.bias = tp.Parameter(rng.uniform(-1, 1, (n,)).astype(np.float32), dtype=dtype)
    if quantized:
        layer.weight_scale = tp.Parameter(np.full((n,), 0.01, np.float32))
    return layer, tp.Tensor(rng.uniform(-2, 2, (2, 3, k)).astype(np.float32), dtype=dtype)


@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("dtype", [tp.float32, tp.float16])
def test_a_residual_add_joins_the_linear_bit_for_bit(quantized, dtype):
    layer, x = _layer_and_input(24, 24, dtype, quantized, 3)
    unfused = x + layer(x)
    evaluate([unfused], get_backend("numpy"))
    steps, fused = _planned(x + layer(x))
    kind = Int8Linear if quantized else FloatLinear
    linears = [s.prim for s in steps if isinstance(s.prim, (FloatLinear, Int8Linear))]
    assert len(linears) == 1 and isinstance(linears[0], kind) and linears[0].residual
    assert not any(type(s.prim).__name__ == "Binary" for s in steps)  # the add is inside the fused Linear
    assert np.array_equal(np.asarray(fused).view(np.uint8), unfused.numpy().view(np.uint8))


def test_a_broadcast_residual_stays_apart():
    layer = tp.Linear(8, 8)
    steps, _ = _planned(tp.ones((1, 8)) + layer(tp.ones((3, 8))))
    assert not any(getattr(s.prim, "residual", False) for s in steps)


@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.bfloat16])
def test_a_gelu_after_the_linear_joins_it_bit_for_bit(quantized, dtype):
    layer, x = _layer_and_input(24, 40, dtype, quantized, 4)
    unfused = tp.gelu(layer(x))
    evaluate([unfused], get_backend("numpy"))
    steps, fused = _planned(tp.gelu(layer(x)))
    assert [type(s.prim).__name__ for s in steps if type(s.prim).__name__ not in ("Reshape", "Permute")] == [
        "Int8Linear" if quantized else "FloatLinear"
    ]
    assert steps[-1].prim.gelu and not steps[-1].prim.residual
    assert np.array_equal(np.asarray(fused).view(np.uint8), unfused.numpy().view(np.uint8))


def test_a_gelu_of_a_linear_read_elsewhere_is_still_computed_once_per_reader():
    layer = tp.Linear(8, 8)
    hidden = layer(tp.ones((3, 8)))
    out = tp.gelu(hidden) + hidden  # the Linear's own result is read too: it is computed for that reader
    unfused = tp.gelu(layer(tp.ones((3, 8)))) + layer(tp.ones((3, 8)))
    steps, value = _planned(out)
    assert any(getattr(s.prim, "gelu", False) for s in steps)
    assert np.array_equal(np.asarray(value), unfused.numpy())


@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("epilogue", ["residual", "gelu"])
def test_written_out_linears_take_the_epilogues_too(quantized, epilogue):
    """The same epilogues on a Linear written with the primitives (not made by ``tp.Linear``)."""
    rng = np.random.default_rng(5)
    w = tp.Tensor(rng.uniform(-1, 1, (16, 16)).astype(np.float32))
    b = tp.Tensor(rng.uniform(-1, 1, (16,)).astype(np.float32))
    x = tp.Tensor(rng.uniform(-2, 2, (3, 16)).astype(np.float32))
    scale = tp.Tensor(np.full((16,), 0.01, np.float32))

    def forward():
        weight = tp.dequantize(tp.quantize(w, scale, tp.int8, 0), scale, tp.float32, 0) if quantized else w
        linear = x @ tp.transpose(weight, 0, 1) + b
        return x + linear if epilogue == "residual" else tp.gelu(linear)

    unfused = forward()
    evaluate([unfused], get_backend("numpy"))
    steps, fused = _planned(forward())
    (linear,) = [s.prim for s in steps if isinstance(s.prim, (FloatLinear, Int8Linear))]
    assert isinstance(linear, Int8Linear if quantized else FloatLinear) and getattr(linear, epilogue)
    assert np.array_equal(np.asarray(fused), unfused.numpy())
