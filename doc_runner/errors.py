"""The error and warning types that doc_runner reports to authors: a problem at ``file:line``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class GuideError(Exception):
    """A problem in a guide (or docstring) that the author must fix.

    ``str(error)`` reads ``path:line: message`` so that editors, pytest and Sphinx
    all point at the same place.
    """

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")


class GuideEncodingError(GuideError):
    """A guide whose bytes are not valid UTF-8; Sphinx cannot read it either, so it is reported, not read."""


class GuideWarning(UserWarning):
    """Something in a guide that is probably a mistake but still reads (a near-miss directive or marker).

    Like :class:`GuideError`, ``str(warning)`` reads ``path:line: message``.
    """

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")


def closest_name(name: str, valid: Iterable[str]) -> str:
    """Return a hint naming the valid name closest to ``name`` (or listing them all)."""
    valid = sorted(valid)
    matches = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    if matches:
        return f"did you mean '{matches[0]}'?"
    return "valid names are: " + ", ".join(f"'{v}'" for v in valid)
