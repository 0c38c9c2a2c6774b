"""``FloatLinear`` on the GPU: few rows through the GEMV (weight read once, bias in the epilogue), more rows
through its steps; both against the NumPy reference of the same Linear."""

from __future__ import annotations

import numpy as np
import pytest
from cuda_testing import cuda_backend

import tripy as tp

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("rows", [1, 5, 16, 40])
@pytest.mark.parametrize("dtype", [tp.float16, tp.bfloat16])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("residual", [False, True])
def test_float_linear_matches_the_reference(rows, dtype, bias, residual):
    rng = np.random.default_rng(rows)
    k, n = 200, 72
    layer = tp.Linear(k, n, bias=bias, dtype=dtype)
    layer.weight = tp.Parameter(rng.uniform(-1, 1, (n, k)).astype(np.float32), dtype=dtype)
    if bias:
        layer.bias = tp.Parameter(rng.uniform(-1, 1, (n,)).astype(np.float32), dtype=dtype)
    x = rng.uniform(-1, 1, (rows, k)).astype(np.float32)
    r = rng.uniform(-1, 1, (rows, n)).astype(np.float32)

    def forward():
        out = layer(tp.Tensor(x, dtype=dtype))
        return tp.cast(tp.Tensor(r, dtype=dtype) + out if residual else out, tp.float32).numpy().astype(np.float64)

    previous = tp.config.backend
    try:
        tp.config.backend = "numpy"
        expected = forward()
        tp.config.backend = "cuda"
        before = dict(cuda_backend().float_linear.stats)
        got = forward()
        used = {key: cuda_backend().float_linear.stats[key] - before[key] for key in before}
    finally:
        tp.config.backend = previous
    assert used == ({"gemv": 1, "steps": 0} if rows <= 16 else {"gemv": 0, "steps": 1})
    # float32 sums of K = 200 products of magnitude <= 1 in another order (<= K^2 eps32 / 2), then one
    # rounding to the output type of a value of magnitude <= K + 1 (half an ulp), and the reference's own;
    # with a residual, the Linear's value may round to the neighbouring value, and the sum once more.
    ulp = 2.0 ** -(10 if dtype == tp.float16 else 7) * 2.0 ** np.floor(np.log2(np.maximum(np.abs(expected), 1e-30)))
    assert np.all(np.abs(got - expected) <= (2 if residual else 1) * ulp + k * k * np.finfo(np.float32).eps)
