"""The reader: blocks, their lines and languages, marker regions, and the errors it reports."""

from __future__ import annotations

import pytest

from doc_runner.errors import GuideError
from doc_runner.reader import BlockKind, parse_guide, read_guide


def test_blocks_carry_kind_language_and_first_line(guide_of):
    guide = guide_of(
        """
        # Title

        ```py
        a = 1
        ```

        ```sh
        echo hi
        ```
        """
    )
    kinds = [(b.kind, b.line) for b in guide.blocks]
    assert kinds == [(BlockKind.PROSE, 1), (BlockKind.CODE, 3), (BlockKind.CODE, 7)]
    py, sh = guide.code_blocks
    assert (py.language, py.code_line, py.text, py.runs) == ("py", 4, "a = 1\n", True)
    assert (sh.language, sh.runs) == ("sh", False)


def test_fences_read_as_myst_reads_them(guide_of):
    guide = guide_of(
        """
        1. In a list:

           ```python
           in_list = 1
           ```

        ~~~py
        tilde = 1
        ~~~

        ````py
        longer = "```"
        ```
        still = "inside"
        ````

            indented = "code, not run"
        """
    )
    texts = [(b.line, b.language, b.runs) for b in guide.code_blocks]
    assert texts == [(3, "python", True), (7, "py", True), (11, "py", True), (17, "", False)]
    assert "still" in guide.code_blocks[2].text


def test_markers_make_regions_and_plain_comments_are_ignored(guide_of):
    guide = guide_of(
        """
        <!-- an ordinary comment -->
        <!-- Tripy: TEST: IGNORE Start -->

        ```py
        skipped = 1
        ```

        <!-- Tripy: TEST: IGNORE End -->
        ```py
        ran = 1
        ```
        """
    )
    assert [(r.name, r.start, r.end) for r in guide.regions] == [("TEST: IGNORE", 2, 8)]
    ignored, ran = guide.code_blocks
    assert ignored.ignored and not ignored.runs
    assert ran.runs and not ran.regions
    assert [b.marker.line for b in guide.blocks if b.kind is BlockKind.MARKER] == [2, 8]


def test_marker_prefix_is_configurable():
    text = "<!-- Doc: DOC: OMIT Start -->\n\n```py\nx = 1\n```\n\n<!-- Doc: DOC: OMIT End -->\n"
    assert not parse_guide(text, "g.md", prefix="Doc").code_blocks[0].shows_code
    assert parse_guide(text, "g.md", prefix="Tripy").code_blocks[0].shows_code


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "text\n\n<!-- Tripy: TEST: IGNOR Start -->\n",
            3,
            "unknown marker 'TEST: IGNOR'; did you mean 'TEST: IGNORE'?",
        ),
        ("<!-- Tripy: DOC: OMIT Start -->\n\nno end\n", 1, "'DOC: OMIT Start' has no matching 'DOC: OMIT End'"),
        ("a\n\nb\n\n<!-- Tripy: DOC: OMIT End -->\n", 5, "'DOC: OMIT End' without a matching 'DOC: OMIT Start'"),
        ("<!-- Tripy: TEST: XFAIL -->\n", 1, "must end with 'Start' or 'End'"),
        ("Some text <!-- Tripy: TEST: XFAIL Start --> inline\n", 1, "on a line of its own"),
        (
            "<!-- Tripy: TEST: XFAIL Start -->\n<!-- Tripy: TEST: XFAIL Start -->\n",
            2,
            "again while it is open since line 1",
        ),
    ],
)
def test_marker_errors_name_file_line_and_the_fix(text, line, message):
    with pytest.raises(GuideError) as info:
        parse_guide(text, "docs/g.md")
    assert (info.value.path, info.value.line) == ("docs/g.md", line)
    assert message in str(info.value)
    assert str(info.value).startswith(f"docs/g.md:{line}: ")


def test_unknown_directive_is_an_error_at_its_line(guide_of):
    with pytest.raises(GuideError) as info:
        guide_of("Intro\n\n```py\nx = 1\n# doc: print-local x\n```\n")
    assert str(info.value) == ("guide.md:5: unknown directive '# doc: print-local'; did you mean 'print-locals'?")


def test_non_utf8_guide_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes("# Title\n\nCaf\u00e9\n".encode("latin-1"))
    with pytest.raises(GuideError) as info:
        read_guide(path, display_path="latin1.md")
    assert str(info.value).startswith("latin1.md:3: the file is not valid UTF-8 (byte 0xe9 at column 4)")


def test_expected_stdout_attaches_to_the_block_before(guide_of):
    guide = guide_of(
        """
        ```py
        print("hi")
        ```

        <!-- Tripy: TEST: EXPECTED_STDOUT Start -->
        ```
        hi
        ```
        <!-- Tripy: TEST: EXPECTED_STDOUT End -->
        """
    )
    block, expected = guide.code_blocks
    assert (block.expected_stdout, block.expected_stdout_line) == ("hi\n", 6)
    assert expected.is_expected_output and not expected.runs and not expected.shows_code


def test_expected_stdout_without_a_block_before_is_an_error(guide_of):
    with pytest.raises(GuideError, match=r"guide.md:1: .*no executed Python block before it"):
        guide_of(
            "<!-- Tripy: TEST: EXPECTED_STDOUT Start -->\n```\nx\n```\n<!-- Tripy: TEST: EXPECTED_STDOUT End -->\n"
        )


def test_verbatim_blocks_keep_directives_and_are_not_parsed(guide_of):
    guide = guide_of(
        """
        <!-- Tripy: DOC: NO_EVAL_OR_FORMAT Start -->
        ```py
        # doc: not-a-directive
        x = 1
        ```
        <!-- Tripy: DOC: NO_EVAL_OR_FORMAT End -->
        """
    )
    (block,) = guide.code_blocks
    assert block.verbatim and not block.runs and block.code is None
    assert block.shown_source == "# doc: not-a-directive\nx = 1\n"


def test_the_seed_guide_has_three_runnable_blocks_and_ignores_its_calibration(seed_guide_path):
    guide = read_guide(seed_guide_path, display_path="quantization.md")
    assert [b.line for b in guide.runnable_blocks] == [13, 36, 44]
    ignored = [b for b in guide.code_blocks if b.ignored]
    assert len(ignored) == 6 and not any(b.runs for b in ignored)


def test_marker_syntax_inside_inline_code_is_just_text(guide_of):
    guide = guide_of("Write `<!-- Tripy: TEST: IGNORE Start -->` before the blocks.\n")
    assert guide.regions == ()


def test_the_projects_myst_syntax_extensions_are_used():
    from myst_parser.config.main import MdParserConfig

    text = ":::{note}\n```py\nx = 1\n```\n:::\n"
    with_colon = parse_guide(text, "g.md", myst_config=MdParserConfig(enable_extensions={"colon_fence"}))
    assert [b.line for b in with_colon.runnable_blocks] == [2]
    assert [b.line for b in parse_guide(text, "g.md").runnable_blocks] == [2]


def test_blocks_inside_markdown_directives_are_read_but_not_inside_code_directives(guide_of):
    guide = guide_of(
        """
        ````{note}
        :class: extra

        ```py
        inside_note = 1
        ```
        ````

        ````{code-block} markdown
        ```py
        shown_not_run = 1
        ```
        ````
        """
    )
    assert [(b.line, b.code_line) for b in guide.runnable_blocks] == [(4, 5)]
    assert guide.runnable_blocks[0].text == "inside_note = 1\n"
