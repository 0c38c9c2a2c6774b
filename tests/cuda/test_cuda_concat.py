"""``Concat`` on the GPU (2-D copies of contiguous inputs, CuPy's concatenate otherwise) equals NumPy's."""

from __future__ import annotations

import numpy as np
import pytest
from cuda_testing import cuda_backend, sample

import tripy as tp
from tripy.trace.primitives import Concat

pytestmark = pytest.mark.gpu


def _host(value, dtype) -> np.ndarray:
    return cuda_backend().to_numpy(value, dtype)


@pytest.mark.parametrize("dtype", [tp.float16, tp.bfloat16, tp.int8, tp.int32, tp.bool])
@pytest.mark.parametrize("axis", [0, 1, 2, 3])
def test_concat_equals_numpy(dtype, axis):
    cb = cuda_backend()
    shapes = [(2, 3, 4, 5), (2, 3, 4, 5), (2, 3, 4, 5)]
    for i, extra in enumerate((1, 0, 3)):  # sizes along the axis: grown, empty, wider
        shapes[i] = tuple(s + extra if d == axis else s for d, s in enumerate(shapes[i]))
    shapes[1] = tuple(0 if d == axis else s for d, s in enumerate(shapes[1]))
    hosts = [sample(shape, dtype, seed=i) for i, shape in enumerate(shapes)]
    arrays = [cb.from_numpy(h, dtype) for h in hosts]
    got = _host(cb.kernels[Concat](Concat(axis), *arrays), dtype)
    np.testing.assert_array_equal(got, np.concatenate(hosts, axis=axis))


def test_non_contiguous_inputs_and_an_empty_result():
    cb = cuda_backend()
    a = sample((4, 6), tp.float32, seed=1)
    x = cb.from_numpy(a, tp.float32)
    got = _host(cb.kernels[Concat](Concat(1), x.T, x.T[:, :2]), tp.float32)
    np.testing.assert_array_equal(got, np.concatenate([a.T, a.T[:, :2]], axis=1))
    empty = cb.from_numpy(np.zeros((0, 3), np.float32), tp.float32)
    assert cb.kernels[Concat](Concat(1), empty, empty).shape == (0, 6)


def test_a_kv_cache_grown_in_a_loop_matches_numpy():
    def grow():
        cache = tp.zeros((1, 2, 0, 4), dtype=tp.float16)
        for step in range(5):
            cache = tp.concatenate([cache, tp.ones((1, 2, 1, 4), dtype=tp.float16) * float(step)], dim=2)
            cache.eval()
        return tp.cast(cache, tp.float32).numpy()

    previous = tp.config.backend
    try:
        tp.config.backend = "numpy"
        expected = grow()
        tp.config.backend = "cuda"
        got = grow()
    finally:
        tp.config.backend = previous
    np.testing.assert_array_equal(got, expected)
