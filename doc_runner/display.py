"""What a block shows, decided by its current display directives and settings: shared by fresh runs and
stored results.

A run keeps everything it made (``made``) apart from what is shown (``outputs``), so display-only edits
(``no-output``, ``output-stderr``, ``omit`` lines, prose) re-render stored results without executing the guide.
"""

from __future__ import annotations

import dataclasses

from doc_runner import outputs as out
from doc_runner.errors import GuideError
from doc_runner.reader import Block, Guide
from doc_runner.result import BlockResult, Status
from doc_runner.settings import Settings


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


def stderr_policy(block: Block, settings: Settings) -> str:
    """``show``, ``remove``, ``warn`` or ``error``: the block's ``# doc: output-stderr`` or the setting."""
    directive = block.code.get("output-stderr") if block.code is not None else None
    return directive.args[0] if directive is not None and directive.args else settings.output_stderr


def shown_outputs(block: Block, made: list[out.Output], settings: Settings) -> list[out.Output]:
    """The outputs under the block: none under ``no-output``; stderr removed when the policy says so."""
    assert block.code is not None
    if block.code.get("no-output") is not None:
        return []
    return out.without_stderr(made) if stderr_policy(block, settings) == "remove" else list(made)


def stderr_text(result: BlockResult) -> str:
    return out.text_of(result.made, ("stderr",))


def apply(block: Block, result: BlockResult, settings: Settings) -> BlockResult:
    """Fill in what ``result`` shows from what it made; ``output-stderr error`` fails a block that wrote there."""
    result.outputs = shown_outputs(block, result.made, settings)
    result.output = out.text_of(result.outputs)
    result.captured = out.text_of(result.made)
    if result.status is Status.PASSED and stderr_policy(block, settings) == "error" and stderr_text(result):
        result.status = Status.FAILED
        result.error_line = block.line
        result.error = "the block wrote to stderr (doc_runner_output_stderr is 'error'):\n" + stderr_text(result)
    return result


def redisplay(block: Block, stored: BlockResult, path: str, settings: Settings | None = None) -> BlockResult:
    """``stored`` as ``block`` shows it now: its current line, code as shown, and outputs. The variables
    are the stored ones: which variables a block shows is part of its signature in the store."""
    fresh = dataclasses.replace(stored, path=path, line=block.line, code=block.shown_source)
    return apply(block, fresh, settings or Settings())


def check_directives(guide: Guide) -> None:
    """The arguments of the engine's and the renderer's directives, checked when the guide is read:
    ``timeout SECONDS``, ``output-stderr POLICY``, ``hide-input`` and ``hide-output`` (none)."""
    for block in guide.runnable_blocks:
        assert block.code is not None
        for directive in block.code.directives:
            where, args = (guide.path, directive.line), directive.args
            if directive.name == "timeout":
                try:
                    ok = len(args) == 1 and float(args[0]) > 0
                except ValueError:
                    ok = False
                if not ok:
                    raise GuideError(*where, "'# doc: timeout' takes one positive number of seconds, e.g. 120")
            elif directive.name == "output-stderr" and (len(args) != 1 or args[0] not in out.STDERR_POLICIES):
                raise GuideError(*where, f"'# doc: output-stderr' takes one of {', '.join(out.STDERR_POLICIES)}")
            elif directive.name in ("hide-input", "hide-output") and args:
                raise GuideError(*where, f"'# doc: {directive.name}' takes no arguments")
