"""The pytest plugin, run through pytester: items, outcomes, reports and xdist."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

BASE_INI = """
[pytest]
addopts = -p no:hypothesispytest -p no:cacheprovider
doc_runner_pre_imports = np=numpy
doc_runner_timeout = 5
"""
#: the project opts in to collecting its guides
INI = BASE_INI + "doc_runner_guides = docs/**/*.md\n"

GUIDE = """\
# A guide

```py
a = 1
```

```sh
echo not a test
```

```py
def inner():
    raise ValueError("broken")
inner()
```

```py
b = a + 1
```
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    (pytester.path / "docs").mkdir()
    return pytester


def write(pytester: pytest.Pytester, relpath: str, text: str) -> Path:
    path = pytester.path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_one_item_per_executable_block_named_by_file_and_line(project):
    write(project, "docs/guide.md", GUIDE)
    result = project.runpytest("--collect-only", "-q")
    assert result.outlines[:3] == ["docs/guide.md::line-3", "docs/guide.md::line-11", "docs/guide.md::line-17"]


def test_failure_report_and_skip_after_failure(project):
    write(project, "docs/guide.md", GUIDE)
    result = project.runpytest("-rs", "-v")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "docs/guide.md::line-3 PASSED*",
            "docs/guide.md::line-11 FAILED*",
            "docs/guide.md::line-17 SKIPPED (the block at docs/guide.md:11 failed)*",
            "docs/guide.md:13: the block at line 11 failed",
            "*12 | def inner():",
            '>*13 |     raise ValueError("broken")',
            '*File "docs/guide.md", line 14, in <module>',
            '*File "docs/guide.md", line 13, in inner',
            "ValueError: broken",
        ]
    )


def test_a_guide_given_on_the_command_line_is_collected_wherever_it_is(project):
    write(project, "notes/extra.md", "```py\nx = 1\n```\n")
    assert project.runpytest("notes/extra.md").ret == 0
    project.runpytest("notes/extra.md").assert_outcomes(passed=1)
    # ...but it is not part of the configured glob.
    write(project, "docs/g.md", "```py\ny = 2\n```\n")
    project.runpytest().assert_outcomes(passed=1)


def test_a_block_selected_alone_runs_the_blocks_before_it_first(project):
    write(project, "docs/g.md", "```py\nvalue = 41\n```\n\n```py\nassert value + 1 == 42\n```\n")
    result = project.runpytest("docs/g.md::line-5", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["docs/g.md::line-5 PASSED*"])


def test_guides_glob_is_configurable(project):
    project.makeini(BASE_INI + "doc_runner_guides = guides/*.md\n")
    write(project, "guides/a.md", "```py\nx = 1\n```\n")
    write(project, "docs/b.md", "```py\nraise SystemExit\n```\n")
    project.runpytest().assert_outcomes(passed=1)


def test_xfail_allow_exception_and_expected_stdout(project):
    write(
        project,
        "docs/g.md",
        """\
        <!-- Tripy: TEST: XFAIL Start -->
        ```py
        1 / 0
        ```
        <!-- Tripy: TEST: XFAIL End -->

        ```py
        # doc: allow-exception ZeroDivisionError
        1 / 0
        ```

        ```py
        # doc: allow-exception ValueError
        x = 1
        ```

        ```py
        print("forty-two")
        ```
        <!-- Tripy: TEST: EXPECTED_STDOUT Start -->
        ```
        forty-one
        ```
        <!-- Tripy: TEST: EXPECTED_STDOUT End -->
        """,
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1, xfailed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "docs/g.md:13: the block at line 12 failed",
            "*expected to raise ValueError*",
        ]
    )
    # The EXPECTED_STDOUT block is skipped because the allow-exception block failed before it;
    # alone, it fails with a diff.
    expected = "```\nforty-one\n```\n"
    marker = "<!-- Tripy: TEST: EXPECTED_STDOUT {} -->\n"
    write(
        project,
        "docs/g.md",
        '```py\nprint("forty-two")\n```\n' + marker.format("Start") + expected + marker.format("End"),
    )
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["docs/g.md:5: the block at line 1 failed", "*-forty-one", "*+forty-two"])


