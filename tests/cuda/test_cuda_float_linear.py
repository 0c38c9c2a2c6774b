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

    def forward(with_residual: bool):
        out = layer(tp.Tensor(x, dtype=dtype))
        out = tp.Tensor(r, dtype=dtype) + out if with_residual else out
        return tp.cast(out, tp.float32).numpy().astype(np.float64)

    previous = tp.config.backend
    try:
        tp.config.backend = "numpy"
        expected, linear = forward(residual), forward(False)
        tp.config.backend = "cuda"
        before = dict(cuda_backend().float_linear.stats)
        got = forward(residual)
        used = {key: cuda_backend().float_linear.stats[key] - before[key] for key in before}
    finally:
        tp.config.backend = previous
    assert used == ({"gemv": 1, "steps": 0} if rows <= 16 else {"gemv": 0, "steps": 1})

    def ulp(v: np.ndarray) -> np.ndarray:
        return 2.0 ** -(10 if dtype == tp.float16 else 7) * 2.0 ** np.floor(np.log2(np.maximum(np.abs(v), 1e-30)))

    # float32 sums of K = 200 products of magnitude <= 1 in another order (<= K^2 eps32 / 2), then one
    # rounding of the Linear's value to the output type (it may land on the neighbouring value: one ulp of
    # that value); with a residual, the sum is rounded once more (one ulp of the result). The Linear's ulp
    # counts in full even where the residual cancels most of it.
    bound = ulp(linear) + (ulp(expected) if residual else 0) + k * k * np.finfo(np.float32).eps
    assert np.all(np.abs(got - expected) <= bound)
