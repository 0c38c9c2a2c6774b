"""The LayerNorm row kernels: the one keeping a row in registers gives the looping kernel's bits at every
width it takes (each thread sums the same elements in the same order), and both stay within the sum-order
tolerance of the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from cuda_testing import cuda_backend, numpy_backend, run

import tripy as tp
from tripy.trace.primitives import LayerNorm

pytestmark = pytest.mark.gpu

# 1..2048 values run in registers (4 or 8 per thread); 2049 and 5000 loop
WIDTHS = [1, 7, 96, 128, 129, 768, 1000, 1024, 1025, 1536, 2048, 2049, 5000]
TYPES = [
    (tp.float32, tp.float32, tp.float32),
    (tp.float16, tp.float32, tp.float16),
    (tp.float16, tp.float16, tp.float16),
]


@pytest.mark.parametrize("x_dtype, w_dtype, out_dtype", TYPES)
@pytest.mark.parametrize("cols", WIDTHS)
def test_register_rows_give_the_looping_kernels_bits(x_dtype, w_dtype, out_dtype, cols):
    from tripy.backend.cuda.layer_norm import layer_norm_kernel  # imports CuPy

    rng = np.random.default_rng(cols)
    nb, cb = numpy_backend(), cuda_backend()
    host = [
        (rng.normal(2, 30, (5, cols)), x_dtype),
        (rng.normal(1, 0.5, cols), w_dtype),
        (rng.normal(0, 0.5, cols), w_dtype),
    ]
    prim = LayerNorm(dims=1, eps=1e-5, dtype=out_dtype)

    def unexpected(*_):
        raise AssertionError("the float32/float16 kernel fell back to the steps")

    values = [cb.from_numpy(nb.cast(v.astype(np.float32), dtype=d), d) for v, d in host]
    rows = layer_norm_kernel(unexpected)(prim, *values)
    looped = layer_norm_kernel(unexpected, registers=False)(prim, *values)
    assert rows.dtype == looped.dtype and rows.shape == looped.shape == (5, cols)
    assert rows.tobytes() == looped.tobytes()

    ref = np.asarray(run(nb, prim, *[nb.from_numpy(nb.cast(v.astype(np.float32), dtype=d), d) for v, d in host]))
    got = cb.to_numpy(rows, out_dtype).astype(np.float64)
    # means summed in another order: a few float32 ulps of the normalised value, then one rounding
    step = float(np.finfo(np.float32 if out_dtype == tp.float32 else np.float16).eps)
    assert np.abs(got - ref.astype(np.float64)).max() <= 2 * step * np.abs(ref.astype(np.float64)).max()
