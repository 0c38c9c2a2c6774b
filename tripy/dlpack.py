"""DLPack export of tensor values (the protocol of ``np.from_dlpack``, ``torch.from_dlpack``, ``cupy.from_dlpack``).

A consumer that asks for the CPU (``dl_device=(1, 0)``), or that names neither a device nor a stream (NumPy,
which never passes a stream), gets a host copy of a GPU value. GPU consumers (CuPy, PyTorch, JAX) pass their
stream and share the GPU memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: DLPack's device type of host memory (``kDLCPU``).
KDL_CPU = 1


def is_host(value: Any) -> bool:
    """Whether a DLPack producer's memory is on the host."""
    return int(value.__dlpack_device__()[0]) == KDL_CPU


def export_capsule(
    value: Any,
    to_host: Callable[[], np.ndarray],
    stream: Any = None,
    max_version: tuple[int, int] | None = None,
    dl_device: tuple[int, int] | None = None,
    copy: bool | None = None,
) -> Any:
    """The DLPack capsule of ``value`` for a consumer's request (the arguments of ``__dlpack__``).

    ``to_host`` makes a host copy of ``value``; it is called when the consumer wants host memory and
    ``value`` is on a device. ``copy=False`` with such a request is a ``BufferError``, as the protocol says.
    """
    on_host = is_host(value)
    wants_host = dl_device is not None and int(dl_device[0]) == KDL_CPU
    if not on_host and (wants_host or (dl_device is None and stream is None)):
        if copy is False:
            raise BufferError(
                "tp.Tensor.__dlpack__: the tensor lives on the GPU and the consumer asked for host memory "
                "with copy=False; a host view of GPU memory is impossible (allow a copy, or use tp.copy)."
            )
        return _call(to_host(), None, max_version, None, None)
    if on_host and dl_device is not None and not wants_host:
        raise BufferError(
            f"tp.Tensor.__dlpack__: the tensor lives on the CPU and cannot be exported to DLPack device "
            f"{tuple(dl_device)}: move it with tp.copy(t, tp.device('gpu')) first."
        )
    return _call(value, stream, max_version, dl_device, copy)


def _call(value: Any, stream: Any, max_version: Any, dl_device: Any, copy: Any) -> Any:
    """``value.__dlpack__`` with the arguments given, and without the newer ones for producers that lack them."""
    kwargs = {"max_version": max_version, "dl_device": dl_device, "copy": copy}
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if stream is not None:
        kwargs["stream"] = stream
    try:
        return value.__dlpack__(**kwargs)
    except TypeError:
        if not kwargs.keys() - {"stream"}:
            raise
        if copy:  # an older producer cannot copy for us
            value = value.copy()
        return value.__dlpack__(**({"stream": stream} if stream is not None else {}))
