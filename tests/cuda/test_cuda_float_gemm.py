"""The capturable cuBLAS GEMM of compiled functions (``tripy/backend/cuda/float_gemm.py``) against CuPy's
matmul, for row-major operands and for transposed views read without a copy (a Linear's ``W.T``)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gpu

cupy = pytest.importorskip("cupy")


def _pair(layout: str, shape_a, shape_b, dtype):
    rng = np.random.default_rng(0)
    a = cupy.asarray(rng.uniform(-1, 1, shape_a).astype(dtype))
    b = cupy.asarray(rng.uniform(-1, 1, shape_b).astype(dtype))
    if "a_t" in layout:
        a = cupy.ascontiguousarray(a.swapaxes(-1, -2)).swapaxes(-1, -2)
    if "b_t" in layout:
        b = cupy.ascontiguousarray(b.swapaxes(-1, -2)).swapaxes(-1, -2)
    return a, b


@pytest.mark.parametrize("layout", ["rows", "a_t", "b_t", "a_t b_t"])
@pytest.mark.parametrize("shapes", [((5, 24), (24, 7)), ((3, 5, 24), (3, 24, 7)), ((1, 5, 24), (1, 24, 7))])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gemm_equals_cupy_matmul_for_every_layout(layout, shapes, dtype):
    from tripy.backend.cuda import float_gemm

    a, b = _pair(layout, *shapes, dtype)
    assert layout == "rows" or not (a.flags.c_contiguous and b.flags.c_contiguous)
    expected = cupy.matmul(a.astype(np.float32), b.astype(np.float32))
    got = float_gemm.gemm(a, b).astype(np.float32)
    # float32 accumulation of K = 24 products of magnitude <= 1 in another order, then (float16) one rounding
    # of a result of magnitude <= 24: at most 24 * 24 * eps32 plus half an ulp of float16 at 24.
    tol = 24 * 24 * np.finfo(np.float32).eps + (np.finfo(np.float16).eps * 16 if dtype == np.float16 else 0)
    assert float(cupy.abs(got - expected).max()) <= tol


def test_a_transposed_weight_is_not_copied():
    from tripy.backend.cuda import float_gemm

    w = cupy.ones((64, 32), np.float16)
    operand, transposed = float_gemm.operand_layout(w.T)
    assert transposed and operand.data.ptr == w.data.ptr


def test_a_shared_weight_folds_the_batch_into_rows():
    from tripy.backend.cuda import float_gemm

    rng = np.random.default_rng(1)
    a = cupy.asarray(rng.uniform(-1, 1, (16, 1, 24)).astype(np.float16))
    w = cupy.asarray(rng.uniform(-1, 1, (7, 24)).astype(np.float16))
    got = float_gemm.gemm(a, w.T.reshape(1, 24, 7))
    assert got.shape == (16, 1, 7)
    expected = cupy.matmul(a.astype(np.float32), w.T.astype(np.float32))
    assert float(cupy.abs(got.astype(np.float32) - expected).max()) <= 24 * 24 * np.finfo(np.float32).eps + 0.008
