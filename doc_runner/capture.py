"""Capture what a guide's process prints, as ordered stream outputs: ``sys.stdout``/``sys.stderr`` and file
descriptors 1 and 2 (what native libraries such as TensorRT or CUDA write from C).

Runs inside the guide's worker process, which owns its descriptors: they point at two temporary files for the
whole guide, and what was written there since the last look is taken before each Python-level write, so
native and Python output keep their order within a stream. Past ``limit`` characters per block the rest is
dropped and a note says how much was cut.
"""

from __future__ import annotations

import codecs
import ctypes
import io
import os
import sys
import tempfile
from typing import Any

from doc_runner import outputs as out

try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None)
except OSError:  # pragma: no cover - not a POSIX libc
    _LIBC = None


def _flush_c_streams() -> None:
    """Write out what C's stdio buffers hold (``printf`` from native code)."""
    if _LIBC is not None:
        _LIBC.fflush(None)


class OutputLog:
    """The outputs of the block running now, in order; :meth:`take` hands them over and starts afresh."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.outputs: list[out.Output] = []
        self._used = 0
        self._dropped = 0
        self._files: dict[str, Any] = {}
        self._offsets: dict[str, int] = {}
        self._decoders: dict[str, codecs.IncrementalDecoder] = {}

    def redirect_descriptors(self) -> None:
        """Point file descriptors 1 and 2 at temporary files and replace ``sys.stdout``/``sys.stderr``."""
        for fd, name in ((1, "stdout"), (2, "stderr")):
            sink = tempfile.TemporaryFile()
            os.dup2(sink.fileno(), fd)
            self._files[name] = sink
            self._offsets[name] = 0
            self._decoders[name] = codecs.getincrementaldecoder("utf-8")("replace")
        sys.stdout = TextStream(self, "stdout", 1)
        sys.stderr = TextStream(self, "stderr", 2)

    def write(self, name: str, text: str) -> None:
        """Record ``text`` written to stream ``name`` (after any native output written before it)."""
        self.sync()
        self._add(name, text)

    def display(self, output: out.Output) -> None:
        """Record a display (``display()``, a figure, the last expression)."""
        self.sync()
        self.outputs.append(output)

    def sync(self) -> None:
        """Take what was written to the descriptors since the last look."""
        for name, sink in self._files.items():
            end = os.fstat(sink.fileno()).st_size
            start = self._offsets[name]
            if end <= start:
                continue
            self._offsets[name] = end
            room = self.limit - self._used
            if room <= 0:
                self._dropped += end - start
                continue
            data = os.pread(sink.fileno(), min(end - start, room + 4), start)
            self._dropped += end - start - len(data)
            self._add(name, self._decoders[name].decode(data))

    def _add(self, name: str, text: str) -> None:
        room = self.limit - self._used
        if len(text) > room:
            self._dropped += len(text) - max(room, 0)
            text = text[: max(room, 0)]
        if text:
            self._used += len(text)
            self.outputs.append(out.stream(name, text))

    def take(self) -> list[out.Output]:
        """The block's outputs (streams merged and tidied); the log is empty afterwards."""
        _flush_c_streams()
        self.sync()
        taken = out.tidy_streams(self.outputs)
        if self._dropped:
            note = (
                f"\n[doc_runner: output cut here; {self._dropped / 1e6:.1f} MB more were printed "
                f"(doc_runner_output_limit is {self.limit / 1e6:g} MB)]\n"
            )
            taken.append(out.stream("stderr", note))
        self.outputs, self._used, self._dropped = [], 0, 0
        return taken


class TextStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` of a guide: writes go to the :class:`OutputLog`."""

    def __init__(self, log: OutputLog, name: str, fd: int) -> None:
        super().__init__()
        self._log, self._name, self._fd = log, name, fd

    @property
    def name(self) -> str:
        return f"<{self._name}>"

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._log.write(self._name, text)
        return len(text)
