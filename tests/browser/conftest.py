"""The site the browser tests look at: the whole docs, built once per session with warnings as errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from browser_setup import BUILD, ROOT


@pytest.fixture(scope="session")
def site() -> Path:
    """Build the docs (warnings are errors) and return the HTML folder."""
    html = BUILD / "html"
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html", str(ROOT), str(html)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return html
