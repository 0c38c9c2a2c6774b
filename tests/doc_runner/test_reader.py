"""The reader: blocks, their lines and languages, marker regions, and the errors it reports."""

from __future__ import annotations

import pytest

from doc_runner.errors import GuideEncodingError, GuideError
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


#: Characters that str.splitlines() breaks at but markdown-it and Python do not.
NOT_LINE_BREAKS = ["\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e"]


@pytest.mark.parametrize("char", NOT_LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in NOT_LINE_BREAKS])
def test_characters_that_are_not_line_breaks_stay_inside_their_line(char):
    text = f"Intro{char}more intro\n\n```py\ns = 'a{char}b'\nn = 2\n```\n\n```py\nm = 3\n```\n"
    guide = parse_guide(text, "g.md")
    first, second = guide.runnable_blocks
    assert first.text == f"s = 'a{char}b'\nn = 2\n"
    assert first.code.runnable_source() == first.text
    assert [(ln.line, ln.text) for ln in first.code.lines] == [(4, f"s = 'a{char}b'"), (5, "n = 2")]
    assert (second.line, second.code_line) == (8, 9)
    assert (guide.blocks[0].text, guide.blocks[0].end_line) == (f"Intro{char}more intro\n\n", 2)


def test_windows_and_old_mac_newlines_are_line_breaks_as_in_sphinx():
    guide = parse_guide("# T\r\n\r\n```py\r\nx = 1\r\n```\r```py\ry = 2\r```\r", "g.md")
    assert [(b.line, b.text) for b in guide.runnable_blocks] == [(3, "x = 1\n"), (6, "y = 2\n")]


def test_a_form_feed_does_not_shift_the_lines_a_traceback_quotes(run_text):
    (result,) = run_text("```py\nx = '\x0c'\nraise ValueError('at line 3')\n```\n")
    assert result.error_line == 3
    assert "raise ValueError('at line 3')" in result.error


def test_a_byte_order_mark_is_dropped_as_sphinx_drops_it(tmp_path):
    path = tmp_path / "bom.md"
    path.write_bytes("\ufeff```py\nx = 1\n```\n".encode())
    guide = read_guide(path, display_path="bom.md")
    assert [(b.line, b.text) for b in guide.runnable_blocks] == [(1, "x = 1\n")]
    assert [(b.line, b.text) for b in parse_guide("\ufeff```py\ny = 1\n```\n", "g.md").runnable_blocks] == [
        (1, "y = 1\n")
    ]


def test_a_non_utf8_guide_is_a_guide_encoding_error(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes(b"```py\nx = 1\n```\n\nna\xefve\n")
    with pytest.raises(GuideEncodingError) as info:
        read_guide(path, display_path="latin1.md")
    assert isinstance(info.value, GuideError) and (info.value.path, info.value.line) == ("latin1.md", 5)


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        pytest.param("````{frobnicate}\n```py\nx = 1\n```\n````\n", [], id="unknown directive"),
        pytest.param("````{admonition}\n```py\nx = 1\n```\n````\n", [], id="missing argument"),
        pytest.param("````{versionadded}\n```py\nx = 1\n```\n````\n", [], id="sphinx directive, missing argument"),
        pytest.param("`````{note}\n````{frob}\n```py\nx = 1\n```\n````\n`````\n", [], id="unknown inside a note"),
        pytest.param("````{note}\n:foo: bar\n\n```py\nx = 1\n```\n````\n", [4], id="unknown option: a warning"),
        pytest.param("````{warning} first line\n```py\nx = 1\n```\n````\n", [2], id="argument line is body"),
        pytest.param("````{seealso}\n```py\nx = 1\n```\n````\n", [2], id="sphinx directive"),
        pytest.param("````{versionadded} 1.0\n```py\nx = 1\n```\n````\n", [2], id="sphinx directive, argument"),
        pytest.param("````{note}\n---\nclass: a\n---\n```py\nx = 1\n```\n````\n", [5], id="yaml options"),
        pytest.param("````{code-block} md\n```py\nx = 1\n```\n````\n", [], id="code directive"),
        pytest.param("`````{note}\n````{topic} T\n```py\nx = 1\n```\n````\n`````\n", [], id="topic in a note"),
        pytest.param("- item\n\n  ````{sidebar} S\n  ```py\n  x = 1\n  ```\n  ````\n", [], id="sidebar in a list"),
        pytest.param("`````{sidebar} S\n````{topic} T\n```py\nx = 1\n```\n````\n`````\n", [3], id="topic in a sidebar"),
        pytest.param("`````{only} html\n````{topic} T\n```py\nx = 1\n```\n````\n`````\n", [3], id="topic in only"),
    ],
)
def test_blocks_run_only_where_myst_renders_them(text, runs):
    assert [b.line for b in parse_guide(text, "g.md").runnable_blocks] == runs


