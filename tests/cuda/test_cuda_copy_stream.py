"""``tp.copy`` between the NumPy and CUDA backends, and ``tp.Stream`` on a GPU (run on a GPU machine)."""

from __future__ import annotations

import numpy as np
import pytest

import tripy as tp

pytestmark = pytest.mark.gpu


def test_copy_moves_values_both_ways():
    import cupy

    host = tp.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device=tp.device("cpu"))
    on_gpu = tp.copy(host, tp.device("gpu"))
    assert on_gpu.device == "gpu:0" and isinstance(on_gpu.value, cupy.ndarray)
    back = tp.copy(on_gpu * 2.0, tp.device("cpu"))
    assert back.device == "cpu:0" and isinstance(back.value, np.ndarray)
    np.testing.assert_array_equal(back.value, np.arange(6, dtype=np.float32).reshape(2, 3) * 2)


def test_copy_keeps_narrow_types():
    q = tp.quantize(tp.Tensor([1.0, -3.0, 250.0], device=tp.device("cpu")), 2.0, tp.int8)
    gpu = tp.copy(q, tp.device("gpu"))
    assert gpu.dtype == tp.int8 and gpu.tolist() == [0, -2, 125]
    b = tp.copy(tp.cast(tp.Tensor([1.5, -2.25]), tp.bfloat16), tp.device("gpu"))
    assert b.dtype == tp.bfloat16 and tp.copy(b, tp.device("cpu")).tolist() == [1.5, -2.25]


def test_streams_wrap_cupy_streams():
    import cupy

    previous = tp.config.backend
    tp.config.backend = "cuda"
    try:
        stream = tp.Stream()
        assert isinstance(stream.cupy_stream, cupy.cuda.Stream) and stream.ptr != 0
        with stream:
            assert cupy.cuda.get_current_stream().ptr == stream.ptr
            out = (tp.ones((1024,)) * 2.0).eval()
        stream.synchronize()
        assert float(tp.sum(out)) == 2048.0
        assert tp.default_stream().ptr == cupy.cuda.Stream.null.ptr and tp.default_stream() != stream
    finally:
        tp.config.backend = previous
