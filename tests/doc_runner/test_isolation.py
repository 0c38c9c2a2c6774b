"""Guides that misbehave, through Sphinx and through pytest: each is a clear failure at its ``file:line``,
the rest of the build goes on, and nothing reaches the next guide or the host."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

pytestmark = pytest.mark.filterwarnings(r"ignore:'myst_parser\..*' is deprecated")

#: name -> (guide text, the line of its failing block (0: none), text the failure must contain)
GUIDES = {
    "exits.md": (
        "# Exits\n\n```py\nprint('before')\n```\n\n```py\nimport os\nos._exit(3)\n```\n\n```py\nprint('after')\n```\n",
        7,
        "the guide's process ended while running the block at exits.md:7 (exit status 3)",
    ),
    "segfault.md": (
        "# Segfault\n\n```py\nimport ctypes\nctypes.string_at(0)\n```\n",
        3,
        "(killed by SIGSEGV)",
    ),
    "killed.md": (
        "# Killed\n\n```py\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n```\n",
        3,
        "(killed by SIGKILL)",
    ),
    "busy.md": (
        "# Busy\n\n```py\n# doc: timeout 1\nimport itertools\nsum(itertools.repeat(0))\n```\n",
        3,
        "did not finish within 1 s ('# doc: timeout'); its process was ended.",
    ),
    "no_alarm.md": (
        "# No alarm\n\n```py\n# doc: timeout 1\nimport signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "while True:\n    time.sleep(0.01)\n```\n",
        3,
        'File "no_alarm.md", line 8 in <module>',
    ),
    "interrupt.md": ("# Interrupt\n\n```py\nraise KeyboardInterrupt\n```\n", 3, "KeyboardInterrupt"),
    "base.md": (
        "# Base\n\n```py\nclass Stop(BaseException):\n    pass\n\nraise Stop('custom')\n```\n",
        3,
        "Stop: custom",
    ),
    "bad_repr.md": (
        "# Bad repr\n\n```py\nclass Bad:\n    def __repr__(self):\n"
        "        raise RuntimeError('no repr')\n\nBad()\n```\n",
        3,
        "RuntimeError: no repr",
    ),
    "polluter.md": (
        "# Polluter\n\n```py\nimport logging, os, sys, threading, time, warnings\nos.chdir('/')\n"
        "os.environ['DOC_RUNNER_LEAK'] = '1'\nsys.path.append('/leak')\nwarnings.simplefilter('ignore')\n"
        "logging.basicConfig(format='LEAK %(message)s')\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread leak')), daemon=True).start()\n```\n",
        0,
        "",
    ),
    "loud.md": ("# Loud\n\n```py\nprint('x' * 50_000_000)\n```\n", 0, ""),
}

PROBE = """\
# Probe

