"""The library's one exception type, and how it points at the user's line of code."""

from __future__ import annotations

import linecache
import os
import sys
from types import FrameType
from typing import NamedTuple, NoReturn

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_INTERNAL = (_PACKAGE_DIR, "<frozen ")


class SourceLocation(NamedTuple):
    """Where, in the user's code, something was done: a file, a line and the function."""

    filename: str
    lineno: int
    function: str

    def code(self) -> str:
        return linecache.getline(self.filename, self.lineno).strip()

    def __str__(self) -> str:
        text = f'File "{self.filename}", line {self.lineno}, in {self.function}'
        code = self.code()
        return f"{text}\n    {code}" if code else text


_new_location = tuple.__new__

#: Whether each code object seen is tripy's own (memoized: this runs for every tensor made).
_internal_code: dict[object, bool] = {}


def user_location(skip: int = 1) -> SourceLocation | None:
    """The innermost frame outside the ``tripy`` package: the user's line that called into tripy."""
    frame: FrameType | None = sys._getframe(skip)
    internal = _internal_code
    while frame is not None:
        code = frame.f_code
        inside = internal.get(code)
        if inside is None:
            if len(internal) > 50_000:  # code objects of exec'd code come and go: keep the memo bounded
                internal.clear()
            inside = internal[code] = code.co_filename.startswith(_INTERNAL)
        if not inside:
            # tuple.__new__ skips the NamedTuple's Python-level constructor (this runs for every tensor made)
            return _new_location(SourceLocation, (code.co_filename, frame.f_lineno, code.co_name))
        frame = frame.f_back
    return None


class TripyException(Exception):
    """Raised for every user error: says what was wrong, which argument, and where in the user's code."""


TripyError = TripyException


def raise_error(message: str, details: list[tuple[str, SourceLocation | None]] | None = None) -> NoReturn:
    """Raise a TripyException for ``message``, with the user's call site and any related locations.

    ``details`` pairs a caption (e.g. "`scale` was created here") with the user's location it refers to.
    The message names the user's lines; Python's own traceback still lists the frames in between.
    """
    lines = [message]
    call_site = user_location(2)
    if call_site is not None:
        lines.append(f"\nCalled at:\n  {call_site}")
    for caption, location in details or []:
        if location is not None and location != call_site:
            lines.append(f"\n{caption}:\n  {location}")
    raise TripyException("\n".join(lines)) from None
