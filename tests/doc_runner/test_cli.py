"""The command line: ``python -m doc_runner lint | run | report | clean``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from doc_runner.cli import main, store_directory

GOOD = "# Good\n\n```py\nprint('hello from the guide')\n```\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder, made the working directory (so paths print relative to it)."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "conf.py", 'doc_runner_pre_imports = {"np": "numpy"}\ndoc_runner_timeout = 20\n')
    return tmp_path


def test_python_m_doc_runner_and_help_of_each_command():
    for command in ([], ["lint"], ["run"], ["report"], ["clean"]):
        done = subprocess.run(
            [sys.executable, "-m", "doc_runner", *command, "--help"], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("usage: doc-runner" + (f" {command[0]}" if command else ""))


def test_lint_passes_good_guides(project, capsys):
    write(project, "docs/good.md", GOOD)
    assert main(["lint", "docs"]) == 0
    assert capsys.readouterr().out == ""


def test_lint_reports_each_problem_at_file_line_and_fails(project, capsys):
    write(project, "docs/good.md", GOOD)
    write(project, "docs/typo.md", "# T\n\n```py\nx = 1\n# doc: no-ouput\n```\n")
    write(project, "docs/near.md", "# N\n\n<!-- tripy: TEST: IGNORE Start -->\n\n```py\n# Doc: no-output\nx = 1\n```\n")
    (project / "docs" / "latin1.md").write_bytes(b"# L\n\ncaf\xe9\n")
    write(
        project,
        "tools/helper.py",
        'def f():\n    """Example.\n\n    .. code-block:: python\n\n        # doc: omit\n    """\n',
    )
    write(project, "conf.py", "doc_runner_timeout = -1\ndoc_runner_timout = 5\n")
    assert main(["lint", "docs", "tools", "--conf-dir", "."]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        lines[0],
        "conf.py:2: warning: 'doc_runner_timout' is not a doc_runner setting; did you mean 'doc_runner_timeout'?",
        "docs/latin1.md:3: error: the file is not valid UTF-8 (byte 0xe9 at column 4); save it as UTF-8",
        lines[3],
        lines[4],
        "docs/typo.md:5: error: unknown directive '# doc: no-ouput'; did you mean 'no-output'?",
        "tools/helper.py:6: error: '# doc: omit' goes at the end of the line it applies to, e.g. 'x = 1  # doc: omit'",
    ]
    assert lines[0].startswith("conf.py:1: error: doc_runner_timeout ")  # the message is Settings'
    assert lines[3].startswith("docs/near.md:3: warning: ") and "<!-- Tripy: TEST: IGNORE Start -->" in lines[3]
    assert lines[4].startswith("docs/near.md:6: warning: ") and "did you mean '# doc: no-output'?" in lines[4]


def test_lint_fails_on_warnings_only_when_strict(project, capsys):
    write(project, "near.md", "```py\n# docs: no-output\n```\n")
    assert main(["lint", "near.md"]) == 0
    assert main(["lint", "--strict", "near.md"]) == 1
    assert "near.md:2: warning:" in capsys.readouterr().out


def test_lint_of_a_missing_file_is_an_error(project, capsys):
    assert main(["lint", "nowhere.md"]) == 1
    assert capsys.readouterr().out == "nowhere.md:1: error: no such file\n"


RUN_GUIDE = """\
# Run

```py
x = 1
print("hello", x)
```

```py
raise ValueError("boom")
```

```py
print("never")
```
"""


def test_run_prints_each_blocks_output_and_status_with_progress(project, capsys):
    write(project, "guide.md", RUN_GUIDE)
    assert main(["run", "guide.md"]) == 1
    captured = capsys.readouterr()
    out = captured.out
    assert "--- guide.md:3: passed" in out and "hello 1" in out
    assert "--- guide.md:8: failed" in out and "ValueError: boom" in out and "9 | raise ValueError" in out
    assert "--- guide.md:12: skipped" in out and "never" not in out
    assert out.rstrip().endswith("guide.md: 3 block(s): 1 failed, 1 passed, 1 skipped")
    assert "[2/3] guide.md:8 running" in captured.err and "[3/3] guide.md:12 skipped" in captured.err


