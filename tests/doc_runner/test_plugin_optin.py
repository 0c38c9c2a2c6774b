"""The pytest plugin is opt-in, names blocks stably, reports skips at the guide, and has its own options."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

INI = """
[pytest]
addopts = -p no:hypothesispytest -p no:cacheprovider
doc_runner_pre_imports = np=numpy
doc_runner_timeout = 5
"""


def write(pytester: pytest.Pytester, relpath: str, text: str) -> Path:
    path = pytester.path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def unrelated(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project that does not use doc_runner: a test file, and Markdown and Python files in docs/."""
    pytester.makeini(INI)
    write(pytester, "tests/test_app.py", "def test_app():\n    assert True\n")
    write(pytester, "docs/index.md", "```py\nraise SystemExit('never collected')\n```\n")
    write(pytester, "docs/conf_example.py", "def f():\n    '''.. code-block:: python\n\n        1 / 0\n    '''\n")
    return pytester


def test_an_unrelated_project_with_a_docs_folder_collects_no_guide(unrelated):
    result = unrelated.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["tests/test_app.py::test_app PASSED*"])
    assert "docs/index.md" not in result.stdout.str()
    # naming the folder is not naming a guide
    assert unrelated.runpytest("docs").ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_a_guide_named_on_the_command_line_is_collected(unrelated):
    result = unrelated.runpytest("docs/index.md")
    result.assert_outcomes(failed=1)


def test_configured_globs_collect_guides_and_docstrings(unrelated):
    unrelated.makeini(INI + "doc_runner_guides = guides/**/*.md\ndoc_runner_docstrings = pkg/*.py\n")
    write(unrelated, "guides/a.md", "```py\nx = 1\n```\n")
    write(unrelated, "guides/deep/er/b.md", "```py\ny = 2\n```\n")
    write(unrelated, "pkg/mod.py", "def f():\n    '''.. code-block:: python\n\n        z = 3\n    '''\n")
    write(unrelated, "pkg/sub/skipped.py", "def g():\n    '''.. code-block:: python\n\n        1 / 0\n    '''\n")
    result = unrelated.runpytest("--collect-only", "-q")
    assert sorted(line for line in result.outlines if "::" in line) == [
        "guides/a.md::line-1",
        "guides/deep/er/b.md::line-1",
        "pkg/mod.py::f::line-2",
        "tests/test_app.py::test_app",
    ]


def test_the_plugin_can_be_switched_off(unrelated):
    unrelated.makeini(INI + "doc_runner_guides = docs/*.md\n")
    assert "docs/index.md::line-1" in unrelated.runpytest("--collect-only", "-q").stdout.str()
    result = unrelated.runpytest("--collect-only", "-q", "-p", "no:doc_runner")
    assert "docs/index.md" not in result.stdout.str()
    result.stdout.fnmatch_lines(["tests/test_app.py::test_app"])


NAMED = """\
```py
# doc: name setup
value = 41
```

```py
assert value + 1 == 42
```

```py
# doc: name calibrate
assert value == 0
```

```py
after = 1
```
"""


def test_a_named_block_is_named_and_selectable(unrelated):
    write(unrelated, "docs/g.md", NAMED)
    result = unrelated.runpytest("docs/g.md", "--collect-only", "-q")
    assert [line for line in result.outlines if "::" in line] == [
        "docs/g.md::setup",
        "docs/g.md::line-6",
        "docs/g.md::calibrate",
        "docs/g.md::line-15",
    ]
    result = unrelated.runpytest("docs/g.md::calibrate", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["docs/g.md::calibrate FAILED*"])


def test_a_duplicate_block_name_is_an_error_at_its_line(unrelated):
    write(unrelated, "docs/g.md", NAMED.replace("name calibrate", "name setup"))
    result = unrelated.runpytest("docs/g.md")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["docs/g.md:11: the block name 'setup' is already used at line 2"])


def test_skips_after_a_failure_point_at_the_guide(unrelated):
    write(unrelated, "docs/g.md", NAMED)
    result = unrelated.runpytest("docs/g.md", "-rs")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [1] docs/g.md:15: the block at docs/g.md:10 failed"])
    assert "pytest_plugin.py" not in result.stdout.str()


def test_the_command_line_options_are_listed_in_help(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--doc-runner-timeout=SECONDS*", "*--doc-runner-update-expected*"])
    result.stdout.fnmatch_lines(["*doc_runner_guides (args):*"])


def test_the_timeout_option_overrides_the_ini_and_is_validated(unrelated):
    write(unrelated, "docs/slow.md", "```py\nimport time\ntime.sleep(30)\n```\n")
    result = unrelated.runpytest("docs/slow.md", "--doc-runner-timeout", "0.5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*did not finish within 0.5 s (doc_runner_timeout)*"])
    result = unrelated.runpytest("docs/slow.md", "--doc-runner-timeout", "-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --doc-runner-timeout must be a positive number or 0 (no limit), got '-1'"])


EXPECTED = """\
# Expected outputs

```py
print("one")
print("two")
```
<!-- Tripy: TEST: EXPECTED_STDOUT Start -->
```text
one
```
<!-- Tripy: TEST: EXPECTED_STDOUT End -->

```py
print("three")
```
<!-- Tripy: TEST: EXPECTED_STDOUT Start -->
```text
thr.e
```
<!-- Tripy: TEST: EXPECTED_STDOUT End -->

```py
print("four")
```
<!-- Tripy: TEST: EXPECTED_STDOUT Start -->
````
fuor
````
<!-- Tripy: TEST: EXPECTED_STDOUT End -->
"""


def test_update_expected_rewrites_only_on_request(unrelated):
    guide = write(unrelated, "docs/e.md", EXPECTED)
    result = unrelated.runpytest("docs/e.md")
    result.assert_outcomes(failed=1, passed=0, skipped=2)
    assert guide.read_text(encoding="utf-8") == EXPECTED  # never without the option

    result = unrelated.runpytest("docs/e.md", "--doc-runner-update-expected")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*doc_runner rewrote 2 expected output(s)*",
            "docs/e.md:8: TEST: EXPECTED_STDOUT rewritten from the block's output",
            "docs/e.md:26: TEST: EXPECTED_STDOUT rewritten from the block's output",
        ]
    )
    expected = EXPECTED.replace("```text\none\n```", "```text\none\ntwo\n```").replace(
        "````\nfuor\n````", "````\nfour\n````"
    )
    assert guide.read_text(encoding="utf-8") == expected  # the matching regular expression is kept
    unrelated.runpytest("docs/e.md").assert_outcomes(passed=3)


def test_a_duplicate_block_name_fails_the_docs_build_at_its_line(tmp_path):
    (tmp_path / "conf.py").write_text(
        'extensions = ["myst_parser", "doc_runner"]\ndoc_runner_pre_imports = {"np": "numpy"}\n', encoding="utf-8"
    )
    (tmp_path / "index.md").write_text("# Named\n\n" + NAMED.replace("name calibrate", "name setup"), encoding="utf-8")
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(tmp_path), str(tmp_path / "_build")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 1
    assert "index.md:13: WARNING: the block name 'setup' is already used at line 4" in build.stderr
