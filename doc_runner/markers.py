"""Region markers: HTML comments ``<!-- PREFIX: NAME Start -->`` ... ``<!-- PREFIX: NAME End -->``."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from doc_runner.errors import GuideError, GuideWarning, closest_name

TEST_IGNORE = "TEST: IGNORE"
TEST_XFAIL = "TEST: XFAIL"
TEST_EXPECTED_STDOUT = "TEST: EXPECTED_STDOUT"
DOC_OMIT = "DOC: OMIT"
DOC_NO_EVAL_OR_FORMAT = "DOC: NO_EVAL_OR_FORMAT"
DOC_NO_PRINT_LOCALS = "DOC: NO_PRINT_LOCALS"

#: Every marker name, as written between the prefix and Start/End.
MARKER_NAMES = frozenset(
    {TEST_IGNORE, TEST_XFAIL, TEST_EXPECTED_STDOUT, DOC_OMIT, DOC_NO_EVAL_OR_FORMAT, DOC_NO_PRINT_LOCALS}
)

#: A leading word and an optional colon: what a misspelt prefix looks like (``tripy:``, ``Tripy``).
_LEADING_WORD = re.compile(r"(?P<word>[\w-]+) ?:? ?")


class Edge(Enum):
    """Whether a marker opens or closes its region."""

    START = "Start"
    END = "End"


@dataclass(frozen=True)
class Marker:
    """One marker comment: the region name, whether it starts or ends it, and its guide line."""

    name: str
    edge: Edge
    line: int


@dataclass(frozen=True)
class Region:
    """A closed marker region: lines ``start``..``end`` (both markers included)."""

    name: str
    start: int
    end: int

    def contains(self, line: int) -> bool:
        """Whether guide line ``line`` lies inside the region."""
        return self.start < line < self.end


def html_comments(html: str, first_line: int) -> Iterator[tuple[int, str]]:
    """The closed comments of ``html`` as (guide line, body), in linear time (an unclosed one ends the search)."""
    position, line, counted = 0, first_line, 0
    while (start := html.find("<!--", position)) >= 0:
        end = html.find("-->", start + 4)
        if end < 0:
            return
        line += html.count("\n", counted, start)
        counted = start
        yield line, html[start + 4 : end]
        position = end + 3


def _as_marker(words: str) -> tuple[str, str] | None:
    """``(name, edge)`` when space-normalised ``words`` are a valid marker name and Start/End."""
    name, _, edge = words.rpartition(" ")
    name = _normalise(name)
    return (name, edge) if edge in ("Start", "End") and name in MARKER_NAMES else None


def find_markers(
    html: str, first_line: int, prefix: str, path: str, warnings: list[GuideWarning] | None = None
) -> list[Marker]:
    """Return the markers in an HTML block that starts at guide line ``first_line``.

    Comments that do not start with ``prefix:`` are ordinary comments and ignored, except that
    one which would be a marker but for its prefix (``tripy:``, no colon, none at all) adds a
    :class:`GuideWarning` to ``warnings``. A comment that starts with ``prefix:`` but names no
    valid marker raises :class:`GuideError`.
    """
    markers = []
    for line, body in html_comments(html, first_line):
        kind, value, edge = _read_comment(" ".join(body.split()), prefix)
        if kind == "marker":
            markers.append(Marker(value, edge, line))
        elif kind == "error":
            raise GuideError(path, line, value)
        elif kind == "warning" and warnings is not None:
            warnings.append(GuideWarning(path, line, value))
    return markers


@lru_cache(maxsize=4096)
def _read_comment(words: str, prefix: str) -> tuple[str, str, Edge]:
    """What a comment's space-normalised ``words`` are: ``("marker", name, edge)``, ``("error", message, _)``,
    ``("warning", message, _)`` (a near miss) or ``("comment", "", _)``. Guides repeat their markers, so
    this is cached."""
    rest = _after_prefix(words, prefix)
    if rest is None:
        hint = _near_miss(words, prefix)
        return ("comment", "", Edge.START) if hint is None else ("warning", hint, Edge.START)
    name, _, edge = rest.rpartition(" ")
    if edge not in ("Start", "End"):
        guess = rest if rest in MARKER_NAMES else None
        hint = (
            f"write '<!-- {prefix}: {guess} Start -->' or '... End -->'" if guess else closest_name(rest, MARKER_NAMES)
        )
        return "error", f"marker '{rest[:200]}' must end with 'Start' or 'End'; {hint}", Edge.START
    name = _normalise(name)
    if name not in MARKER_NAMES:
        return "error", f"unknown marker '{name[:200]}'; " + closest_name(name, MARKER_NAMES), Edge.START
    return "marker", name, Edge(edge)


def _after_prefix(words: str, prefix: str) -> str | None:
    """What follows ``prefix:`` in a comment's space-normalised words, or None if it does not start so."""
    if not words.startswith(prefix):
        return None
    after = words[len(prefix) :].lstrip()
    return after[1:].strip() if after.startswith(":") else None


