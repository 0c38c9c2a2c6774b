"""The record of one block's run, read by the renderer, the pytest items and the cache."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """How a block's run ended."""

    PASSED = "passed"  #: ran as intended (including an allowed exception)
    FAILED = "failed"  #: raised, timed out, or its output did not match
    XFAILED = "xfailed"  #: failed inside a ``TEST: XFAIL`` region, as expected
    XPASSED = "xpassed"  #: ran cleanly although inside ``TEST: XFAIL``
    SKIPPED = "skipped"  #: not run because an earlier block of the guide failed
    NOT_RUN = "not-run"  #: execution is off


@dataclass
class LocalVariable:
    """One entry under "Local Variables": the name and its formatted printout."""

    name: str
    text: str
    #: the value's other MIME types (``text/html`` of a DataFrame...); the page prefers them to ``text``
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass
class BlockResult:
    """What happened when a block ran. Plain data, so it can be stored and reloaded."""

    #: guide path as reported (``docs/guides/x.md``) and the block's fence line
    path: str
    line: int
    status: Status
    #: the code as rendered (directive and omitted lines removed)
    code: str = ""
    #: what the block printed (stdout and stderr in order, ANSI removed); "" under ``no-output``
    output: str = ""
    #: everything the block showed, as Jupyter output records (see doc_runner.outputs); [] under ``no-output``
    outputs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: the outputs as made, kept under ``no-output`` too (``outputs`` is what is shown)
    made: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: the variables to show
    variables: list[LocalVariable] = dataclasses.field(default_factory=list)
    #: why the block failed (a traceback whose frames are guide lines, or a message); None if it did not
    error: str | None = None
    #: the guide line the error points at
    error_line: int = 0
    #: for SKIPPED: the line of the block whose failure stopped the guide
    skipped_because: int = 0
    #: wall time of the block, seconds
    duration: float = 0.0
    #: everything the block printed, kept under ``no-output`` too (``output`` is what is shown)
    captured: str = ""
    #: where it ran: Python, platform, and the library's backend and device (see doc_runner.environment)
    environment: dict[str, str] = dataclasses.field(default_factory=dict)
    #: True when these results were read from the store instead of executed
    cached: bool = False
    #: why the guide was executed, or why its stored results were used
    cache_reason: str = ""

    @property
    def locals_text(self) -> str:
        """The "Local Variables" section as text."""
        return "\n\n".join(v.text for v in self.variables)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.error_line or self.line}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the outputs are JSON already, so nothing is copied deeply)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["status"] = self.status.value
        data["variables"] = [dataclasses.asdict(v) for v in self.variables]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BlockResult:
        data = dict(data)
        data["status"] = Status(data["status"])
        data["variables"] = [LocalVariable(**v) for v in data.get("variables", [])]
        return cls(**data)
