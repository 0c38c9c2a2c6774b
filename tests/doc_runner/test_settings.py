"""Settings: declared once, read by Sphinx, pytest and the docs' table, and validated at start-up."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from doc_runner.settings import PYTEST, SPHINX, SettingError, Settings, declarations, unknown_names
from doc_runner.sphinx_settings import table_rows


def test_every_setting_is_declared_once_with_a_type_default_and_help():
    fields = [f.name for f in dataclasses.fields(Settings)]
    assert [d.name for d in declarations()] == fields
    defaults = Settings()
    for declaration in declarations():
        assert declaration.help and declaration.type and declaration.where <= {SPHINX, PYTEST}
        assert getattr(defaults, declaration.name) == declaration.default
    assert [row[0] for row in table_rows()] == [f"doc_runner_{name}" for name in fields]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("timeout", -1, "doc_runner_timeout must be a positive number or 0 (no limit), got -1"),
        ("timeout", [1], "doc_runner_timeout must be a positive number or 0 (no limit), got [1]"),
        ("guide_timeout", "soon", "doc_runner_guide_timeout must be a positive number or 0 (no limit), got 'soon'"),
        ("output_limit", True, "doc_runner_output_limit must be a whole number >= 0, got True"),
        ("execution_mode", "forse", "doc_runner_execution_mode must be one of auto, force, off, got 'forse'"),
        ("pre_imports", 3, "doc_runner_pre_imports must map aliases to modules, e.g. {'np': 'numpy'}, got 3"),
        ("marker_prefix", "Two words", "doc_runner_marker_prefix must be one word, got 'Two words'"),
        (
            "depends",
            "/abs/data.npy",
            "doc_runner_depends takes relative path globs, got the absolute path '/abs/data.npy'",
        ),
    ],
)
def test_a_wrong_value_is_one_line_naming_the_setting(name, value, message):
    with pytest.raises(SettingError) as caught:
        Settings.from_values({name: value})
    assert str(caught.value) == message


def test_a_misspelt_name_gets_the_nearest_valid_one():
    assert unknown_names(["doc_runner_timout", "doc_runner_timeout", "html_theme"], SPHINX) == [
        "'doc_runner_timout' is not a doc_runner setting; did you mean 'doc_runner_timeout'?"
    ]
    assert unknown_names(["doc_runner_guides"], SPHINX) == [
        "'doc_runner_guides' is a setting of pytest only; it does nothing here"
    ]


# --- Sphinx, through a real sphinx-build ------------------------------------------------------------

GUIDE = "# Guide\n\n```py\nimport pathlib\npathlib.Path('ran.txt').write_text('yes')\n```\n"


def sphinx_build(src: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", *options, str(src), str(src / "_build")],
        capture_output=True,
        text=True,
        timeout=300,
    )


def project(tmp_path: Path, conf: str) -> Path:
    (tmp_path / "conf.py").write_text(
        'extensions = ["myst_parser", "doc_runner"]\ndoc_runner_pre_imports = {"np": "numpy"}\n' + conf,
        encoding="utf-8",
    )
    (tmp_path / "index.md").write_text(GUIDE, encoding="utf-8")
    return tmp_path


def test_sphinx_a_wrong_value_stops_with_one_line_and_runs_nothing(tmp_path):
    src = project(tmp_path, "doc_runner_timeout = -1\n")
    build = sphinx_build(src, "-q")
    assert build.returncode == 1
    assert build.stderr.strip().splitlines() == [
        f"{src / 'conf.py'}:3: ERROR: doc_runner_timeout must be a positive number or 0 (no limit), got -1 "
        "[doc_runner.config]"
    ]
    assert "Traceback" not in build.stdout + build.stderr
    assert not (src / "ran.txt").exists()


def test_sphinx_a_misspelt_name_is_a_warning_with_the_nearest_name(tmp_path):
    src = project(tmp_path, "doc_runner_timout = 5\n")
    build = sphinx_build(src, "-q")
    assert build.returncode == 0
    assert (
        f"{src / 'conf.py'}:3: WARNING: 'doc_runner_timout' is not a doc_runner setting; "
        "did you mean 'doc_runner_timeout'? [doc_runner.config]"
    ) in build.stderr


def test_sphinx_a_second_build_finds_the_configuration_unchanged(tmp_path):
    src = project(tmp_path, "")
    first = sphinx_build(src)
    assert first.returncode == 0, first.stderr
    assert (src / "_build" / "_static" / "doc_runner.css").is_file()
    second = sphinx_build(src)
    assert second.returncode == 0, second.stderr
    assert "The configuration has changed" not in second.stdout
    assert "index.md: executed" not in second.stdout
    assert "0 added, 0 changed, 0 removed" in second.stdout


def test_the_docs_table_lists_every_setting(tmp_path):
    src = project(tmp_path, "")
    (src / "index.md").write_text("# Settings\n\n```{doc-runner-settings}\n```\n", encoding="utf-8")
    build = sphinx_build(src, "-q", "-W")
    assert build.returncode == 0, build.stderr
    page = (src / "_build" / "index.html").read_text(encoding="utf-8")
    for declaration in declarations():
        assert f'<span class="pre">{declaration.key}</span>' in page


# --- pytest ------------------------------------------------------------------------------------------


def test_pytest_a_wrong_ini_value_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\ndoc_runner_timeout = -1\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: doc_runner_timeout must be a positive number or 0 (no limit), got '-1'"])
    assert "Traceback" not in result.stderr.str()


def test_pytest_a_misspelt_ini_name_is_a_warning_with_the_nearest_name(pytester):
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\ndoc_runner_guide = docs/*.md\n")
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*'doc_runner_guide' is not a doc_runner setting; did you mean 'doc_runner_guides'?*"])


def test_pytest_reads_the_declared_settings(pytester):
    pytester.makeini(
        textwrap.dedent(
            """\
            [pytest]
            addopts = -p no:cacheprovider
            doc_runner_pre_imports = np=numpy
            doc_runner_output_limit = 10
            """
        )
    )
    (pytester.path / "g.md").write_text("```py\nprint('x' * 100)\n```\n", encoding="utf-8")
    result = pytester.runpytest("g.md", "-rP")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*output cut here*"])
