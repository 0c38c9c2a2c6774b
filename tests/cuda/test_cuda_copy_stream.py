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


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8, np.int64, np.bool_, np.uint16])
def test_small_reads_through_the_pinned_buffer_are_copies(dtype):
    import cupy

    from tripy.backend.cuda import device_copy

    rng = np.random.default_rng(0)
    host = (rng.standard_normal((5, 7)) * 50).astype(dtype)
    value = cupy.asarray(host)
    first = device_copy.to_host(value)
    second = device_copy.to_host(value[:, ::2] + 1)  # non-contiguous, read into the same staging buffer
    assert first.dtype == host.dtype and first.shape == host.shape and first.flags.owndata
    np.testing.assert_array_equal(first, host)  # not overwritten by the second read
    np.testing.assert_array_equal(second, cupy.asnumpy(value[:, ::2] + 1))
    np.testing.assert_array_equal(device_copy.to_host(value[2, 3]), host[2, 3])  # rank 0
    assert device_copy.to_host(value[:0]).shape == (0, 7)


def test_reads_past_the_staging_size_and_on_another_stream():
    import cupy

    from tripy.backend.cuda import device_copy

    big = cupy.arange(device_copy.STAGING_BYTES // 4 + 3, dtype=cupy.float32)
    np.testing.assert_array_equal(device_copy.to_host(big), np.arange(big.size, dtype=np.float32))
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        made = cupy.full((64,), 3.0, dtype=cupy.float32) * 2  # made and read on the same stream, not synchronized
        np.testing.assert_array_equal(device_copy.to_host(made), np.full(64, 6.0, np.float32))
