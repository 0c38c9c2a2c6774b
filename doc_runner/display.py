"""What a block shows, decided by its current display directives: shared by fresh runs and stored results.

A run keeps what it printed (``captured``) apart from what is shown, so display-only edits (``no-output``,
``omit`` lines, prose) re-render stored results without executing the guide.
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


def redisplay(block: Block, stored: BlockResult, path: str) -> BlockResult:
    """``stored`` as ``block`` shows it now: its current line, code as shown, and output. The variables
    are the stored ones: which variables a block shows is part of its signature in the store."""
    return dataclasses.replace(
        stored, path=path, line=block.line, code=block.shown_source, output=shown_output(block, stored.captured)
    )
