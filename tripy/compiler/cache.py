"""The on-disk engine cache: one serialized engine per traced graph, input ranges and TensorRT version.

The directory is ``$TRIPY_ENGINE_CACHE`` (``off`` disables the cache), else ``~/.cache/tripy/engines``
(under ``$XDG_CACHE_HOME`` when set). Entries are written atomically; one that fails the engine check
is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

#: Bumped whenever the lowering changes what it builds, so old engines are not reused.
LOWERING_VERSION = "1"


def cache_dir() -> Path | None:
    """Where engines are cached, or None when caching is off."""
    configured = os.environ.get("TRIPY_ENGINE_CACHE")
    if configured is not None:
        return None if configured.strip().lower() in ("", "0", "off", "false", "no") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tripy" / "engines"


def engine_key(graph_fingerprint: str, tensorrt_version: str) -> str:
    """The cache key: the traced graph (inputs and their ranges included) and the TensorRT that builds it."""
    text = f"{graph_fingerprint}|{tensorrt_version}|lowering {LOWERING_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()


def load_engine(key: str) -> bytes | None:
    directory = cache_dir()
    if directory is None:
        return None
    try:
        return (directory / f"{key}.engine").read_bytes()
    except OSError:
        return None


def store_engine(key: str, blob: bytes) -> None:
    """Write an engine atomically (a temporary file renamed into place); failures only lose the cache."""
    directory = cache_dir()
    if directory is None:
        return
    tmp = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, directory / f"{key}.engine")
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
