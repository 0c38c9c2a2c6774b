"""``# doc:`` directives: what each line becomes, and the errors for bad ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from doc_runner.directives import LineRole, parse_code
from doc_runner.errors import GuideError

SOURCE = """\
# doc: print-locals a b
a = 1
secret = 2  # doc: omit
b = fetch()  # doc: ignore-line
text = "# doc: not a directive inside a string"
"""


def test_each_line_gets_its_role_and_the_directive_its_line():
    code = parse_code(SOURCE, first_line=10, path="g.md")
    assert [(ln.line, ln.role) for ln in code.lines] == [
        (10, LineRole.DIRECTIVE),
        (11, LineRole.CODE),
        (12, LineRole.OMIT),
        (13, LineRole.IGNORE),
        (14, LineRole.CODE),
    ]
    directive = code.get("print-locals")
    assert directive is not None and (directive.args, directive.line) == (("a", "b"), 10)


def test_shown_and_runnable_source():
    code = parse_code(SOURCE, first_line=1, path="g.md")
    assert code.shown_source() == 'a = 1\nb = fetch()\ntext = "# doc: not a directive inside a string"\n'
    # Ignored lines are blanked, not removed, so line numbers stay true.
    assert code.runnable_source().splitlines() == [
        "# doc: print-locals a b",
        "a = 1",
        "secret = 2",
        "",
        'text = "# doc: not a directive inside a string"',
    ]


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("x = 1\n# doc: no-ouput\n", 2, "unknown directive '# doc: no-ouput'; did you mean 'no-output'?"),
        ("# doc: frobnicate\n", 1, "unknown directive '# doc: frobnicate'; valid names are: 'allow-exception'"),
        ("# doc: omit\nx = 1\n", 1, "goes at the end of the line it applies to"),
        ("x = 1  # doc: no-output\n", 1, "must be on a line of its own"),
        ("# doc: print-locals\n", 1, "needs the names to show"),
        ("# doc: allow-exception A B\n", 1, "at most one exception type"),
        ("# doc: no-eval\n# doc: no-eval\n", 2, "given twice"),
        ("# doc: print-locals a\n# doc: no-print-locals\n", 2, "both 'print-locals' and 'no-print-locals'"),
        ("# doc:\n", 1, "empty '# doc:' directive"),
    ],
)
def test_bad_directives_name_the_line_and_the_fix(source, line, message):
    with pytest.raises(GuideError) as info:
        parse_code(source, first_line=1, path="docs/g.md")
    assert str(info.value).startswith(f"docs/g.md:{line}: ")
    assert message in str(info.value)


def test_directives_are_found_even_in_a_block_that_does_not_tokenize():
    code = parse_code("# doc: no-output\ndef broken(:\n", first_line=1, path="g.md")
    assert code.get("no-output") is not None


@pytest.mark.parametrize("comment", ["# doc no-output", "# Doc: no-output", "# docs: no-output", "## doc: no-output"])
def test_near_miss_directives_warn_with_the_valid_form(comment):
    code = parse_code(f"x = 1\n{comment}\n", first_line=7, path="docs/g.md")
    (warning,) = code.warnings
    assert warning.location.startswith("docs/g.md:8: ")
    assert "did you mean '# doc: no-output'?" in warning.message
    assert code.get("no-output") is None and [ln.role for ln in code.lines] == [LineRole.CODE] * 2


def test_near_miss_suffix_directive_names_the_valid_form():
    (warning,) = parse_code("x = 1  # Doc: omit\n", first_line=1, path="g.md").warnings
    assert "did you mean '# doc: omit'?" in warning.message


@pytest.mark.parametrize("comment", ["# Docs are built by make docs", "# doc string of f", "# documented below"])
def test_ordinary_comments_are_not_near_misses(comment):
    assert parse_code(f"{comment}\nx = 1\n", first_line=1, path="g.md").warnings == ()


@pytest.mark.parametrize(
    ("directive", "written"),
    [("print-locals a, b", "print-locals a b"), ("no-print-locals a,b", "no-print-locals a b")],
)
def test_names_are_space_separated_and_the_error_says_so(directive, written):
    with pytest.raises(GuideError) as info:
        parse_code(f"a = b = 1\n# doc: {directive}\n", first_line=1, path="g.md")
    assert str(info.value).startswith("g.md:2: ")
    assert "separated by spaces" in info.value.message and f"write '# doc: {written}'" in info.value.message


def test_a_syntax_error_in_a_block_mentioning_doc_is_not_a_directive_error():
    source = 'label = "# doc: the unfinished string\nx = 1\n'
    code = parse_code(source, first_line=1, path="g.md")
    assert code.directives == () and code.runnable_source() == source


def test_a_syntax_error_in_a_block_mentioning_doc_is_reported_as_a_syntax_error(run_text):
    (result,) = run_text('```py\nlabel = "# doc: the unfinished string\n```\n')
    assert result.status.value == "failed" and "SyntaxError" in result.error and result.error_line == 2


def test_a_broken_block_keeps_its_valid_directives_but_never_suffix_ones():
    code = parse_code('# doc: no-eval\ns = "x  # doc: omit\n', first_line=1, path="g.md")
    assert code.get("no-eval") is not None
    assert [ln.role for ln in code.lines] == [LineRole.DIRECTIVE, LineRole.CODE]


@pytest.mark.parametrize("char", ["\u2028", "\x0c", "\x85", "\x1e"])
def test_code_lines_split_only_at_newlines(char):
    code = parse_code(f"s = 'a{char}b'\nt = 1\n", first_line=3, path="g.md")
    assert [(ln.line, ln.text) for ln in code.lines] == [(3, f"s = 'a{char}b'"), (4, "t = 1")]


LINES = st.sampled_from(
    [
        "x = 1",
        "s = 'a # b'  # doc: omit",
        's = "it\'s # here"',
        "t = 'a\\\\' + 'b'  # doc: ignore-line",
        "# doc: no-output",
        "# Doc: no-output",
        "u = f'{1}#'  # a plain comment",
        "v = 'unclosed",
        "w = 1 + \\",
        "    2",
        "# doc: print-locals x",
        "y = '#' # doc no-output",
    ]
)


@given(st.lists(LINES, min_size=1, max_size=8))
def test_comments_are_found_as_pythons_tokenizer_finds_them(lines):
    # A triple-quoted string before the block makes parse_code use Python's tokenizer; without one it scans
    # line by line (numbered from 0, the added line keeps the block's lines at their numbers).
    source = "\n".join(lines) + "\n"
    forced = 'start = """tokenized"""\n' + source
    try:
        scanned = parse_code(source, first_line=1, path="g.md")
    except GuideError as error:
        with pytest.raises(GuideError) as info:
            parse_code(forced, first_line=0, path="g.md")
        assert str(info.value) == str(error)
        return
    tokenized = parse_code(forced, first_line=0, path="g.md")
    assert tokenized.lines[1:] == scanned.lines
    assert tokenized.directives == scanned.directives
    assert [w.location for w in tokenized.warnings] == [w.location for w in scanned.warnings]
