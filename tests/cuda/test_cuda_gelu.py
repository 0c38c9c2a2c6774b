"""``tp.gelu`` on the GPU: the ``Gelu`` kernel computes its steps bit for bit, and a Linear followed by a GELU
takes it into its epilogue with the bits of the Linear and the GELU run one after the other."""

from __future__ import annotations

import numpy as np
import pytest
from cuda_testing import cuda_backend

import tripy as tp
from tripy.trace.primitives import GELU_SQRT_2_OVER_PI

pytestmark = pytest.mark.gpu


def _on(backend: str, fn):
    previous = tp.config.backend
    try:
        tp.config.backend = backend
        return fn()
    finally:
        tp.config.backend = previous


def _bits(t: tp.Tensor) -> bytes:
    return tp.cast(t, tp.float32).numpy().tobytes()


def _steps_by_hand(x: tp.Tensor) -> tp.Tensor:
    """The Gelu primitive's steps written as elementwise ops (each one kernel on the GPU)."""
    v = tp.cast(x, tp.float32) if x.dtype != tp.float32 else x
    out = 0.5 * v * (1.0 + tp.tanh(GELU_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)))
    return out if x.dtype == tp.float32 else tp.cast(out, x.dtype)


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.bfloat16])
def test_the_gelu_kernel_computes_its_steps_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [rng.normal(0, 3, 4000), [0.0, -0.0, -12.0, -30.0, 12.0, 300.0, np.inf, -np.inf, np.nan]]
    ).astype(np.float32)

    def run(fn):
        return _on("cuda", lambda: _bits(fn(tp.cast(tp.Tensor(values), dtype))))

    assert run(tp.gelu) == run(_steps_by_hand)
    # and the NumPy reference within one rounding of tanh (libm against CUDA's tanhf), scaled by 0.5 * x
    got = np.frombuffer(run(tp.gelu), np.float32)
    ref = _on("numpy", lambda: tp.cast(tp.gelu(tp.cast(tp.Tensor(values), dtype)), tp.float32).numpy())
    step = {tp.float32: 2.0**-23, tp.float16: 2.0**-10, tp.bfloat16: 2.0**-7}[dtype]
    finite = np.isfinite(ref)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    assert np.array_equal(got[~finite], ref[~finite], equal_nan=True)
    bound = step * np.abs(ref[finite]) + 2.0**-23 * np.abs(values[finite]) + 1e-30
    assert np.all(np.abs(got[finite] - ref[finite]) <= bound)


@pytest.mark.parametrize("rows", [1, 16, 40])
@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("dtype", [tp.float16, tp.bfloat16])
def test_a_linear_then_gelu_equals_the_two_run_apart(rows, quantized, dtype):
    rng = np.random.default_rng(rows)
    k, n = 256, 96

    def layer():
        lin = tp.Linear(k, n, dtype=dtype, quant_dtype=tp.int8 if quantized else None, weight_quant_dim=0)
        lin.weight = tp.Parameter(rng.uniform(-1, 1, (n, k)).astype(np.float32), dtype=dtype)
        lin.bias = tp.Parameter(rng.uniform(-1, 1, (n,)).astype(np.float32), dtype=dtype)
        if quantized:
            lin.weight_scale = tp.Parameter(np.full((n,), 1 / 127, np.float32))
        return lin

    def run():
        lin = layer()
        x = tp.Tensor(rng.uniform(-1, 1, (rows, k)).astype(np.float32), dtype=dtype)
        hidden = lin(x)
        hidden.eval()  # the Linear alone
        apart = _bits(tp.gelu(hidden))
        gemv = cuda_backend().int8.stats["w8a16"] if quantized else cuda_backend().float_linear.stats["gemv"]
        fused = _bits(tp.gelu(lin(x)))  # one fused Linear with the GELU
        gemv_after = cuda_backend().int8.stats["w8a16"] if quantized else cuda_backend().float_linear.stats["gemv"]
        return apart, fused, gemv_after - gemv

    apart, fused, gemv_calls = _on("cuda", run)
    assert fused == apart
    assert gemv_calls == (1 if rows <= 16 else 0)  # few rows: the GELU in the GEMV's epilogue
