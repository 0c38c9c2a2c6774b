"""Docstring examples: ``.. code-block:: python`` blocks in a library's docstrings.

Each docstring with examples becomes a small :class:`~doc_runner.reader.Guide` whose
blocks carry their real line numbers in the ``.py`` file, so they run, fail and
report exactly like a guide's blocks.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from doc_runner.directives import code_lines, parse_code
from doc_runner.reader import PYTHON_LANGUAGES, Block, BlockKind, Guide, decode_guide

_CODE_BLOCK = re.compile(r"^(?P<indent>\s*)\.\.\s+code-block::\s*(?P<language>\S+)\s*$")


@dataclass(frozen=True)
class DocstringGuide:
    """The examples of one docstring: the documented object's qualified name and its guide."""

    qualname: str
    guide: Guide

    @property
    def codes(self) -> tuple[str, ...]:
        """The examples' code, in order (used to match autodoc's docstring to this one)."""
        return tuple(b.text.strip("\n") for b in self.guide.code_blocks)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def find_code_blocks(lines: list[str], first_line: int, path: str) -> list[Block]:
    """The Python ``.. code-block::`` directives in docstring ``lines`` (line 0 is at ``first_line``)."""
    blocks = []
    i = 0
    while i < len(lines):
        match = _CODE_BLOCK.match(lines[i])
        if not match or match.group("language").lower() not in PYTHON_LANGUAGES:
            i += 1
            continue
        base = len(match.group("indent"))
        start = i
        i += 1
        while i < len(lines) and lines[i].strip().startswith(":") and _indent(lines[i]) > base:
            i += 1  # directive options such as :linenos:
        body_start = None
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            if body_start is None and lines[i].strip():
                body_start = i
            i += 1
        if body_start is None:
            continue
        end = i
        while end > body_start and not lines[end - 1].strip():
            end -= 1
        text = textwrap.dedent("\n".join(lines[body_start:end])) + "\n"
        code_line = first_line + body_start
        block = Block(
            BlockKind.CODE,
            first_line + start,
            first_line + end - 1,
            text,
            match.group("language").lower(),
            code_line,
        )
        blocks.append(Block(**{**block.__dict__, "code": parse_code(text, code_line, path)}))
    return blocks


def read_docstring_guides(path: str | Path, display_path: str | None = None) -> list[DocstringGuide]:
    """Every docstring in the Python file at ``path`` that has Python examples, as guides."""
    name = display_path or str(path)
    source = decode_guide(Path(path).read_bytes(), name)
    tree = ast.parse(source, filename=name)
    found: list[DocstringGuide] = []

    def visit(node: ast.AST, qualname: str) -> None:
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                blocks = find_code_blocks(code_lines(value.value), value.lineno, name)
                if blocks:
                    warnings = tuple(w for b in blocks if b.code is not None for w in b.code.warnings)
                    found.append(DocstringGuide(qualname, Guide(name, tuple(blocks), (), source, warnings)))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, f"{qualname}.{child.name}" if qualname else child.name)

    visit(tree, "")
    return found
