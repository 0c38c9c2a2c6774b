"""The Markdown reader: a guide becomes an ordered list of :class:`Block` s.

It parses with markdown-it-py configured as MyST configures it, so fences inside
lists, tildes, longer fences and HTML comments are read exactly as MyST reads them.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from doc_runner import markers as mk
from doc_runner.directives import ParsedCode, parse_code
from doc_runner.errors import GuideEncodingError, GuideError, GuideWarning
from doc_runner.markers import Marker, Region
from doc_runner.myst_directives import NON_MARKDOWN_DIRECTIVES, markdown_body

if TYPE_CHECKING:  # a guide's process unpickles blocks without the parser (it imports it in about 30 ms)
    from markdown_it import MarkdownIt

__all__ = [
    "NON_MARKDOWN_DIRECTIVES",
    "PYTHON_LANGUAGES",
    "Block",
    "BlockKind",
    "Guide",
    "decode_guide",
    "normalize_newlines",
    "parse_guide",
    "read_guide",
]

#: Fence languages whose blocks run.
PYTHON_LANGUAGES = frozenset({"py", "python", "python3"})


class BlockKind(Enum):
    """What a :class:`Block` holds."""

    PROSE = "prose"
    CODE = "code"
    MARKER = "marker"


@dataclass(frozen=True)
class Block:
    """One piece of a guide, in file order.

    Lines are 1-based lines of the guide's file. For code, ``line`` is the opening fence
    (or ``.. code-block::`` line) and ``code_line`` the first line of code.
    """

    kind: BlockKind
    line: int
    end_line: int
    text: str
    language: str = ""
    code_line: int = 0
    #: names of the marker regions the block lies in
    regions: frozenset[str] = frozenset()
    #: directives and line roles; set for Python blocks that are not verbatim
    code: ParsedCode | None = None
    #: the marker, for MARKER blocks
    marker: Marker | None = None
    #: the expected-output regular expression (from a ``TEST: EXPECTED_STDOUT`` region after the block)
    expected_stdout: str | None = None
    #: line of that expected-output fence
    expected_stdout_line: int = 0
    #: the line MyST gives the block's node: ``line``, except inside a directive's body after a character
    #: that ``str.splitlines`` breaks at (MyST splits a body so); 0 where no MyST page shows the block
    page_line: int = 0

    @property
    def is_python(self) -> bool:
        return self.kind is BlockKind.CODE and self.language in PYTHON_LANGUAGES

    @property
    def verbatim(self) -> bool:
        """Rendered exactly as written (``DOC: NO_EVAL_OR_FORMAT``)."""
        return mk.DOC_NO_EVAL_OR_FORMAT in self.regions

    @property
    def ignored(self) -> bool:
        """Under ``TEST: IGNORE``: shown as plain code, marked as not run."""
        return mk.TEST_IGNORE in self.regions

    @property
    def is_expected_output(self) -> bool:
        """The fence of a ``TEST: EXPECTED_STDOUT`` region: a test assertion, not shown."""
        return self.kind is BlockKind.CODE and mk.TEST_EXPECTED_STDOUT in self.regions

    @property
    def runs(self) -> bool:
        """Whether the block is executed (in the build) and collected (by pytest)."""
        return (
            self.is_python
            and self.code is not None
            and not self.verbatim
            and not self.ignored
            and not self.is_expected_output
            and self.code.get("no-eval") is None
        )

    @property
    def xfail(self) -> bool:
        return mk.TEST_XFAIL in self.regions

    @property
    def shows_code(self) -> bool:
        """Whether the code itself is rendered (not under ``DOC: OMIT``)."""
        return mk.DOC_OMIT not in self.regions and not self.is_expected_output

    @property
    def shown_source(self) -> str:
        """The code as the reader sees it (and as the copy button copies it)."""
        if self.code is None:
            return self.text
        return self.code.shown_source()


@dataclass(frozen=True)
class Guide:
    """A parsed guide: its path (as reported in messages), its blocks and its regions."""

    path: str
    blocks: tuple[Block, ...]
    regions: tuple[Region, ...] = field(default=())
    #: the file's text (newlines normalised as Sphinx reads it), so tracebacks can show the guide's lines
    source: str = field(default="", repr=False, compare=False)
    #: near-miss directives and markers: they read, but probably not as the author meant
    warnings: tuple[GuideWarning, ...] = field(default=(), compare=False)

    @property
    def source_lines(self) -> list[str]:
        """The guide's lines with their ``\\n``, split only where markdown-it splits (for ``linecache``)."""
        parts = self.source.split("\n")
        return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])

    @property
    def code_blocks(self) -> list[Block]:
        return [b for b in self.blocks if b.kind is BlockKind.CODE]

    @property
    def runnable_blocks(self) -> list[Block]:
        return [b for b in self.blocks if b.runs]


