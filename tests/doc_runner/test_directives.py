"""``# doc:`` directives: what each line becomes, and the errors for bad ones."""

from __future__ import annotations

import pytest

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
