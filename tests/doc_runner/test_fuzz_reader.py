"""The reader against MyST itself, over generated guides.

A generator writes guides from the pieces that broke the reader before: characters that
``str.splitlines`` breaks at, fences of every kind, directives MyST renders, does not know or
rejects, marker regions, near-miss markers and directive typos. The invariants:

- code as run equals code as written (byte for byte, at the lines it was written on);
- every error and warning names the guide and a line that holds what it is about;
- the Python blocks the reader finds are exactly those MyST puts on the page (the doctree of
  MyST under docutils for each hypothesis example, and of one real Sphinx build over many guides).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docutils import nodes
from docutils.core import publish_doctree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from myst_parser.parsers.docutils_ import Parser

from doc_runner.errors import GuideError, GuideWarning
from doc_runner.reader import PYTHON_LANGUAGES, Guide, parse_guide

pytestmark = pytest.mark.filterwarnings(r"ignore:'myst_parser\..*' is deprecated")

#: Characters that ``str.splitlines`` breaks at and markdown-it does not.
SEPARATORS = ["\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e"]

#: (name, argument, options line): directives of docutils, rendered or in error, and unknown ones.
DOCUTILS_DIRECTIVES = [
    ("note", "", ""),
    ("warning", "a first line of body", ""),
    ("admonition", "A title", ""),
    ("admonition", "", ""),  # an argument is required: MyST renders only the error
    ("frobnicate", "", ""),  # unknown
    ("note", "", ":class: extra"),
    ("note", "", ":no-such-option: x"),  # a warning; the body is still rendered
    ("topic", "A topic", ""),
    ("topic", "", ""),  # an argument is required
    ("sidebar", "Aside", ""),
    ("container", "", ""),
    ("code-block", "text", ""),  # not Markdown
]
#: Sphinx's own directives, known only in a Sphinx build (and to the reader's table outside one).
SPHINX_DIRECTIVES = [
    ("seealso", "", ""),
    ("versionadded", "1.0", ""),
    ("versionadded", "", ""),  # a version is required
    ("deprecated", "2.0", ""),
    ("only", "html", ""),
]


@dataclass
class Written:
    """A generated guide: its text, the code of each top-level Python fence by fence line, and whether
    a deliberate mistake was put in (then the reader may raise)."""

    text: str = ""
    fences: dict[int, str] = field(default_factory=dict)
    mistake: bool = False

    @property
    def line(self) -> int:
        """The line the next text starts on."""
        return self.text.count("\n") + 1


class GuideWriter:
    """Writes a random guide from ``rng``, with ``directives`` to nest blocks in."""

    def __init__(self, rng: random.Random, directives: list[tuple[str, str, str]]) -> None:
        self.rng = rng
        self.directives = directives
        self.open: list[str] = []  # marker regions open around the part being written
        self.directives_open = 0
        #: no separators: in a list item inside a directive, MyST's splitting of the body at one would move
        #: lines out of the item (a real change of structure, which MyST makes too)
        self.plain = 0

    def code(self) -> str:
        """A few lines of Python."""
        rng = self.rng
        lines = []
        used: set[str] = set()
        for n in range(rng.randint(1, 4)):
            kind = rng.randrange(9)
            sep = "" if self.plain else rng.choice(SEPARATORS)
            if kind == 0:
                lines.append(f"s{n} = 'a{sep}b'")
            elif kind == 1:
                lines.append(f"# a comment{sep}with a separator")
            elif kind == 2 and "no-output" not in used:
                used.add("no-output")
                lines.append("# doc: no-output")
            elif kind == 3:
                lines.append(f"y{n} = {n}  # doc: omit")
            elif kind == 4:
                lines.append("label = '# doc: inside a string'")
            elif kind == 5:
                lines.append(f"html = '<!-- Tripy: TEST: IGNORE Start -->'{sep}")
            elif kind == 6:
                lines.append(f"if True:\n    z{n} = {n}")
            else:
                lines.append(f"x{n} = {n}")
        return "\n".join(lines) + "\n"

    def prose(self) -> str:
        rng = self.rng
        words = ["Some", "text", "`code`", "*emph*", "<b>", "#hash", "`<!-- a comment -->`"]
        words += [] if self.plain else [rng.choice(SEPARATORS)]
        return " ".join(rng.choice(words) for _ in range(rng.randint(1, 8))).strip() + "\n"

    def fence(self, code: str, ticks: int = 3) -> str:
        language = self.rng.choice(["py", "python", "python3", "text", ""])
        mark = self.rng.choice(["`", "~"]) * ticks
        return f"{mark}{language}\n{code}{mark}\n"

    def part(self, out: Written, depth: int) -> None:
        """Append one part (prose, a fence, a directive, a region, a list) to ``out``."""
        rng = self.rng
        kind = rng.randrange(8 if depth else 7)
        if kind in (0, 1):
            out.text += self.prose()
        elif kind in (2, 3):
            code = self.code()
            text = self.fence(code)
            if depth == 0 and text.split("\n", 1)[0].lstrip("`~") in PYTHON_LANGUAGES:
                out.fences[out.line] = code
            out.text += text
        elif kind == 4:
            names = ["TEST: IGNORE", "DOC: OMIT", "TEST: XFAIL", "DOC: NO_PRINT_LOCALS"]
            name = rng.choice([n for n in names if n not in self.open] or [""])
            if name:
                self.open.append(name)
                out.text += f"<!-- Tripy: {name} Start -->\n"
                self.part(out, depth)
                out.text += f"<!-- Tripy: {name} End -->\n"
                self.open.pop()
        elif kind == 5:
            out.text += rng.choice(["<!-- tripy: TEST: XFAIL Start -->\n", "<!-- an editor's note -->\n"])
        elif kind == 6:
            item = Written()
            self.plain += self.directives_open > 0
            if depth and rng.random() < 0.4:
                self.directive(item, depth)
            else:
                item.text = self.fence(self.code())
            self.plain -= self.directives_open > 0
            out.mistake = out.mistake or item.mistake
            indented = [f"  {line}\n" if line else "\n" for line in item.text.split("\n")[:-1]]
            out.text += "- an item\n\n" + "".join(indented)
        else:
            self.directive(out, depth)
        if rng.random() < 0.03:
            out.mistake = True
            out.text += rng.choice(["```py\n# doc: no-ouput\n```\n", "<!-- Tripy: DOC: OMIT End -->\n"])
        out.text += "\n"

    def directive(self, out: Written, depth: int) -> None:
        """A ``{name}`` fence around one or two parts (its fence longer than any inside)."""
        name, argument, option = self.rng.choice(self.directives)
        inner = Written()
        self.directives_open += 1
        for _ in range(self.rng.randint(1, 2)):
            self.part(inner, depth - 1)
        self.directives_open -= 1
        out.mistake = out.mistake or inner.mistake
        ticks = max([3] + [len(line.lstrip()) - len(line.lstrip().lstrip("`")) for line in inner.text.split("\n")]) + 1
        head = f"{'`' * ticks}{{{name}}}" + (f" {argument}" if argument else "") + "\n"
        out.text += head + (f"{option}\n\n" if option else "") + inner.text + "`" * ticks + "\n"

    def guide(self, depth: int = 2) -> Written:
        out = Written(text="# A guide\n\n")
        for _ in range(self.rng.randint(1, 6)):
            self.part(out, depth)
        return out


def python_blocks_in_doctree(doctree: nodes.document, exact: bool = True) -> list[tuple[int, str]]:
    """(line, text) of the Python code blocks on the page. Under plain docutils the text is the
    highlighter's, which drops trailing white space: ``exact=False`` compares without it."""
    found = []
    for node in doctree.findall(nodes.literal_block):
        language = node.get("language") or (node["classes"][1] if len(node["classes"]) > 1 else "")
        if language.lower() in PYTHON_LANGUAGES:
            found.append((node.line, node.astext() if exact else node.astext().rstrip()))
    return sorted(found)


