"""``tp.Stream`` and ``tp.default_stream``: the CUDA stream that GPU work is queued on (a no-op on the CPU)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from tripy.backend.registry import cuda_usable
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.device import device as Device


@public
class Stream:
    """A queue of GPU work. On a GPU it wraps a CuPy stream (``cupy_stream``); ``with stream:`` makes it the
    stream that tripy's CUDA work is queued on, and :meth:`synchronize` waits for it.

    Without a usable GPU, a stream is a no-op object: work on the NumPy backend is done when the call
    returns, so there is nothing to queue or wait for, and ``cupy_stream`` is None.

    .. code-block:: python

        stream = tp.Stream()
        with stream:
            out = tp.ones((2,)) + 1.0
        stream.synchronize()
        assert out.tolist() == [2.0, 2.0]
    """

    def __init__(self, priority: int = 0, cupy_stream: Any = None) -> None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise_error(f"tp.Stream: `priority` must be an int, not {priority!r}.")
        #: The priority CUDA was asked for (lower numbers are more urgent; 0 is the default).
        self.priority = priority
        if cupy_stream is None and cuda_usable():
            import cupy

            cupy_stream = cupy.cuda.Stream(non_blocking=True, priority=priority)
        #: The wrapped ``cupy.cuda.Stream``, or None without a GPU.
        self.cupy_stream = cupy_stream

    @property
    def ptr(self) -> int:
        """The ``cudaStream_t`` handle as an int (0 without a GPU, as for CUDA's legacy default stream)."""
        return 0 if self.cupy_stream is None else int(self.cupy_stream.ptr)

    def synchronize(self) -> None:
        """Wait until the work queued on this stream is done (returns at once without a GPU)."""
        if self.cupy_stream is not None:
            self.cupy_stream.synchronize()

    def __enter__(self) -> Stream:
        if self.cupy_stream is not None:
            self.cupy_stream.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.cupy_stream is not None:
            self.cupy_stream.__exit__(exc_type, exc, traceback)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stream):
            return NotImplemented
        if self.cupy_stream is None or other.cupy_stream is None:
            return self is other  # no-op streams are distinct objects
        return self.ptr == other.ptr

    def __hash__(self) -> int:
        return hash(self.ptr)

    def __repr__(self) -> str:
        where = f"ptr=0x{self.ptr:x}" if self.cupy_stream is not None else "no GPU: a no-op stream"
        return f"<Stream priority={self.priority}, {where}>"


_default: Stream | None = None


@public
def default_stream(device: Device | None = None) -> Stream:
    """The stream tripy uses when none is given: CuPy's default (null) stream on a GPU, else a no-op stream.
    ``device`` must be ``tp.device("gpu")`` (the default): streams are GPU queues.

    .. code-block:: python

        stream = tp.default_stream()
        assert stream == tp.default_stream(tp.device("gpu"))
        stream.synchronize()
    """
    if device is not None and (not isinstance(device, Device) or device.kind != "gpu"):
        raise_error(f"tp.default_stream: `device` must be tp.device('gpu') (streams queue GPU work), not {device!r}.")
    global _default
    if _default is None:
        wrapped = None
        if cuda_usable():
            import cupy

            wrapped = cupy.cuda.Stream.null
        _default = Stream(0, wrapped)
    return _default
