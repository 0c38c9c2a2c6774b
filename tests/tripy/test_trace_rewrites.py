"""The trace's tables and rewrites: every backend and the TensorRT lowering cover every primitive, and each
fusion computes exactly what the primitives it replaces compute."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tripy as tp
from tripy.backend.numpy.kernels import KERNELS
from tripy.backend.registry import get_backend
from tripy.trace.evaluate import evaluate
from tripy.trace.fusions import ALL_REWRITES, INT8_LINEAR_REWRITES
from tripy.trace.node import topological_order
from tripy.trace.primitives import ALL_PRIMITIVES, Int8Linear, Primitive
from tripy.trace.rewrite import plan


def test_every_table_covers_every_primitive():
    from tripy.backend.tensorrt.network import _LOWERINGS, NetworkLowering

    assert set(KERNELS) == set(ALL_PRIMITIVES)
    assert set(_LOWERINGS) == set(ALL_PRIMITIVES)
    assert all(callable(getattr(NetworkLowering, name)) for name in _LOWERINGS.values())


def test_every_primitive_is_a_frozen_dataclass_that_infers_its_type():
    import dataclasses

    for prim in ALL_PRIMITIVES:
        assert dataclasses.is_dataclass(prim) and prim.__dataclass_params__.frozen, prim  # type: ignore[attr-defined]
        assert prim.infer is not Primitive.infer or prim.arity == 1, prim


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _linear(dtype, *, axis, bias, input_scale, k=24, n=10, seed=0):
    rng = _rng(seed)
    layer = tp.Linear(k, n, bias=bias, dtype=dtype, quant_dtype=tp.int8, weight_quant_dim=axis)
    weight = rng.uniform(-1, 1, (n, k)).astype(np.float32)
    layer.weight = tp.Parameter(weight, dtype=dtype)
    if bias:
        layer.bias = tp.Parameter(rng.uniform(-1, 1, (n,)).astype(np.float32), dtype=dtype)
    amax = np.abs(weight).max(axis=1 if axis is not None else None)
    layer.weight_scale = tp.Parameter((amax / 127).astype(np.float32))
    if input_scale:
        layer.input_scale = tp.Parameter(np.float32(0.03))
    return layer


def _hand_written_kn(dtype, *, axis, bias, input_scale, k=24, n=10, seed=0):
    """The pattern written by hand with the weight stored (K, N): no transpose in the trace."""
    rng = _rng(seed)
    w = tp.Tensor(rng.uniform(-1, 1, (k, n)).astype(np.float32), dtype=dtype)
    sw = tp.Tensor(np.full((n,) if axis is not None else (), 0.008, np.float32))
    b = tp.Tensor(rng.uniform(-1, 1, (n,)).astype(np.float32), dtype=dtype) if bias else None

    def forward(x):
        if input_scale:
            sx = tp.Tensor(np.float32(0.03))
            x = tp.dequantize(tp.quantize(x, sx, tp.int8), sx, dtype)
        wd = tp.dequantize(tp.quantize(w, sw, tp.int8, dim=axis), sw, dtype, dim=axis)
        out = x @ wd
        return out + b if b is not None else out

    return forward


CASES = [
    pytest.param(
        build, dtype, axis, bias, input_scale, rank, id=f"{build.__name__}-{dtype}-{axis}-{bias}-{input_scale}-{rank}"
    )
    for build, dtype, axis, bias, input_scale, rank in itertools.product(
        (_linear, _hand_written_kn),
        (tp.float32, tp.float16, tp.bfloat16),
        (0, None),
        (True, False),
        (True, False),
        (2, 3),
    )
]


def _fused_and_unfused(forward, x: np.ndarray, dtype):
    """The forward pass evaluated unfused and with every rewrite applied, both on the NumPy reference."""
    numpy = get_backend("numpy")
    unfused = forward(tp.Tensor(x, dtype=dtype))
    evaluate([unfused], numpy)
    fused = forward(tp.Tensor(x, dtype=dtype))
    steps = plan(topological_order([fused]), [fused], ALL_REWRITES)
    values = {}
    for step in steps:
        args = [values[id(i)] if id(i) in values else i.value_on(numpy) for i in step.inputs]
        values[id(step.tensor)] = KERNELS[type(step.prim)](step.prim, *args)
    return steps, values[id(fused)], unfused.numpy()


@pytest.mark.parametrize("build, dtype, axis, bias, input_scale, rank", CASES)
def test_int8_linear_fusion_equals_its_unfused_primitives(build, dtype, axis, bias, input_scale, rank):
    if build is _hand_written_kn and axis == 0:
        axis = 1  # for a (K, N) weight the output channels are dimension 1
    forward = build(dtype, axis=axis, bias=bias, input_scale=input_scale)
    shape = (5, 24) if rank == 2 else (2, 3, 24)
    x = _rng(1).uniform(-2, 2, shape).astype(np.float32)
    steps, fused, unfused = _fused_and_unfused(forward, x, dtype)
    fused_steps = [s for s in steps if isinstance(s.prim, Int8Linear)]
    assert len(fused_steps) == 1, [type(s.prim).__name__ for s in steps]
    prim = fused_steps[0].prim
    assert (prim.biased, prim.input_scaled, prim.weight_kn) == (bias, input_scale, build is _hand_written_kn)
    assert fused.dtype == unfused.dtype and fused.shape == unfused.shape == (*shape[:-1], 10)
    np.testing.assert_array_equal(fused, unfused)  # the same primitives in the same order: bit for bit


def _not_fusable():
    rng = _rng(2)
    x = tp.Tensor(rng.uniform(-1, 1, (4, 8)).astype(np.float32))
    w = tp.Tensor(rng.uniform(-1, 1, (6, 8)).astype(np.float32))
    along_k = tp.Tensor(np.full((8,), 0.01, np.float32))
    s = tp.Tensor(np.float32(0.01))
    block = tp.Tensor(np.full((3, 2), 0.1, np.float32))
    rows = tp.Tensor(np.full((4,), 0.1, np.float32))
    wt = tp.transpose
    return {
        "scale along K": x
        @ wt(tp.dequantize(tp.quantize(w, along_k, tp.int8, dim=1), along_k, tp.float32, dim=1), 0, 1),
        "int4 weights": x @ wt(tp.dequantize(tp.quantize(w, s, tp.int4), s, tp.float32), 0, 1),
        "block-wise int4": x @ wt(tp.dequantize(tp.quantize(w, block, tp.int4), block, tp.float32), 0, 1),
        "float8 weights": x @ wt(tp.dequantize(tp.quantize(w, s, tp.float8), s, tp.float32), 0, 1),
        "different scales": x
        @ wt(tp.dequantize(tp.quantize(w, s, tp.int8), tp.Tensor(np.float32(0.02)), tp.float32), 0, 1),
        "per-row input scale": tp.dequantize(tp.quantize(x, rows, tp.int8, dim=0), rows, tp.float32, dim=0)
        @ wt(tp.dequantize(tp.quantize(w, s, tp.int8), s, tp.float32), 0, 1),
        "plain float product": x @ wt(w, 0, 1),
    }


@pytest.mark.parametrize("name", list(_not_fusable()))
def test_patterns_that_would_change_the_result_are_left_unfused(name):
    out = _not_fusable()[name]
    steps = plan(topological_order([out]), [out], INT8_LINEAR_REWRITES)
    assert not any(isinstance(s.prim, Int8Linear) for s in steps)


def test_an_intermediate_needed_elsewhere_is_still_computed():
    rng = _rng(3)
    x = tp.Tensor(rng.uniform(-1, 1, (4, 8)).astype(np.float32))
    w = tp.Tensor(rng.uniform(-1, 1, (6, 8)).astype(np.float32))
    s = tp.Tensor(np.float32(0.01))
    xd = tp.dequantize(tp.quantize(x, s, tp.int8), s, tp.float32)
    out = xd @ tp.transpose(tp.dequantize(tp.quantize(w, s, tp.int8), s, tp.float32), 0, 1)
    total = out + tp.sum(xd)
    steps = plan(topological_order([total]), [total], INT8_LINEAR_REWRITES)
    assert any(isinstance(st.prim, Int8Linear) for st in steps)
    assert any(st.tensor is xd for st in steps)  # the dequantized input is computed for the sum
