"""Text reports of a failed block, shared by pytest's failure report and the Sphinx build."""

from __future__ import annotations

from doc_runner.reader import Block
from doc_runner.result import BlockResult


def numbered_code(block: Block, mark_line: int = 0) -> str:
    """The block's source as written, each line prefixed with its guide line number; ``>`` marks one."""
    lines = block.text.rstrip("\n").splitlines()
    width = len(str(block.code_line + len(lines)))
    out = []
    for offset, text in enumerate(lines):
        number = block.code_line + offset
        out.append(f"{'>' if number == mark_line else ' '} {number:>{width}} | {text}")
    return "\n".join(out)


def failure_report(block: Block, result: BlockResult, with_location: bool = True) -> str:
    """``path:LINE: ...`` then the numbered code and the error (a traceback through the guide's lines).

    Without ``with_location`` the leading ``path:LINE:`` is left to the caller (Sphinx adds its own).
    """
    where = f"{result.location}: " if with_location else ""
    return (
        f"{where}the block at line {block.line} failed\n\n"
        f"{numbered_code(block, result.error_line)}\n\n{(result.error or '').rstrip()}"
    )
