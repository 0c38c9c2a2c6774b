"""Capture everything a block prints: Python's sys.stdout/sys.stderr and file descriptors 1 and 2.

Both streams go, in the order written, to one temporary file, so that what a native
library (TensorRT, CUDA) writes from C lands in the block that caused it.
"""

from __future__ import annotations

import ctypes
import io
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """Remove terminal colour and cursor escape sequences."""
    return _ANSI.sub("", text)


def _flush_c_streams() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # pragma: no cover - not a POSIX libc
        pass


class Captured:
    """The text captured so far; read :attr:`text` after the ``with`` block ends."""

    def __init__(self) -> None:
        self.text = ""


@contextmanager
def capture_output() -> Iterator[Captured]:
    """Redirect stdout and stderr, at the Python and the file-descriptor level, into one buffer."""
    captured = Captured()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError):
            pass
    _flush_c_streams()
    with tempfile.TemporaryFile() as sink:
        saved = [os.dup(1), os.dup(2)]
        old_streams = sys.stdout, sys.stderr
        writer = io.TextIOWrapper(
            open(os.dup(sink.fileno()), "wb", buffering=0),
            encoding="utf-8",
            errors="replace",
            write_through=True,
        )
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            sys.stdout = sys.stderr = writer
            yield captured
        finally:
            writer.flush()
            _flush_c_streams()
            sys.stdout, sys.stderr = old_streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            writer.close()
            sink.seek(0)
            captured.text = strip_ansi(sink.read().decode("utf-8", errors="replace"))