def test_a_directive_body_is_split_into_lines_as_myst_splits_it():
    # MyST splits a directive's body with str.splitlines, so U+2028 is a line break there (and only there):
    # the block runs as MyST shows it, at its line in the file, on the line MyST numbers it.
    guide = parse_guide("````{note}\nA\u2028B\n\n```py\nx = 'a\u2028b'\n```\n````\n", "g.md")
    (block,) = guide.runnable_blocks
    assert (block.text, block.line, block.page_line) == ("x = 'a\nb'\n", 4, 5)


@pytest.mark.parametrize(
    ("comment", "meant"),
    [
        ("<!-- tripy: TEST: XFAIL Start -->", "<!-- Tripy: TEST: XFAIL Start -->"),
        ("<!-- Tripy TEST: XFAIL Start -->", "<!-- Tripy: TEST: XFAIL Start -->"),
        ("<!-- TRIPY : DOC: OMIT End -->", "<!-- Tripy: DOC: OMIT End -->"),
        ("<!-- TEST: IGNORE Start -->", "<!-- Tripy: TEST: IGNORE Start -->"),
    ],
)
def test_a_marker_with_a_near_miss_prefix_warns_with_the_valid_form(comment, meant):
    guide = parse_guide(f"Text\n\n{comment}\n\n```py\nx = 1\n```\n", "docs/g.md")
    (warning,) = guide.warnings
    assert (warning.path, warning.line) == ("docs/g.md", 3)
    assert meant in warning.message and warning.location.startswith("docs/g.md:3: ")
    assert guide.regions == () and guide.runnable_blocks[0].regions == frozenset()


def test_ordinary_comments_do_not_warn():
    guide = parse_guide("<!-- a note to editors: fix the Start of this -->\n\n<!-- TODO -->\n", "g.md")
    assert guide.warnings == ()


def test_near_miss_directives_are_warnings_of_the_guide(guide_of):
    guide = guide_of("```py\n# Doc: no-output\nx = 1\n```\n")
    (warning,) = guide.warnings
    assert (warning.line, "did you mean '# doc: no-output'?" in warning.message) == (2, True)


def test_pathological_markup_reads_correctly():
    spaces = " " * 100_000
    text = (
        f"<!-- Tripy: TEST:{spaces}IGNORE Start -->\n```py\nx = 1\n```\n<!-- Tripy: TEST: IGNORE{spaces}End -->\n\n"
        + "<!--\n" * 1000
    )
    guide = parse_guide(text, "g.md")
    assert [(r.name, r.start, r.end) for r in guide.regions] == [("TEST: IGNORE", 1, 5)]
    # An unclosed comment is no marker, and one never closed hides what follows, as in HTML.
    assert parse_guide("<!-- <!-- Tripy: DOC: OMIT Start -->\n\n<!--\n", "g.md").regions == ()


def test_many_expected_output_regions_each_check_the_block_before():
    unit = "```py\nprint({n})\n```\n<!-- Tripy: TEST: EXPECTED_STDOUT Start -->\n```\n{n}\n```\n"
    unit += "<!-- Tripy: TEST: EXPECTED_STDOUT End -->\n\n```py\nunchecked = {n}\n```\n\n"
    guide = parse_guide("".join(unit.format(n=n) for n in range(300)), "g.md")
    checked = [b for b in guide.runnable_blocks if b.expected_stdout is not None]
    assert [b.expected_stdout for b in checked] == [f"{n}\n" for n in range(300)]
    assert all(b.text.startswith("print(") for b in checked)
    assert len(guide.runnable_blocks) == 600


def test_many_marker_regions_mark_exactly_their_blocks():
    unit = "<!-- Tripy: DOC: OMIT Start -->\n```py\nhidden = 1\n```\n<!-- Tripy: DOC: OMIT End -->\n\n"
    unit += "```py\nshown = 1\n```\n\n"
    guide = parse_guide(unit * 2000, "g.md")
    assert len(guide.regions) == 2000
    assert [b.shows_code for b in guide.runnable_blocks] == [False, True] * 2000


def test_a_guide_with_warnings_pickles_as_it_travels_to_its_worker():
    import pickle

    guide = parse_guide("<!-- tripy: DOC: OMIT Start -->\n\n```py\n# Doc: no-output\nx = 1\n```\n", "g.md")
    again = pickle.loads(pickle.dumps(guide))
    assert [w.location for w in again.warnings] == [w.location for w in guide.warnings] and len(guide.warnings) == 2
    error = pickle.loads(pickle.dumps(GuideEncodingError("g.md", 3, "bad byte")))
    assert (type(error), str(error)) == (GuideEncodingError, "g.md:3: bad byte")


def test_a_trailing_semicolon_after_a_separator_still_hides_the_value(run_text):
    (shown,) = run_text("```py\ns = 'a\x0cb'\n6 * 7\n```\n")
    (hidden,) = run_text("```py\ns = 'a\x0cb'\n6 * 7;\n```\n")
    assert [o["data"]["text/plain"] for o in shown.outputs if o["output_type"] == "execute_result"] == ["42"]
    assert [o for o in hidden.outputs if o["output_type"] == "execute_result"] == []