def python_blocks_of(guide: Guide, exact: bool = True) -> list[tuple[int, str]]:
    """(line MyST gives it, text) of the Python blocks the reader found."""
    return sorted((b.page_line, b.text if exact else b.text.rstrip()) for b in guide.code_blocks if b.is_python)


def check_written_code(written: Written, guide: Guide) -> None:
    """Top-level fences: the block's code is the code written, and it runs as written."""
    blocks = {b.line: b for b in guide.code_blocks}
    for line, code in written.fences.items():
        block = blocks[line]
        assert block.text == code
        assert block.code is not None or block.verbatim or block.is_expected_output
        if block.code is not None:
            assert block.code.runnable_source() == code.replace("  # doc: omit", "")
            assert [ln.line for ln in block.code.lines] == list(range(line + 1, line + 1 + code.count("\n")))


#: The error for a marker inside a paragraph: a code line holding a marker becomes one where MyST breaks a
#: directive's body at a separator and so ends the fence early (a true error, though not one written in).
INLINE_MARKER = "must be an HTML comment on a line of its own"


def check_error(error: GuideError | GuideWarning, written: Written, path: str) -> None:
    """An error or warning names ``path`` and a line that holds a fence, a comment or a marker."""
    lines = written.text.split("\n")
    assert (error.location if isinstance(error, GuideWarning) else str(error)).startswith(f"{path}:{error.line}: ")
    assert 1 <= error.line <= len(lines)
    if INLINE_MARKER not in error.message:
        assert any(mark in lines[error.line - 1] for mark in ("#", "<!--", "```"))


