"""``tp.device``, ``tp.copy``, ``tp.Stream``/``tp.default_stream`` and ``tp.plugin`` on a machine without a GPU."""

from __future__ import annotations

import numpy as np
import pytest

import tripy as tp
from tripy.backend.registry import cuda_usable

no_gpu = pytest.mark.skipif(cuda_usable(), reason="checks the behaviour without a usable GPU")


@pytest.mark.parametrize("text, kind", [("cpu", "cpu"), ("gpu", "gpu"), ("gpu:0", "gpu"), ("CPU:0", "cpu")])
def test_device_parses_kind_and_index(text, kind):
    d = tp.device(text)
    assert (d.kind, d.index, str(d)) == (kind, 0, f"{kind}:0")
    assert repr(d) == f"device(kind={kind!r}, index=0)"


@pytest.mark.parametrize(
    "text, message",
    [("tpu", "unknown kind 'tpu'"), ("gpu:x", "index 'x' that is not a number"), ("gpu:1", "index 0"), (3, "string")],
)
def test_bad_devices_name_the_argument(text, message):
    with pytest.raises(tp.TripyException, match=message) as info:
        tp.device(text)
    assert "`device`" in str(info.value) and __file__ in str(info.value)


def test_copy_to_the_cpu_computes_and_keeps_the_values():
    t = tp.iota((2, 2), dim=1, dtype=tp.int32) + 5
    out = tp.copy(t, tp.device("cpu"))
    assert out.device == "cpu:0" and out.node is None  # computed, on the NumPy backend
    assert out.dtype == tp.int32 and out.shape == (2, 2)
    np.testing.assert_array_equal(np.from_dlpack(out), [[5, 6], [5, 6]])
    assert tp.copy(out, "cpu").tolist() == [[5, 6], [5, 6]]  # a device name works as well


def test_copy_checks_its_arguments():
    with pytest.raises(tp.TripyException, match="`input` must be a tp.Tensor, not list"):
        tp.copy([1.0], tp.device("cpu"))
    with pytest.raises(tp.TripyException, match="`device` must be a tp.device"):
        tp.copy(tp.ones((1,)), 0)


@no_gpu
def test_copy_to_the_gpu_without_one_says_why():
    with pytest.raises(tp.TripyException, match=r"`device` is gpu:0, but no GPU is usable here: .+") as info:
        tp.copy(tp.ones((2,)), tp.device("gpu"))
    assert __file__ in str(info.value)


def test_tensor_accepts_a_device_object():
    assert tp.Tensor([1.0], device=tp.device("cpu")).device == "cpu:0"


@no_gpu
def test_streams_without_a_gpu_are_no_ops_that_say_so():
    stream = tp.Stream(priority=-1)
    assert stream.cupy_stream is None and stream.ptr == 0 and stream.priority == -1
    assert "no-op" in repr(stream)
    with stream as entered:
        out = tp.ones((2,)) * 4.0
    assert entered is stream and out.tolist() == [4.0, 4.0]
    stream.synchronize()
    assert tp.default_stream() is tp.default_stream() and tp.default_stream() != stream
    with pytest.raises(tp.TripyException, match="`priority` must be an int"):
        tp.Stream(priority="high")


def test_default_stream_is_of_the_gpu():
    assert tp.default_stream(tp.device("gpu")) is tp.default_stream()
    with pytest.raises(tp.TripyException, match=r"`device` must be tp.device\('gpu'\)"):
        tp.default_stream(tp.device("cpu"))


def test_plugin_explains_that_tensorrt_plugins_cannot_run_here():
    with pytest.raises(tp.TripyException, match=r"TensorRT plugin `name`='CustomGelu' cannot run") as info:
        tp.plugin("CustomGelu", [tp.ones((2,))], output_info=[(2, tp.float32)])
    assert "TensorRT" in str(info.value) and __file__ in str(info.value)
