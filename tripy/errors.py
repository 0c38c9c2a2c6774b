"""The library's one exception type, and how it points at the user's line of code."""

from __future__ import annotations

import linecache
import os
import sys
from types import CodeType, FrameType
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


#: Memos of :func:`user_location`, which runs for every tensor made. Keyed by the id of a code object (hashing
#: one hashes its constants, every time) and holding it, so that an id is not reused while it is a key:
#: whether each code object seen is tripy's own, and the location of each call site (code, instruction).
_internal_code: dict[int, tuple[CodeType, bool]] = {}
_sites: dict[tuple[int, int], tuple[CodeType, SourceLocation]] = {}
_MEMO_LIMIT = 50_000  # code objects of exec'd code come and go: the memos are cleared past this many


def user_location(skip: int = 1) -> SourceLocation | None:
    """The innermost frame outside the ``tripy`` package: the user's line that called into tripy."""
    frame: FrameType | None = sys._getframe(skip)
    internal = _internal_code
    while frame is not None:
        code = frame.f_code
        known = internal.get(id(code))
        if known is None or known[0] is not code:
            if len(internal) > _MEMO_LIMIT:
                internal.clear()
            known = internal[id(code)] = (code, code.co_filename.startswith(_INTERNAL))
        if not known[1]:
            key = (id(code), frame.f_lasti)
            site = _sites.get(key)
            if site is None or site[0] is not code:
                if len(_sites) > _MEMO_LIMIT:
                    _sites.clear()
                location = SourceLocation(code.co_filename, frame.f_lineno, code.co_name)
                site = _sites[key] = (code, location)
            return site[1]
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
