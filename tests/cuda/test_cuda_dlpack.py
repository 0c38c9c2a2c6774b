"""DLPack both ways with CuPy and PyTorch, without copies; tensors report ``gpu:0``."""

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


def test_cupy_in_and_out_share_memory():
    import cupy

    c = cupy.arange(12, dtype=cupy.float32).reshape(3, 4)
    t = tp.Tensor(c)
    assert t.device == "gpu:0" and t.dtype == tp.float32 and t.shape == (3, 4)
    assert t._value.data.ptr == c.data.ptr
    back = cupy.from_dlpack(t * 2)
    np.testing.assert_array_equal(cupy.asnumpy(back), np.arange(12, dtype=np.float32).reshape(3, 4) * 2)
    out = tp.Tensor(c) + 1
    shared = cupy.from_dlpack(out)
    assert shared.data.ptr == out._value.data.ptr
    assert "loc=gpu:0" in repr(t)


def test_torch_in_and_out_share_memory():
    torch = pytest.importorskip("torch")
    x = torch.arange(6, dtype=torch.float16, device="cuda").reshape(2, 3)
    t = tp.Tensor(x)
    assert t.dtype == tp.float16 and t._value.data.ptr == x.data_ptr()
    y = torch.from_dlpack(t + t)
    assert y.data_ptr() == (t + t).eval()._value.data.ptr or y.is_cuda
    assert y.device.type == "cuda"
    np.testing.assert_array_equal(y.cpu().numpy(), (x + x).cpu().numpy())
    z = tp.Tensor(torch.ones(4, device="cuda"))
    zz = torch.from_dlpack(z)
    assert zz.data_ptr() == z._value.data.ptr


def test_torch_bfloat16_and_float8_come_in_as_their_types():
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.5, -2.25, 3.0], dtype=torch.bfloat16, device="cuda")
    t = tp.Tensor(x)
    assert t.dtype == tp.bfloat16 and t._value.data.ptr == x.data_ptr()
    assert t.tolist() == [1.5, -2.25, 3.0]
    f8 = torch.tensor([0.5, 448.0], device="cuda").to(torch.float8_e4m3fn)
    t8 = tp.Tensor(f8)
    assert t8.dtype == tp.float8 and t8.tolist() == [0.5, 448.0]


def test_tensors_print_their_gpu_location():
    t = tp.Tensor([1, 2, 3])
    assert repr(t) == "tensor([1, 2, 3], dtype=int32, loc=gpu:0, shape=(3,))"