```py
import logging, os, sys, time, warnings
from pathlib import Path
time.sleep(0.6)
print("cwd is the guide's folder:", os.getcwd() == str(Path(__file__).parent))
print("absolute __file__:", os.path.isabs(__file__))
print("data next to the guide:", Path("data.txt").read_text().strip())
print("leaks:", "DOC_RUNNER_LEAK" in os.environ, "/leak" in sys.path)
warnings.warn("shown")
logging.getLogger("probe").warning("plain")
```
"""

EXPECTED_PROBE = [
    "cwd is the guide's folder: True",
    "absolute __file__: True",
    "data next to the guide: beside",
    "leaks: False False",
]


def _write_guides(folder: Path) -> None:
    for name, (text, _, _) in GUIDES.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "probe.md").write_text(PROBE, encoding="utf-8")
    (folder / "sub" / "data.txt").write_text("beside\n", encoding="utf-8")


@pytest.fixture(scope="module")
def sphinx_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """sphinx-build started from another folder than the sources."""
    tmp = tmp_path_factory.mktemp("isolation")
    src = tmp / "src"
    src.mkdir()
    _write_guides(src)
    toc = "\n".join(name.removesuffix(".md") for name in GUIDES) + "\nsub/probe"
    (src / "index.md").write_text(f"# Index\n\n```{{toctree}}\n{toc}\n```\n", encoding="utf-8")
    (src / "conf.py").write_text(
        'extensions = ["myst_parser", "doc_runner"]\ndoc_runner_pre_imports = {}\ndoc_runner_timeout = 20\n'
        'doc_runner_output_limit = 100_000\nexclude_patterns = ["_build"]\n',
        encoding="utf-8",
    )
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    out = tmp / "html"
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src), str(out)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    return done, out


@pytest.mark.parametrize("name", [n for n, (_, line, _) in GUIDES.items() if line])
def test_sphinx_reports_each_failure_at_its_line_and_goes_on(sphinx_build, name):
    done, out = sphinx_build
    _, line, message = GUIDES[name]
    assert done.returncode == 1, done.stderr[-3000:]  # the build failed because blocks failed, not a crash
    assert "Traceback" not in done.stderr.split("WARNING")[0]
    chunks = done.stderr.split("[doc_runner.execution]")
    warning = [c.strip() for c in chunks if f"WARNING: the block at line {line} failed" in c and f"{name}:" in c]
    assert len(warning) == 1, done.stderr[-3000:]
    assert warning[0].startswith(f"{name}:") and message in warning[0]
    page = BeautifulSoup((out / f"{name.removesuffix('.md')}.html").read_text(encoding="utf-8"), "html.parser")
    assert message in page.get_text()


def test_sphinx_later_blocks_of_a_guide_whose_process_ended_are_skipped(sphinx_build):
    _, out = sphinx_build
    page = BeautifulSoup((out / "exits.html").read_text(encoding="utf-8"), "html.parser")
    assert [p.get_text() for p in page.select("div.doc-runner-output pre")][0] == "before\n"
    assert "after\n" not in [p.get_text() for p in page.select("div.doc-runner-output pre")]


def test_sphinx_nothing_leaks_into_the_next_guide(sphinx_build):
    done, out = sphinx_build
    page = BeautifulSoup((out / "sub" / "probe.html").read_text(encoding="utf-8"), "html.parser")
    stdout = page.select_one("div.doc-runner-output pre").get_text().splitlines()
    assert stdout == EXPECTED_PROBE
    stderr = page.select_one("div.doc-runner-stderr pre").get_text()
    assert "UserWarning: shown" in stderr and "plain" in stderr and "LEAK" not in stderr
    polluter = BeautifulSoup((out / "polluter.html").read_text(encoding="utf-8"), "html.parser")
    assert "thread leak" not in "".join(div.get_text() for div in polluter.select("div.doc-runner-output"))
    assert "thread leak" not in done.stdout + done.stderr
    assert Path.cwd() != Path("/")  # the host's own working directory is untouched


def test_sphinx_cuts_a_huge_output_with_a_note(sphinx_build):
    _, out = sphinx_build
    page = (out / "loud.html").read_text(encoding="utf-8")
    assert len(page) < 1_000_000
    assert "output cut here; 49.9 MB more were printed (doc_runner_output_limit is 0.1 MB)" in page


@pytest.fixture
def pytest_run(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makeini(
        "[pytest]\naddopts = -p no:hypothesispytest -p no:cacheprovider\ndoc_runner_pre_imports = \n"
        "doc_runner_timeout = 20\ndoc_runner_output_limit = 100000\ndoc_runner_guides = docs/**/*.md\n"
    )
    docs = pytester.path / "docs"
    docs.mkdir()
    _write_guides(docs)
    return pytester.runpytest("-rA", "docs")


def test_pytest_reports_each_failure_at_its_line_and_goes_on(pytest_run):
    lines = pytest_run.stdout.lines
    text = "\n".join(lines)
    for name, (_, line, message) in GUIDES.items():
        if not line:
            continue
        assert f"FAILED docs/{name}::line-{line}" in text
        assert message.replace(name, f"docs/{name}") in text, name
    # exits.md: its first block passed, its last was skipped because its process had ended
    assert "PASSED docs/exits.md::line-3" in text
    assert "the block at docs/exits.md:7 failed" in text  # why the last block of exits.md was skipped
    assert "PASSED docs/sub/probe.md::line-3" in text
    assert "PASSED docs/polluter.md::line-3" in text
    assert "PASSED docs/loud.md::line-3" in text
    pytest_run.assert_outcomes(passed=4, failed=8, skipped=1)
