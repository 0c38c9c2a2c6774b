"""The wheel, installed (not editable) in a fresh virtualenv: its stylesheet is served, its tag says its
platform, its console script runs.

Offline and quick: the wheel is built without build isolation, installed with ``--no-deps``, and the
virtualenv sees this environment's packages (Sphinx, MyST, NumPy) through a ``.pth`` line, which adds
their folder without running the editable install's hooks there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What building the wheel reads.
SOURCES = ["pyproject.toml", "setup.py", "README.md", "tripy", "doc_runner"]

GUIDE = """\
# A guide

```py
print("styled output")
```
"""
CONF = """\
extensions = ["myst_parser", "doc_runner"]
doc_runner_pre_imports = {"np": "numpy"}
exclude_patterns = ["_build"]
"""


#: The environment of the commands: none of this checkout's paths on PYTHONPATH.
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, env=ENV, check=False)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the python of a fresh virtualenv it is installed in)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif (ROOT / name).is_file():
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run(*pip, "wheel", source, "--no-deps", "--no-build-isolation", "--quiet", "-w", work / "dist", cwd=work)
    (wheel,) = (work / "dist").glob("*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", work / "venv", cwd=work)
    python = work / "venv" / "bin" / "python"
    run(*pip, "--python", python, "install", "--no-deps", "--quiet", wheel, cwd=work)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=work).strip())
    (site / "outer_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return wheel, python


def test_the_wheel_is_tagged_for_the_platform_of_its_library(installed):
    wheel, _ = installed
    assert wheel.name.endswith("-py3-none-linux_x86_64.whl")


def test_the_installed_package_is_the_wheels_with_its_stylesheet(installed, tmp_path):
    _, python = installed
    where = run(
        python, "-c", "import doc_runner, pathlib; print(pathlib.Path(doc_runner.__file__).parent)", cwd=tmp_path
    )
    package = Path(where.strip())
    assert package.is_relative_to(python.parents[1]) and package != ROOT / "doc_runner"
    assert (package / "static" / "doc_runner.css").is_file()


def test_a_site_built_with_the_installed_wheel_serves_its_stylesheet(installed, tmp_path):
    _, python = installed
    src = tmp_path / "site"
    src.mkdir()
    (src / "conf.py").write_text(CONF)
    (src / "index.md").write_text(GUIDE)
    out = src / "_build" / "html"
    run(python, "-m", "sphinx", "-q", "-b", "html", src, out, cwd=tmp_path)
    served = out / "_static" / "doc_runner.css"
    assert served.is_file() and served.read_text() == (ROOT / "doc_runner" / "static" / "doc_runner.css").read_text()
    page = (out / "index.html").read_text()
    assert 'href="_static/doc_runner.css' in page and "styled output" in page
    table = run(python.parent / "doc-runner", "report", "--build-dir", out, cwd=tmp_path)
    assert "index.md" in table and "passed" in table


def test_the_console_script_runs(installed, tmp_path):
    _, python = installed
    assert run(python.parent / "doc-runner", "--help", cwd=tmp_path).startswith("usage: doc-runner")
    guide = tmp_path / "guide.md"
    guide.write_text(textwrap.dedent(GUIDE))
    (tmp_path / "conf.py").write_text(CONF)
    assert "styled output" in run(python.parent / "doc-runner", "run", "guide.md", cwd=tmp_path)
