"""The library's docstring examples run ahead of reading, several at once, like the guides: two examples
that each wait for the other finish only when they run at the same time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONF = """
import sys
sys.path.insert(0, ".")
extensions = ["myst_parser", "doc_runner", "sphinx.ext.autodoc"]
doc_runner_pre_imports = {}
doc_runner_library_packages = ["rendezvous"]
doc_runner_jobs = 2
doc_runner_timeout = 20
exclude_patterns = ["_build"]
"""
MODULE = '''\
"""Two examples that meet."""


def first():
    """Arrives first.

    .. code-block:: python

        import os, time
        open("first.flag", "w").close()
        while not os.path.exists("second.flag"):
            time.sleep(0.01)
        print("first met second")
    """


def second():
    """Arrives second.

    .. code-block:: python

        import os, time
        open("second.flag", "w").close()
        while not os.path.exists("first.flag"):
            time.sleep(0.01)
        print("second met first")
    """
'''
API = ".. automodule:: rendezvous\n   :members:\n"


def test_docstring_examples_run_ahead_at_the_same_time(tmp_path: Path) -> None:
    (tmp_path / "conf.py").write_text(CONF, encoding="utf-8")
    (tmp_path / "rendezvous.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "index.rst").write_text(API, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(tmp_path), str(tmp_path / "_build")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    page = (tmp_path / "_build" / "index.html").read_text(encoding="utf-8")
    assert "first met second" in page and "second met first" in page
