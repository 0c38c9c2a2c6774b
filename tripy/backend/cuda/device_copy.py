"""Device-to-device copies on a given stream, for the static buffers of CUDA graphs."""

from __future__ import annotations

from typing import Any

import cupy

_memcpy = cupy.cuda.runtime.memcpyAsync
_DEVICE_TO_DEVICE = cupy.cuda.runtime.memcpyDeviceToDevice


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