_parsers: dict[str, MarkdownIt] = {}
#: The last configuration asked for and its parser (``repr`` of MyST's configuration costs half a millisecond)
_last: list[Any] = [object(), None]


def _markdown_parser(myst_config: Any = None) -> MarkdownIt:
    """MyST's own markdown-it configuration (the project's, when given), or CommonMark without myst-parser."""
    if _last[0] is myst_config and myst_config is not None:
        return _last[1]
    key = repr(myst_config)
    if key not in _parsers:
        _parsers[key] = _new_markdown_parser(myst_config)
    _last[:] = [myst_config, _parsers[key]]
    return _parsers[key]


def _new_markdown_parser(myst_config: Any) -> MarkdownIt:
    """Block structure only: inline markup never changes where blocks are, and parsing it costs the most
    (markdown-it's inline HTML rule is quadratic in a paragraph of unclosed ``<!--``)."""
    try:
        from markdown_it.renderer import RendererHTML
        from myst_parser.config.main import MdParserConfig
        from myst_parser.parsers.mdit import create_md_parser

        md = create_md_parser(myst_config or MdParserConfig(), RendererHTML)
    except ImportError:  # pragma: no cover - myst-parser is a dependency of the docs extra
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark")
    return md.disable(["inline", "text_join"], ignoreInvalid=True)