def test_test_ignore_blocks_are_not_collected(project):
    write(
        project,
        "docs/g.md",
        "<!-- Tripy: TEST: IGNORE Start -->\n```py\nraise SystemExit\n```\n<!-- Tripy: TEST: IGNORE End -->\n"
        "```py\nok = 1\n```\n",
    )
    result = project.runpytest("--collect-only", "-q")
    assert result.outlines[0] == "docs/g.md::line-6"
    assert "1 test collected" in result.outlines[-1]


def test_bad_guide_is_a_collection_error_naming_file_and_line(project):
    write(project, "docs/g.md", "Title\n\n```py\n# doc: no-ouput\nx = 1\n```\n")
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["docs/g.md:4: unknown directive '# doc: no-ouput'; did you mean 'no-output'?"])


def test_a_block_that_never_ends_fails_at_its_line(project):
    project.makeini(INI.replace("doc_runner_timeout = 5", "doc_runner_timeout = 0.5"))
    write(project, "docs/g.md", "```py\nimport time\ntime.sleep(60)\n```\n")
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the block at docs/g.md:1 did not finish within 0.5 s (doc_runner_timeout); its process was ended.",
            "Where it was:",
            '  File "docs/g.md", line 3 in <module>',
        ]
    )


def test_docstring_examples_are_collected_from_the_configured_files(project):
    write(
        project,
        "pkg/mod.py",
        '''\
        def double(x):
            """Double a number.

            .. code-block:: python

                assert double_it(2) == 4
            """
            return 2 * x


        class Box:
            """A box.

            .. code-block:: python

                box = 1

            .. code-block:: python

                assert box == 1
            """
        ''',
    )
    project.makeini(INI + "doc_runner_docstrings = pkg/*.py\n")
    result = project.runpytest("pkg", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "pkg/mod.py::double::line-4 FAILED*",
            "pkg/mod.py::Box::line-14 PASSED*",
            "pkg/mod.py::Box::line-18 PASSED*",
            '*File "pkg/mod.py", line 6, in <module>',
            "NameError: name 'double_it' is not defined*",
        ]
    )


def test_xdist_keeps_a_guides_blocks_together_and_in_order(project):
    for name in "abcd":
        write(
            project,
            f"docs/{name}.md",
            "".join(f"```py\nstep = {i}\nassert step == {i}\n```\n\n" for i in range(4))
            .replace("step = 0\n", "step = 0\nimport os\nworker = os.getpid()\n")
            .replace("step = 3\n", "step = 3\nassert os.getpid() == worker\n"),
        )
    result = project.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=16)


def test_the_seed_guide_passes_and_its_ignored_region_is_not_collected(pytester: pytest.Pytester, seed_guide_path):
    pytester.makeini("[pytest]\naddopts = -p no:hypothesispytest -p no:cacheprovider\n")
    shutil.copy(seed_guide_path, pytester.path / "quantization.md")
    result = pytester.runpytest("quantization.md", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["quantization.md::line-13 PASSED*", "quantization.md::line-36 PASSED*", "quantization.md::line-44 PASSED*"]
    )


def test_a_guide_that_is_not_utf8_is_a_collection_error_at_its_line(project):
    (project.path / "docs" / "latin.md").write_bytes("# T\n\nna\u00efve\n".encode("latin-1"))
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["docs/latin.md:3: the file is not valid UTF-8 (byte 0xef at column 3); save it as UTF-8"]
    )


def test_a_syntax_error_fails_its_item_at_the_guide_line(project):
    write(project, "docs/g.md", "# T\n\n```py\nok = 1\nprint(ok\n```\n")
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["docs/g.md:5: the block at line 3 failed", '*File "docs/g.md", line 5*', "SyntaxError: *"]
    )


def test_rich_outputs_are_listed_in_the_report(project):
    write(
        project,
        "docs/g.md",
        "```py\nfrom IPython.display import HTML, display\ndisplay(HTML('<b>x</b>'))\n6 * 7\n```\n",
    )
    result = project.runpytest("-rP", "docs/g.md")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*block displays*", "text/html, text/plain: <IPython.core.display.HTML object>", "text/plain: 42"]
    )
