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

    def __reduce__(self) -> tuple[type[GuideError], tuple[str, int, str]]:
        # Guides travel to their worker process pickled: rebuild from the three fields, not from ``args``.
        return type(self), (self.path, self.line, self.message)


class GuideEncodingError(GuideError):
    """A guide whose bytes are not valid UTF-8; Sphinx cannot read it either, so it is reported, not read."""


class GuideWarning(UserWarning):
    """Something in a guide that is probably a mistake but still reads (a near-miss directive or marker).

    As with Python's warnings, ``str(warning)`` is the message and the place is apart (``path``, ``line``),
    so ``warnings.warn_explicit(warning, type(warning), warning.path, warning.line)`` shows it once.
    """

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(message)

    def __reduce__(self) -> tuple[type[GuideWarning], tuple[str, int, str]]:
        return type(self), (self.path, self.line, self.message)

    @property
    def location(self) -> str:
        """``path:line: message``, as :class:`GuideError` reads."""
        return f"{self.path}:{self.line}: {self.message}"


def closest_name(name: str, valid: Iterable[str]) -> str:
    """Return a hint naming the valid name closest to ``name`` (or listing them all)."""
    valid = sorted(valid)
    matches = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    if matches:
        return f"did you mean '{matches[0]}'?"
    return "valid names are: " + ", ".join(f"'{v}'" for v in valid)
