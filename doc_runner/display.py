"""What a block shows, decided by its current display directives: shared by fresh runs and stored results.

A run keeps what it printed (``captured``) and the printouts of the variables it showed; which of those
appear is decided here, so display-only edits re-render stored results without executing the guide.
"""

from __future__ import annotations

import dataclasses

from doc_runner.reader import Block
from doc_runner.result import BlockResult


def wanted_names(block: Block, library_names: list[str]) -> list[str]:
    """The variables ``block`` shows: ``print-locals`` names, else the library objects it made minus hidden."""
    assert block.code is not None
    if "DOC: NO_PRINT_LOCALS" in block.regions:
        return []
    show, hide = block.code.get("print-locals"), block.code.get("no-print-locals")
    if hide is not None and not hide.args:
        return []
    if show is not None:
        return list(show.args)
    hidden = set(hide.args) if hide is not None else set()
    return [name for name in library_names if name not in hidden]


def shown_output(block: Block, captured: str) -> str:
    """The output under the block: nothing under ``no-output``."""
    assert block.code is not None
    return "" if block.code.get("no-output") is not None else captured


def redisplay(block: Block, stored: BlockResult, path: str) -> BlockResult | str:
    """``stored`` as ``block`` shows it now, or why it cannot be (a variable it now shows was not kept)."""
    available = {variable.name: variable for variable in stored.variables}
    names = wanted_names(block, stored.library_names)
    missing = [name for name in names if name not in available]
    if missing:
        return (f"the block at line {block.line} now shows {', '.join(map(repr, missing))}, "
                "which the stored run did not keep")
    return dataclasses.replace(stored, path=path, line=block.line, code=block.shown_source,
                               output=shown_output(block, stored.captured),
                               variables=[available[name] for name in names])