def read(written: Written, path: str = "docs/fuzzed.md") -> Guide | None:
    try:
        guide = parse_guide(written.text, path)
    except GuideError as error:
        assert written.mistake or INLINE_MARKER in error.message, f"an error in a guide without a mistake: {error}"
        check_error(error, written, path)
        return None
    for warning in guide.warnings:
        check_error(warning, written, path)
    return guide


def myst_doctree(text: str) -> nodes.document:
    """MyST's doctree of ``text`` under plain docutils (its warnings silenced)."""
    overrides = {"report_level": 5, "halt_level": 5, "warning_stream": io.StringIO()}
    return publish_doctree(text, parser=Parser(), settings_overrides=overrides)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_generated_guides_read_as_myst_renders_them(rng):
    written = GuideWriter(rng, DOCUTILS_DIRECTIVES).guide()
    guide = read(written)
    if guide is None:
        return
    check_written_code(written, guide)
    assert python_blocks_of(guide, exact=False) == python_blocks_in_doctree(myst_doctree(written.text), exact=False)
    runnable = {b.page_line for b in guide.runnable_blocks}
    assert runnable <= {line for line, _ in python_blocks_of(guide)}


SPHINX_GUIDES = 300


def test_the_blocks_read_are_the_blocks_of_a_real_sphinx_build(tmp_path: Path):
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["myst_parser"]\nexclude_patterns = ["_build"]\n')
    (src / "index.md").write_text("# Index\n\n```{toctree}\n:glob:\n\n*\n```\n")
    guides: dict[str, Written] = {}
    for seed in range(SPHINX_GUIDES):
        written = GuideWriter(random.Random(seed), DOCUTILS_DIRECTIVES + SPHINX_DIRECTIVES).guide()
        guides[f"g{seed}"] = written
        (src / f"g{seed}.md").write_text(written.text, encoding="utf-8")

    on_page: dict[str, list[tuple[int, str]]] = {}
    read_in_build: dict[str, list[tuple[int, str]] | None] = {}

    def doctree_read(app: Sphinx, doctree: nodes.document) -> None:
        name = app.env.docname
        if name not in guides:
            return
        on_page[name] = python_blocks_in_doctree(doctree)
        guide = read(guides[name], f"{name}.md")  # inside the build: Sphinx's directives are known
        read_in_build[name] = None if guide is None else python_blocks_of(guide)

    with docutils_namespace():  # Sphinx's registrations end with the build (other tests build too)
        app = Sphinx(
            str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"), "dummy",
            status=io.StringIO(), warning=io.StringIO(), freshenv=True,
        )  # fmt: skip
        app.connect("doctree-read", doctree_read)
        app.build()

    assert set(on_page) == set(guides)
    compared = 0
    for name, written in guides.items():
        outside = read(written, f"{name}.md")  # as pytest reads it
        if outside is None:
            assert read_in_build[name] is None
            continue
        check_written_code(written, outside)
        assert read_in_build[name] == on_page[name], name
        assert python_blocks_of(outside) == on_page[name], name
        compared += 1
    assert compared > SPHINX_GUIDES * 0.8
