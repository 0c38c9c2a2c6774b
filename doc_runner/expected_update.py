"""Rewriting a guide's ``TEST: EXPECTED_STDOUT`` fences from what their blocks printed (on request only:
``pytest --doc-runner-update-expected``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})")


def rewrite_expected(path: Path, updates: Mapping[int, str]) -> None:
    """Replace the body of each fence opening at line ``N`` (1-based) of ``path`` with ``updates[N]``.

    The rest of the file is kept byte for byte (line endings included). ValueError when a line is no
    fence opening, its fence never closes, or the new text would close it early."""
    data = path.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").split("\n")
    for start in sorted(updates, reverse=True):
        opening = _FENCE.match(lines[start - 1]) if 0 < start <= len(lines) else None
        if opening is None:
            raise ValueError(f"{path}:{start}: no code fence opens here")
        fence = opening.group("fence")
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*\r?$")
        end = next((i for i in range(start, len(lines)) if closing.match(lines[i])), None)
        if end is None:
            raise ValueError(f"{path}:{start}: the code fence opening here never closes")
        eol = "\r" if lines[start - 1].endswith("\r") else ""
        body = updates[start].strip("\n").split("\n") if updates[start].strip("\n") else []
        if any(closing.match(line) for line in body):
            raise ValueError(f"{path}:{start}: the output holds a line that would close the fence ({fence})")
        indent = opening.group("indent")
        lines[start:end] = [f"{indent}{line}".rstrip() + eol if line.strip() else eol for line in body]
    text = "\n".join(lines)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