def decode_guide(data: bytes, path: str) -> str:
    """Decode a guide's bytes as UTF-8 (a byte order mark is dropped, as Sphinx drops it),
    or raise :class:`GuideEncodingError` at the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise GuideEncodingError(
            path,
            line,
            f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column}); save it as UTF-8",
        ) from None


def read_guide(
    path: str | Path, prefix: str = "Tripy", display_path: str | None = None, myst_config: Any = None
) -> Guide:
    """Read and parse the guide at ``path``; messages name it ``display_path`` (default: ``path``).

    ``myst_config`` is the project's MyST configuration (Sphinx's ``env.myst_config``), so the
    guide is read with the same syntax extensions as MyST reads it.
    """
    name = display_path or str(path)
    return parse_guide(decode_guide(Path(path).read_bytes(), name), name, prefix, myst_config)


def normalize_newlines(text: str) -> str:
    """``text`` as Sphinx hands it to MyST: no byte order mark, ``\\r\\n`` and ``\\r`` turned into ``\\n``.

    Nothing else is a line break: markdown-it splits lines only at ``\\n``.
    """
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def parse_guide(text: str, path: str, prefix: str = "Tripy", myst_config: Any = None) -> Guide:
    """Parse Markdown ``text`` into a :class:`Guide`; ``path`` is used in messages and tracebacks."""
    text = normalize_newlines(text)
    total_lines = text.count("\n") + 1
    raw: list[Block | _Code] = []
    markers: list[Marker] = []
    warnings: list[GuideWarning] = []
    _scan(_markdown_parser(myst_config), text, _Lines(), prefix, path, raw, markers, warnings, classes={})
    regions = mk.pair_regions(markers, path, total_lines)
    raw.sort(key=lambda b: b.line)  # a directive's blocks come after it, in order
    inside = mk.names_containing(regions, [b.line for b in raw])
    blocks = [_classify(b, names, path) for b, names in zip(raw, inside)]
    warnings += [w for b in blocks if b.code is not None for w in b.code.warnings]
    blocks = _attach_expected_output(blocks, regions, path)
    warnings.sort(key=lambda w: w.line)
    return Guide(path, tuple(_with_prose(blocks, text)), tuple(regions), text, tuple(warnings))


#: The characters other than ``\\n`` at which ``str.splitlines`` (and so MyST, in a directive's body) breaks.
_SPLITLINES_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


#: Text without any of these holds no fence and no marker: a directive's body without them is not parsed.
_BLOCK_MARKS = ("`", "~", "<!--", ":::")
#: The tokens the reader looks at: code, HTML (markers) and inline text (markers misplaced in a paragraph).
_READ_TOKENS = frozenset({"fence", "code_block", "colon_fence", "html_block", "inline"})


@dataclass(frozen=True)
class _Lines:
    """Where the lines of a text being scanned are: their guide lines, and the lines MyST gives them."""

    #: guide line of each 0-based line index; None where they are consecutive (index + 1 + ``offset``)
    guide: tuple[int, ...] | None = None
    offset: int = 0
    #: MyST numbers a directive's body from its first line on, as split by ``str.splitlines``
    page_offset: int = 0

    def line(self, index: int) -> int:
        if self.guide is None:
            return index + 1 + self.offset
        return self.guide[min(index, len(self.guide) - 1)]

    def page(self, index: int) -> int:
        return index + 1 + self.page_offset

    def body(self, fence: int, content: str, body_offset: int, body_length: int) -> _Lines:
        """The lines of a directive's body: the fence at index ``fence``, its ``content``, and the body
        MyST cut from it (its first line is ``content.splitlines()[body_offset]``; -1 is the fence's line)."""
        page_offset = self.page(fence) + body_offset
        if self.guide is None and _SPLITLINES_BREAKS.search(content) is None:
            return _Lines(None, self.line(fence) + body_offset, page_offset)  # one piece per line
        pieces = [
            j for j, text in enumerate(content.split("\n")) for _ in range(1 + len(_SPLITLINES_BREAKS.findall(text)))
        ]
        guide = [
            self.line(fence) if piece < 0 else self.line(fence + 1 + pieces[min(piece, len(pieces) - 1)])
            for piece in range(body_offset, body_offset + body_length)
        ]
        return _Lines(tuple(guide), 0, page_offset)


def _scan(
    md: MarkdownIt,
    text: str,
    lines: _Lines,
    prefix: str,
    path: str,
    raw: list[Block | _Code],
    markers: list[Marker],
    warnings: list[GuideWarning],
    container: str = "",
    classes: dict[str, Any] | None = None,
) -> None:
    """Collect code blocks and markers of ``text``, whose lines are at ``lines`` (``container``: the
    directive whose body it is; "" for the document; ``classes``: the directive classes looked up so far).

    The body of a MyST directive is read the same way when MyST renders it as Markdown
    (``{note}``, ``{seealso}``...; not an unknown directive or one in error).
    """
    inline_marker = re.compile(rf"<!--\s*{re.escape(prefix)}\s*:")
    for token in md.parse(text):
        if token.map is None or token.type not in _READ_TOKENS:
            continue
        first, last = lines.line(token.map[0]), lines.line(token.map[1] - 1)
        if token.type in ("fence", "code_block", "colon_fence"):
            info = (token.info or "").strip()
            language = info.split()[0].lower() if info and token.type != "code_block" else ""
            code_line = first if token.type == "code_block" else lines.line(token.map[0] + 1)
            page_line = lines.page(token.map[0])
            raw.append(_Code(first, last, token.content, language, code_line, page_line))
            name, _, argument = info.partition(" ") if token.type != "code_block" else ("", "", "")
            if len(name) > 2 and name.startswith("{") and name.endswith("}"):
                where = container if token.level == 0 else "list"
                body = markdown_body(name[1:-1], argument.strip(), token.content, page_line, where, classes)
                if body is not None and any(mark in body[0] for mark in _BLOCK_MARKS):
                    body_text, body_offset = body
                    inner = lines.body(token.map[0], token.content, body_offset, body_text.count("\n"))
                    _scan(md, body_text, inner, prefix, path, raw, markers, warnings, name[1:-1], classes)
        elif token.type == "html_block":
            for marker in mk.find_markers(token.content, first, prefix, path, warnings):
                markers.append(marker)
                raw.append(Block(BlockKind.MARKER, marker.line, marker.line, token.content, marker=marker))
        elif (
            token.type == "inline"
            and inline_marker.search(token.content)
            and inline_marker.search(_without_code_spans(token.content))
        ):
            raise GuideError(path, first, f"a '{prefix}:' marker must be an HTML comment on a line of its own")
    markers.sort(key=lambda m: m.line)


def _without_code_spans(text: str) -> str:
    """``text`` without its code spans (a run of n backticks up to the next run of exactly n), in linear time."""
    runs = [(m.start(), m.end()) for m in re.finditer("`+", text)]
    if not runs:
        return text
    of_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        of_length.setdefault(end - start, []).append(index)
    seen = dict.fromkeys(of_length, 0)  # per length: how far its list has been passed
    kept, copied, index = [], 0, 0
    while index < len(runs):
        start, end = runs[index]
        same = of_length[end - start]
        while seen[end - start] < len(same) and same[seen[end - start]] <= index:
            seen[end - start] += 1
        if seen[end - start] == len(same):  # no closing run: the backticks are text
            index += 1
            continue
        closing = same[seen[end - start]]
        kept.append(text[copied:start])
        copied, index = runs[closing][1], closing + 1
    kept.append(text[copied:])
    return "".join(kept)


class _Code(NamedTuple):
    """A code block as scanned, before the regions it lies in are known (a tuple: cheap to make)."""

    line: int
    end_line: int
    text: str
    language: str
    code_line: int
    page_line: int


def _classify(block: Block | _Code, inside: frozenset[str], path: str) -> Block:
    """A code block with the names of the regions it lies in and its directives parsed."""
    if isinstance(block, Block):
        return block
    parses = block.language in PYTHON_LANGUAGES and mk.DOC_NO_EVAL_OR_FORMAT not in inside
    code = parse_code(block.text, block.code_line, path) if parses and mk.TEST_EXPECTED_STDOUT not in inside else None
    return Block(
        BlockKind.CODE, block.line, block.end_line, block.text, block.language, block.code_line,
        regions=inside, code=code, page_line=block.page_line,
    )  # fmt: skip


def _attach_expected_output(blocks: list[Block], regions: list[Region], path: str) -> list[Block]:
    """Give each ``TEST: EXPECTED_STDOUT`` fence's text to the runnable block just before it.

    ``blocks`` are in line order; one pass over them and a binary search per region.
    """
    if not any(r.name == mk.TEST_EXPECTED_STDOUT for r in regions):
        return blocks
    code = [i for i, b in enumerate(blocks) if b.kind is BlockKind.CODE]
    code_lines = [blocks[i].line for i in code]
    last_runnable: list[int] = []  # per block: the index of the last runnable block before it, or -1
    previous = -1
    for i, block in enumerate(blocks):
        last_runnable.append(previous)
        if block.runs:
            previous = i
    for region in (r for r in regions if r.name == mk.TEST_EXPECTED_STDOUT):
        fences = code[bisect_right(code_lines, region.start) : bisect_left(code_lines, region.end)]
        if len(fences) != 1:
            raise GuideError(
                path,
                region.start,
                f"a '{region.name}' region must hold exactly one code fence (found {len(fences)})",
            )
        fence = blocks[fences[0]]
        index = last_runnable[fences[0]]
        if index < 0:
            raise GuideError(path, region.start, f"'{region.name}' has no executed Python block before it to check")
        target = blocks[index]
        if target.expected_stdout is not None:
            raise GuideError(
                path,
                region.start,
                f"the block at line {target.line} already has an expected output (line {target.expected_stdout_line})",
            )
        blocks[index] = dataclasses.replace(target, expected_stdout=fence.text, expected_stdout_line=fence.line)
    return blocks


def _with_prose(blocks: list[Block], text: str) -> list[Block]:
    """Fill the gaps between code and marker blocks with PROSE blocks (non-blank text only)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    result: list[Block] = []
    cursor = 1

    def add_prose(start: int, end: int) -> None:
        chunk = "\n".join(lines[start - 1 : end])
        if chunk.strip():
            result.append(Block(BlockKind.PROSE, start, end, chunk + "\n"))

    for block in sorted(blocks, key=lambda b: b.line):
        if block.line > cursor:
            add_prose(cursor, block.line - 1)
        result.append(block)
        cursor = max(cursor, block.end_line + 1)
    if cursor <= len(lines):
        add_prose(cursor, len(lines))
    return result
