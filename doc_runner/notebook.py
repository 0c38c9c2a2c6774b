"""A guide as a Jupyter notebook (nbformat 4, with the executed outputs) and as a Python script.

The pre-imports become an explicit first cell (with ``__file__``, which a kernel does not set), directives stay
as comments, prose becomes Markdown cells, and blocks that never run (``TEST: IGNORE``, ``no-eval``) become raw
cells, and blocks expected to raise are tagged ``raises-exception``, so the notebook re-runs in Jupyter
with the page's results.
"""

from __future__ import annotations

import json
from typing import Any

from doc_runner.directives import LineRole
from doc_runner.reader import Block, Guide
from doc_runner.result import BlockResult
from doc_runner.settings import Settings


def setup_code(guide_name: str, settings: Settings) -> str:
    """The first cell: what doc_runner binds before a guide's first block."""
    lines = [f"import {module} as {alias}" for alias, module in settings.pre_imports.items()]
    lines += ["import os", f"__file__ = os.path.abspath({guide_name!r})  # the guide this notebook comes from"]
    return "\n".join(lines)


def cell_code(block: Block) -> str:
    """A block's code as written; lines that the build does not run (``ignore-line``) commented out."""
    if block.code is None:
        return block.text.rstrip("\n")
    original = block.text.split("\n")
    lines = []
    for index, line in enumerate(block.code.lines):
        text = original[index] if index < len(original) else line.text
        lines.append(f"# {text}" if line.role is LineRole.IGNORE else text)
    return "\n".join(lines).rstrip("\n")


def _python_cells(guide: Guide) -> list[Block]:
    return [b for b in guide.code_blocks if b.is_python and not b.is_expected_output]


def to_notebook(guide: Guide, results: dict[int, BlockResult], settings: Settings, guide_name: str) -> dict[str, Any]:
    """The guide as an nbformat 4.5 notebook (plain data; ``nbformat.validate`` accepts it, and the tests
    check that it does); ``guide_name`` is the guide's file name (for ``__file__``)."""
    lines = guide.source.split("\n")
    cells: list[dict[str, Any]] = [_code(setup_code(guide_name, settings), None)]
    cursor = 1
    count = 1
    for block in _python_cells(guide):
        prose = "\n".join(lines[cursor - 1 : block.line - 1]).strip("\n")
        if prose.strip():
            cells.append({"cell_type": "markdown", "metadata": {}, "source": prose})
        cursor = block.end_line + 1
        if not block.runs:
            cells.append({"cell_type": "raw", "metadata": {}, "source": cell_code(block)})
            continue
        count += 1
        result = results.get(block.line)
        made = result.made if result is not None else []
        cell = _code(cell_code(block), count, [_output(o, count) for o in made])
        if block.xfail or (block.code is not None and block.code.get("allow-exception") is not None):
            cell["metadata"]["tags"] = ["raises-exception"]  # Jupyter's tag: "run all" goes on past it
        cells.append(cell)
    rest = "\n".join(lines[cursor - 1 :]).strip("\n")
    if rest.strip():
        cells.append({"cell_type": "markdown", "metadata": {}, "source": rest})
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": cells,
    }


def _code(source: str, count: int | None, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "source": source, "execution_count": count, "outputs": outputs or []}


def _output(output: dict[str, Any], count: int) -> dict[str, Any]:
    return {**output, "execution_count": count} if output["output_type"] == "execute_result" else dict(output)


def to_script(guide: Guide, settings: Settings, guide_name: str) -> str:
    """The guide's Python blocks as one script, prose left out; blocks that do not run are comments."""
    parts = [f"# {guide.path}, as a script\n" + setup_code(guide_name, settings)]
    for block in _python_cells(guide):
        code = cell_code(block)
        if not block.runs:
            code = "\n".join(f"# {line}" for line in code.split("\n"))
        parts.append(f"# %% line {block.line}\n{code}")
    return "\n\n".join(parts) + "\n"


def write_notebook(notebook: dict[str, Any]) -> str:
    """The notebook as its ``.ipynb`` text, laid out as Jupyter writes it."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
