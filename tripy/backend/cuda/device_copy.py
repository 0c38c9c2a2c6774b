"""Copies on a given stream: device to device for the static buffers of CUDA graphs, and device to host for
reading values back (small ones through a pinned staging buffer)."""

from __future__ import annotations

import threading
from typing import Any

import cupy
import numpy as np

_memcpy = cupy.cuda.runtime.memcpyAsync
_DEVICE_TO_DEVICE = cupy.cuda.runtime.memcpyDeviceToDevice
_DEVICE_TO_HOST = cupy.cuda.runtime.memcpyDeviceToHost

#: Values up to this many bytes are read back through a pinned buffer of the reading thread.
STAGING_BYTES = 1 << 16
_staging = threading.local()


def copy_into(buffer: Any, array: Any, stream: Any) -> None:
    """Write ``array`` into the C-contiguous ``buffer`` of its shape (nothing when it is that buffer)."""
    if array.data.ptr == buffer.data.ptr:
        return
    if array.flags.c_contiguous and array.dtype == buffer.dtype:
        _memcpy(buffer.data.ptr, array.data.ptr, buffer.nbytes, _DEVICE_TO_DEVICE, stream.ptr)
    else:
        buffer[...] = array


def fresh_copy(array: Any, stream: Any) -> Any:
    """A new array holding ``array``'s values (a graph's buffer that the next replay overwrites)."""
    if not array.flags.c_contiguous:
        return array.copy()
    copy = cupy.empty(array.shape, array.dtype)
    _memcpy(copy.data.ptr, array.data.ptr, array.nbytes, _DEVICE_TO_DEVICE, stream.ptr)
    return copy


def to_host(array: Any) -> np.ndarray:
    """A new host array holding ``array``'s values, read on the current stream.

    Small values go through a pinned buffer kept per thread: a copy from pageable memory (what
    ``ndarray.get()`` does) is staged by the driver and takes several microseconds longer, which is most of
    the time of reading back one small result.
    """
    nbytes = array.nbytes
    if nbytes == 0 or nbytes > STAGING_BYTES:
        return array.get()
    if not array.flags.c_contiguous:
        array = cupy.ascontiguousarray(array)
    buffer = getattr(_staging, "buffer", None)
    if buffer is None:  # the array keeps the pinned allocation alive, and it is returned to the pool with it
        buffer = _staging.buffer = np.frombuffer(cupy.cuda.alloc_pinned_memory(STAGING_BYTES), np.uint8)
    stream = cupy.cuda.get_current_stream()
    _memcpy(buffer.ctypes.data, array.data.ptr, nbytes, _DEVICE_TO_HOST, stream.ptr)
    stream.synchronize()
    return np.frombuffer(buffer, array.dtype, array.size).reshape(array.shape).copy()
