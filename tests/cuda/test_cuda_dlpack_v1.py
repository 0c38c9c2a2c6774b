"""DLPack v1 on the GPU: NumPy gets a host copy, CuPy and PyTorch share the GPU memory (run on a GPU machine)."""

from __future__ import annotations

import numpy as np
import pytest

import tripy as tp

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def cuda():
    previous = tp.config.backend
    tp.config.backend = "cuda"
    yield
    tp.config.backend = previous


def test_numpy_from_dlpack_copies_a_gpu_tensor_to_the_host():
    t = tp.iota((2, 3), dim=1) * 2.0
    assert t.device == "gpu:0" and t.__dlpack_device__()[0] == 2
    expected = np.array([[0.0, 2.0, 4.0]] * 2, np.float32)
    np.testing.assert_array_equal(np.from_dlpack(t), expected)
    np.testing.assert_array_equal(np.from_dlpack(t, device="cpu"), expected)
    np.testing.assert_array_equal(np.from_dlpack(t, device="cpu", copy=True), expected)


def test_host_export_with_copy_false_is_refused():
    t = tp.ones((3,)).eval()
    with pytest.raises(BufferError, match="copy=False"):
        t.__dlpack__(dl_device=(1, 0), copy=False)


def test_cupy_and_torch_still_share_gpu_memory():
    import cupy

    t = (tp.ones((4,)) * 3.0).eval()
    view = cupy.from_dlpack(t)
    assert view.data.ptr == t.value.data.ptr
    torch = pytest.importorskip("torch")
    shared = torch.from_dlpack(t)
    assert shared.is_cuda and shared.data_ptr() == t.value.data.ptr
    assert shared.tolist() == [3.0, 3.0, 3.0, 3.0]


def test_int8_and_float16_reach_numpy():
    q = tp.quantize(tp.Tensor([1.0, -2.0, 300.0]), 1.0, tp.int8)
    assert np.from_dlpack(q).tolist() == [1, -2, 127]
    h = tp.cast(tp.Tensor([0.5, 1.5]), tp.float16)
    assert np.from_dlpack(h).dtype == np.float16