def test_run_stops_after_the_block_asked_for(project, capsys):
    write(project, "guide.md", RUN_GUIDE)
    assert main(["run", "guide.md", "--block", "4"]) == 0
    out = capsys.readouterr().out
    assert "hello 1" in out and "boom" not in out
    assert main(["run", "guide.md", "--block", "99"]) == 1
    assert "guide.md:1: no runnable block is named or holds line '99' (blocks at lines: 3, 8, 12)" in (
        capsys.readouterr().out
    )


def test_report_prints_the_builds_report_as_a_table(tmp_path, capsys):
    build = tmp_path / "_build" / "html"
    build.mkdir(parents=True)
    report = {
        "summary": {"guides": 1, "blocks": 2, "failed": 1},
        "guides": [
            {
                "guide": "docs/guides/a.md",
                "cached": False,
                "reason": "no stored results",
                "this_build": True,
                "blocks": [
                    {"line": 3, "status": "passed", "seconds": 0.25, "ran_on": "numpy (cpu)", "error": None},
                    {"line": 9, "status": "failed", "seconds": 0.5, "ran_on": "numpy (cpu)", "error": "KeyError"},
                ],
            }
        ],
    }
    (build / "doc_runner_report.json").write_text(json.dumps(report))
    assert main(["report", "--build-dir", str(build)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["guide", "block", "status", "seconds", "results", "ran", "on"]
    assert lines[2].split()[:4] == ["docs/guides/a.md", "3", "passed", "0.250"]
    assert "failed: KeyError" in lines[3] and "executed (no stored results)" in lines[3]
    assert lines[-1] == "guides: 1, blocks: 2, failed: 1"


def test_report_without_a_build_says_what_to_do(tmp_path, capsys):
    assert main(["report", "--build-dir", str(tmp_path)]) == 1
    assert "build the docs first" in capsys.readouterr().out


def test_clean_removes_the_store_and_only_a_store(project, capsys):
    store = project / "_build" / "html" / ".doctrees" / "doc_runner_cache"
    store.mkdir(parents=True)
    (store / "a.json").write_text("{}")
    assert store_directory(project, project / "_build" / "html") == store
    assert main(["clean"]) == 0
    assert not store.exists() and "removed the store" in capsys.readouterr().out
    assert main(["clean"]) == 0 and "nothing to remove" in capsys.readouterr().out
    precious = project / "notes"
    precious.mkdir()
    (precious / "thesis.tex").write_text("...")
    assert main(["clean", "--store", str(precious)]) == 1
    assert (precious / "thesis.tex").exists()


def test_clean_finds_a_configured_store(project):
    write(project, "conf.py", 'doc_runner_cache_dir = ".cache/results"\n')
    assert store_directory(project, project / "_build" / "html") == project / ".cache" / "results"


def test_the_pre_commit_hook_runs_the_lint_command():
    import tomllib

    import yaml

    root = Path(__file__).resolve().parents[2]
    (hook,) = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())
    script, command = hook["entry"].split()
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert (scripts[script], command) == ("doc_runner.cli:main", "lint")
    assert set(hook["types_or"]) == {"markdown", "python"}


def test_run_prints_a_blocks_displayed_value(project, capsys):
    write(project, "shown.md", "```py\nprint('printed')\n6 * 7\n```\n")
    assert main(["run", "shown.md"]) == 0
    assert capsys.readouterr().out.splitlines()[1:3] == ["printed", "42"]


def test_run_stops_after_the_block_named(project, capsys):
    write(project, "named.md", "```py\n# doc: name setup\nx = 1\n```\n\n```py\nprint('second')\n```\n")
    assert main(["run", "named.md", "--block", "setup"]) == 0
    out = capsys.readouterr().out
    assert "named.md: 1 block(s): 1 passed" in out and "second" not in out


def test_lint_checks_pytests_settings_in_pyproject(project, capsys):
    write(
        project,
        "pyproject.toml",
        '[tool.pytest.ini_options]\ndoc_runner_timeout = "soon"\ndoc_runner_pre_import = ["np=numpy"]\n',
    )
    write(project, "good.md", GOOD)
    assert main(["lint", "good.md"]) == 1
    errors, warnings = capsys.readouterr().out.splitlines()
    assert errors.startswith("pyproject.toml:2: error: doc_runner_timeout ")
    assert warnings.startswith("pyproject.toml:3: warning: 'doc_runner_pre_import' is not a doc_runner setting")
    assert "did you mean 'doc_runner_pre_imports'?" in warnings
