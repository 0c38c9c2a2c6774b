"""``# doc:`` directives: comment lines (or line suffixes) inside a Python block.

A directive line is never rendered. Whole-line directives configure the block;
suffix directives (``omit``, ``ignore-line``) act on the line they end.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from doc_runner.errors import GuideError, GuideWarning, closest_name

#: Directives that stand on a line of their own and configure the whole block.
BLOCK_DIRECTIVES = frozenset(
    {"print-locals", "no-print-locals", "no-output", "no-eval", "allow-exception"}
    | {"timeout", "hide-input", "hide-output", "output-stderr"}  # the execution engine and rendering
    | {"name", "depends"}  # the block's test name; data files the guide reads
)
#: Directives written at the end of a line of code and acting on that line.
LINE_DIRECTIVES = frozenset({"omit", "ignore-line"})
ALL_DIRECTIVES = BLOCK_DIRECTIVES | LINE_DIRECTIVES

_DIRECTIVE_COMMENT = re.compile(r"^#\s*doc:\s*(?P<body>.*?)\s*$")


class LineRole(Enum):
    """What a line of a Python block is, as far as rendering and running go."""

    CODE = "code"  #: rendered and run
    DIRECTIVE = "directive"  #: a whole-line ``# doc:`` comment: neither rendered nor run
    OMIT = "omit"  #: run but not rendered
    IGNORE = "ignore-line"  #: rendered but not run


@dataclass(frozen=True)
class Directive:
    """One ``# doc: NAME ARGS`` directive found in a block.

    ``line`` is the 1-based line number in the guide's file.
    """

    name: str
    args: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class CodeLine:
    """One line of a Python block: its text without any suffix directive, and its role."""

    text: str
    role: LineRole
    line: int


@dataclass(frozen=True)
class ParsedCode:
    """A Python block split into its lines and its block directives."""

    lines: tuple[CodeLine, ...]
    directives: tuple[Directive, ...] = field(default=())
    #: comments that are almost directives (``# Doc: no-output``), each with the form meant
    warnings: tuple[GuideWarning, ...] = field(default=())

    def get(self, name: str) -> Directive | None:
        """Return the directive called ``name``, if the block has it."""
        return next((d for d in self.directives if d.name == name), None)

    def runnable_source(self) -> str:
        """The code that runs: ignored lines are blanked so line numbers stay true."""
        return "\n".join("" if ln.role is LineRole.IGNORE else ln.text for ln in self.lines) + "\n"

    def shown_source(self) -> str:
        """The code a reader sees: no directive lines, no omitted lines, no suffixes."""
        shown = [ln.text for ln in self.lines if ln.role in (LineRole.CODE, LineRole.IGNORE)]
        return "\n".join(shown).strip("\n") + ("\n" if shown else "")


#: The code of a line before its comment: anything but quotes, ``#`` and backslashes, escapes, and strings
#: that close on the line. The alternatives start differently, so matching never backtracks.
_BEFORE_COMMENT = re.compile(r"""(?:[^'"#\\]+|\\.|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")*""")


def _comments(source: str) -> dict[int, tuple[int, str]] | None:
    """Map 0-based line index to (column, text) of its comment.

    Returns None when the block does not tokenize (the executor then reports the syntax
    error; directives fall back to a plain textual scan).
    """
    if "'''" not in source and '"""' not in source:
        found = _line_comments(source)
        if found is not None:
            return found
    return _tokenized_comments(source)


def _line_comments(source: str) -> dict[int, tuple[int, str]] | None:
    """Comments found line by line, for a block without triple-quoted strings; None when a line does not
    end cleanly (an unclosed string, a backslash continuation), for Python's tokenizer to decide."""
    found: dict[int, tuple[int, str]] = {}
    for index, line in enumerate(code_lines(source)):
        if "#" not in line and "'" not in line and '"' not in line and "\\" not in line:
            continue
        code = _BEFORE_COMMENT.match(line)
        end = code.end() if code is not None else 0
        if end == len(line):
            continue
        if line[end] != "#":
            return None
        found[index] = (end, line[end:])
    return found


def _tokenized_comments(source: str) -> dict[int, tuple[int, str]] | None:
    """:func:`_comments` by Python's tokenizer."""
    found: dict[int, tuple[int, str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.ERRORTOKEN:  # an unterminated string, a stray character
                return None
            if tok.type == tokenize.COMMENT:
                found[tok.start[0] - 1] = (tok.start[1], tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return found


def code_lines(source: str) -> list[str]:
    """The lines of a block's code, split only at ``\\n`` as markdown-it and Python split them.

    Other characters that ``str.splitlines`` breaks at (form feed, vertical tab, FS-RS, NEL,
    U+2028, U+2029) stay inside their line, so the code runs exactly as written.
    """
    lines = source.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


_WORD = re.compile(r"[A-Za-z_-]+")


def _near_miss(comment: str) -> str | None:
    """The intended directive of a comment that almost is one (``# Doc:``, ``# docs:``, ``# doc no-output``)."""
    text = comment.lstrip("#").lstrip()
    word = _WORD.match(text)
    if word is None:
        return None
    rest = text[word.end() :].lstrip()
    colon = rest.startswith(":")
    rest = rest[1:].lstrip() if colon else rest
    name, _, args = rest.partition(" ")
    if name not in ALL_DIRECTIVES:
        return None
    if difflib.SequenceMatcher(None, word.group().lower(), "doc").ratio() < 0.6:
        return None
    return f"# doc: {name}" + (f" {' '.join(args.split())}" if args.strip() else "")


def _check_names(name: str, args: tuple[str, ...], path: str, lineno: int) -> None:
    """Variable names of ``print-locals`` / ``no-print-locals`` are identifiers separated by spaces."""
    bad = [a for a in args if not a.isidentifier()]
    if bad:
        names = " ".join(n for n in re.split(r"[\s,;]+", " ".join(args)) if n)
        raise GuideError(
            path,
            lineno,
            f"'# doc: {name}' takes variable names separated by spaces, not {bad[0]!r}; write '# doc: {name} {names}'",
        )


def _may_hold_directives(source: str) -> bool:
    """Whether any comment of ``source`` could be a directive or a near miss (else it need not be tokenized):
    each names a directive or is written with ``doc``."""
    return "#" in source and ("doc" in source.lower() or any(name in source for name in ALL_DIRECTIVES))


_DIRECTIVE_LINE = re.compile(r"^\s*#\s*doc:.*$")
_DIRECTIVE_SUFFIX = re.compile(r"\s+#\s*doc:\s*(omit|ignore-line)\s*$")


def without_directives(source: str) -> str:
    """``source`` as a reader sees it, even where its directives cannot be read: whole-line ``# doc:`` comments
    removed, ``# doc: omit`` lines dropped, and ``# doc: ignore-line`` suffixes cut (a guide in error is
    shown without running, and still never shows its directives)."""
    shown = []
    for line in source.split("\n"):
        if _DIRECTIVE_LINE.match(line):
            continue
        suffix = _DIRECTIVE_SUFFIX.search(line)
        if suffix is not None and suffix.group(1) == "omit":
            continue
        shown.append(line[: suffix.start()] if suffix is not None else line)
    return "\n".join(shown)


def parse_code(source: str, first_line: int, path: str) -> ParsedCode:
    """Split a Python block's ``source`` into lines and directives.

    ``first_line`` is the guide line of the block's first line of code. Unknown
    directive names and misplaced directives raise :class:`GuideError`; a comment that is
    almost a directive gives a :class:`GuideWarning`. In a block that does not tokenize,
    only valid whole-line directives are read (so the executor reports its syntax error).
    """
    if not _may_hold_directives(source):
        return ParsedCode(
            tuple(CodeLine(text, LineRole.CODE, first_line + i) for i, text in enumerate(code_lines(source)))
        )
    comments = _comments(source)
    lines: list[CodeLine] = []
    directives: list[Directive] = []
    warnings: list[GuideWarning] = []
    for index, text in enumerate(code_lines(source)):
        lineno = first_line + index
        if comments is not None:
            column, comment = comments.get(index, (-1, ""))
        else:  # untokenizable block: only a line that is a comment may hold a directive
            column = text.find("#") if text.lstrip().startswith("#") else -1
            comment = text[column:] if column >= 0 else ""
        match = _DIRECTIVE_COMMENT.match(comment) if comment else None
        if not match:
            intended = _near_miss(comment) if comment else None
            if intended is not None:
                warnings.append(
                    GuideWarning(
                        path,
                        lineno,
                        f"'{comment.strip()[:80]}' is not read as a directive (they are written '# doc: NAME'); "
                        f"did you mean '{intended}'?",
                    )
                )
            lines.append(CodeLine(text, LineRole.CODE, lineno))
            continue
        try:
            line = _directive_line(text, column, match.group("body"), lineno, path, directives)
        except GuideError:
            if comments is not None:
                raise
            line = CodeLine(text, LineRole.CODE, lineno)  # the syntax error is what to report
        lines.append(line)
    names = {d.name for d in directives}
    if {"print-locals", "no-print-locals"} <= names:
        line_no = next(d.line for d in directives if d.name == "no-print-locals")
        raise GuideError(path, line_no, "a block cannot have both 'print-locals' and 'no-print-locals'")
    return ParsedCode(tuple(lines), tuple(directives), tuple(warnings))


def _directive_line(text: str, column: int, body: str, lineno: int, path: str, directives: list[Directive]) -> CodeLine:
    """The line holding directive comment ``body`` at ``column``; a block directive is added to ``directives``."""
    words = body.split()
    if not words:
        raise GuideError(path, lineno, "empty '# doc:' directive; " + closest_name("", ALL_DIRECTIVES))
    name, args = words[0], tuple(words[1:])
    if name not in ALL_DIRECTIVES:
        raise GuideError(path, lineno, f"unknown directive '# doc: {name}'; " + closest_name(name, ALL_DIRECTIVES))
    whole_line = text[:column].strip() == ""
    if name in LINE_DIRECTIVES:
        if whole_line:
            raise GuideError(
                path,
                lineno,
                f"'# doc: {name}' goes at the end of the line it applies to, e.g. 'x = 1  # doc: {name}'",
            )
        if args:
            raise GuideError(path, lineno, f"'# doc: {name}' takes no arguments")
        return CodeLine(text[:column].rstrip(), LineRole.OMIT if name == "omit" else LineRole.IGNORE, lineno)
    if not whole_line:
        raise GuideError(path, lineno, f"'# doc: {name}' must be on a line of its own")
    if any(d.name == name for d in directives):
        raise GuideError(path, lineno, f"'# doc: {name}' is given twice in this block")
    if name in ("no-output", "no-eval") and args:
        raise GuideError(path, lineno, f"'# doc: {name}' takes no arguments")
    if name == "print-locals" and not args:
        raise GuideError(
            path,
            lineno,
            "'# doc: print-locals' needs the names to show; use 'no-print-locals' to show none",
        )
    if name in ("print-locals", "no-print-locals"):
        _check_names(name, args, path, lineno)
    if name == "name":
        _check_block_name(args, path, lineno)
    if name == "depends" and (not args or any(os.path.isabs(a) for a in args)):
        raise GuideError(path, lineno, "'# doc: depends' takes paths or globs relative to the guide, e.g. data/*.npy")
    if name == "allow-exception" and len(args) > 1:
        raise GuideError(path, lineno, "'# doc: allow-exception' takes at most one exception type")
    directives.append(Directive(name, args, lineno))
    return CodeLine(text, LineRole.DIRECTIVE, lineno)


_BLOCK_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _check_block_name(args: tuple[str, ...], path: str, lineno: int) -> None:
    """``# doc: name NAME``: one word of letters, digits, ``_``, ``.`` and ``-``, not an unnamed block's ``line-N``."""
    if len(args) != 1 or not _BLOCK_NAME.fullmatch(args[0]):
        raise GuideError(path, lineno, "'# doc: name' takes one name of letters, digits, '_', '.' and '-'")
    if re.fullmatch(r"line-\d+", args[0]):
        raise GuideError(path, lineno, f"'{args[0]}' is how unnamed blocks are called; choose another name")


def check_block_names(path: str, blocks: Iterable[ParsedCode | None]) -> None:
    """Two blocks of one guide (or docstring) cannot have the same ``# doc: name``: an error at the second."""
    seen: dict[str, int] = {}
    for code in blocks:
        named = code.get("name") if code is not None else None
        if named is None:
            continue
        if named.args[0] in seen:
            raise GuideError(
                path, named.line, f"the block name '{named.args[0]}' is already used at line {seen[named.args[0]]}"
            )
        seen[named.args[0]] = named.line