def _near_miss(words: str, prefix: str) -> str | None:
    """A hint when a comment is a marker but for its prefix; None for ordinary comments."""
    if (marker := _as_marker(words)) is not None:
        return f"'<!-- {words[:80]} -->' has no '{prefix}:' prefix; write '<!-- {prefix}: {' '.join(marker)} -->'"
    match = _LEADING_WORD.match(words)
    if match is None or (marker := _as_marker(words[match.end() :])) is None:
        return None
    similar = difflib.SequenceMatcher(None, match.group("word").lower(), prefix.lower()).ratio() >= 0.6
    if not similar:
        return None
    return (
        f"'<!-- {words[:80]} -->' is not read as a marker (the prefix is '{prefix}:', case and colon included); "
        f"did you mean '<!-- {prefix}: {' '.join(marker)} -->'?"
    )


def _normalise(name: str) -> str:
    """Accept 'TEST:IGNORE' as well as 'TEST: IGNORE' (``name`` has single spaces only)."""
    return re.sub(r" ?: ?", ": ", name)


def pair_regions(markers: list[Marker], path: str, last_line: int) -> list[Region]:
    """Match Start and End markers into regions, in file order.

    A Start without an End, an End without a Start, or a region opened twice raises
    :class:`GuideError` at the offending marker's line.
    """
    open_: dict[str, Marker] = {}
    regions = []
    for marker in markers:
        if marker.edge is Edge.START:
            if marker.name in open_:
                raise GuideError(
                    path,
                    marker.line,
                    f"'{marker.name} Start' again while it is open since line {open_[marker.name].line}",
                )
            open_[marker.name] = marker
        else:
            start = open_.pop(marker.name, None)
            if start is None:
                raise GuideError(
                    path,
                    marker.line,
                    f"'{marker.name} End' without a matching '{marker.name} Start' before it",
                )
            regions.append(Region(marker.name, start.line, marker.line))
    if open_:
        first = min(open_.values(), key=lambda m: m.line)
        raise GuideError(
            path,
            first.line,
            f"'{first.name} Start' has no matching '{first.name} End' (the file ends at line {last_line})",
        )
    return sorted(regions, key=lambda r: r.start)


def names_containing(regions: Sequence[Region], lines: Sequence[int]) -> list[frozenset[str]]:
    """For each guide line of ``lines``, the names of the regions that contain it (one sweep, any order)."""
    # Each region counts from the line after its Start marker up to the line before its End marker.
    events = sorted([(r.start + 1, 1, r.name) for r in regions] + [(r.end, -1, r.name) for r in regions])
    order = sorted(range(len(lines)), key=lambda i: lines[i])
    result: list[frozenset[str]] = [frozenset()] * len(lines)
    active: Counter[str] = Counter()
    current: frozenset[str] = frozenset()
    position = 0
    for i in order:
        changed = False
        while position < len(events) and events[position][0] <= lines[i]:
            _, step, name = events[position]
            active[name] += step
            position += 1
            changed = True
        if changed:
            current = frozenset(name for name, count in active.items() if count > 0)
        result[i] = current
    return result
