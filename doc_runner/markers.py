"""Region markers: HTML comments ``<!-- PREFIX: NAME Start -->`` ... ``<!-- PREFIX: NAME End -->``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from doc_runner.errors import GuideError, closest_name

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

_COMMENT = re.compile(r"<!--(?P<body>.*?)-->", re.DOTALL)


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


def find_markers(html: str, first_line: int, prefix: str, path: str) -> list[Marker]:
    """Return the markers in an HTML block that starts at guide line ``first_line``.

    Comments that do not start with ``prefix:`` are ordinary comments and ignored; one
    that does but names no valid marker raises :class:`GuideError`.
    """
    markers = []
    head = re.compile(rf"^\s*{re.escape(prefix)}\s*:\s*(?P<rest>.*?)\s*$", re.DOTALL)
    for comment in _COMMENT.finditer(html):
        match = head.match(comment.group("body"))
        if not match:
            continue
        line = first_line + html.count("\n", 0, comment.start())
        rest = " ".join(match.group("rest").split())
        name, _, edge = rest.rpartition(" ")
        if edge not in ("Start", "End"):
            guess = rest if rest in MARKER_NAMES else None
            hint = (
                f"write '<!-- {prefix}: {guess} Start -->' or '... End -->'"
                if guess
                else closest_name(rest, MARKER_NAMES)
            )
            raise GuideError(path, line, f"marker '{rest}' must end with 'Start' or 'End'; {hint}")
        name = _normalise(name)
        if name not in MARKER_NAMES:
            raise GuideError(path, line, f"unknown marker '{name}'; " + closest_name(name, MARKER_NAMES))
        markers.append(Marker(name, Edge(edge), line))
    return markers


def _normalise(name: str) -> str:
    """Accept 'TEST:IGNORE' as well as 'TEST: IGNORE'."""
    return re.sub(r"\s*:\s*", ": ", name)


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
