"""DLPack v1 export of ``tp.Tensor`` on the CPU, and the device logic of :mod:`tripy.dlpack` on a stand-in GPU value."""

from __future__ import annotations

import numpy as np
import pytest

import tripy as tp
from tripy.dlpack import export_capsule


@pytest.fixture(autouse=True)
def on_the_cpu():
    """These tensors are host tensors whatever the machine (on a GPU machine "auto" would pick the GPU)."""
    previous = tp.config.backend
    tp.config.backend = "numpy"
    yield
    tp.config.backend = previous


def test_numpy_reads_a_cpu_tensor_with_every_v1_argument():
    t = tp.iota((2, 3), dim=1) * 2.0
    expected = np.array([[0.0, 2.0, 4.0]] * 2, np.float32)
    np.testing.assert_array_equal(np.from_dlpack(t), expected)
    np.testing.assert_array_equal(np.from_dlpack(t, device="cpu"), expected)
    copied = np.from_dlpack(t, copy=True)
    copied[0, 0] = 100.0
    assert t.tolist()[0][0] == 0.0  # a copy, so the tensor is untouched
    assert t.__dlpack_device__() == (1, 0)


def test_torch_cpu_both_ways():
    torch = pytest.importorskip("torch")
    x = torch.arange(6, dtype=torch.int32).reshape(2, 3)
    t = tp.Tensor(x) + 1
    back = torch.from_dlpack(t)
    assert back.dtype == torch.int32 and back.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_a_cpu_tensor_cannot_be_exported_to_a_gpu_device():
    with pytest.raises(BufferError, match=r"lives on the CPU .* tp.copy"):
        tp.ones((2,)).__dlpack__(dl_device=(2, 0))


class _GpuValue:
    """Stands in for a CuPy array: reports device (2, 0) and records how it was asked for its capsule."""

    def __init__(self, host: np.ndarray) -> None:
        self.host = host
        self.calls: list[dict] = []

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, **kwargs):
        self.calls.append(kwargs)
        return "gpu-capsule"


def _host_copy_counter(value: np.ndarray):
    copies = []

    def to_host():
        copies.append(1)
        return value.copy()

    return to_host, copies


def test_a_gpu_value_goes_to_the_host_when_the_consumer_asks_for_the_cpu():
    gpu = _GpuValue(np.arange(4, dtype=np.float32))
    to_host, copies = _host_copy_counter(gpu.host)
    capsule = export_capsule(gpu, to_host, max_version=(1, 0), dl_device=(1, 0))
    assert copies == [1] and gpu.calls == []
    np.testing.assert_array_equal(np.from_dlpack(_Capsule(capsule)), gpu.host)


def test_a_consumer_naming_no_stream_and_no_device_gets_host_memory():
    # NumPy's from_dlpack passes max_version, dl_device=None and copy, never a stream.
    gpu = _GpuValue(np.arange(3, dtype=np.int32))
    to_host, copies = _host_copy_counter(gpu.host)
    export_capsule(gpu, to_host, max_version=(1, 0))
    assert copies == [1] and gpu.calls == []


def test_a_gpu_consumer_passing_its_stream_shares_the_memory():
    gpu = _GpuValue(np.arange(3, dtype=np.int32))
    to_host, copies = _host_copy_counter(gpu.host)
    assert export_capsule(gpu, to_host, stream=1, max_version=(1, 0)) == "gpu-capsule"
    assert copies == [] and gpu.calls == [{"stream": 1, "max_version": (1, 0)}]
    export_capsule(gpu, to_host, stream=7, dl_device=(2, 0), copy=True)
    assert gpu.calls[-1] == {"stream": 7, "dl_device": (2, 0), "copy": True}


def test_copy_false_to_the_host_is_a_buffer_error():
    gpu = _GpuValue(np.zeros(2, np.float32))
    to_host, copies = _host_copy_counter(gpu.host)
    with pytest.raises(BufferError, match="copy=False"):
        export_capsule(gpu, to_host, dl_device=(1, 0), copy=False)
    assert copies == []


class _Capsule:
    """A producer handing out a capsule made earlier (so NumPy can read what export_capsule returned)."""

    def __init__(self, capsule) -> None:
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)
