"""What a build says about execution: one console line per guide, damaged store entries warned about, and
the execution report (linked from the site, grouped by guide, naming docstring objects and exceptions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CONF = """
import sys
sys.path.insert(0, ".")
extensions = ["myst_parser", "doc_runner"]
doc_runner_pre_imports = {"np": "numpy"}
exclude_patterns = ["_build"]
"""
INDEX = """\
# Index

The {doc-runner-report}`execution report`.

```{toctree}
guide
api
```
"""
GUIDE = """\
# Guide

```py
print("hello")
```

```py
# doc: allow-exception KeyError
{}["allowed"]
```

<!-- Tripy: TEST: XFAIL Start -->
```py
raise ValueError("the scale must be positive\\n\\n    | scale = -1")
```
<!-- Tripy: TEST: XFAIL End -->
"""
API = """\
# API

```{eval-rst}
.. autofunction:: shapes.double
```
"""
MODULE = '''\
def double(x):
    """Double a number.

    .. code-block:: python

        print(2 * 2)
    """
    return 2 * x
'''


def build(src: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", str(src), str(src / "_build")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=src,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    src = tmp_path_factory.mktemp("site")
    for name, text in {"conf.py": CONF, "index.md": INDEX, "guide.md": GUIDE, "api.md": API}.items():
        (src / name).write_text(text, encoding="utf-8")
    (src / "shapes.py").write_text(MODULE, encoding="utf-8")
    return src, build(src)


def test_one_console_line_per_guide(site):
    src, first = site
    assert "doc_runner: guide.md: executed in" in first.stdout
    assert "doc_runner: shapes.py: executed in" in first.stdout
    (src / "guide.md").write_text(GUIDE.replace("# Guide", "# Guide, retitled"), encoding="utf-8")
    again = build(src)
    assert "doc_runner: guide.md: stored results (unchanged since the stored run)" in again.stdout


def test_the_report_groups_rows_by_guide_and_names_objects_and_exceptions(site):
    src, _ = site
    report = json.loads((src / "_build" / "doc_runner_report.json").read_text(encoding="utf-8"))
    guides = {g["guide"]: g for g in report["guides"]}
    assert guides["shapes.py"]["object"] == "shapes.double"
    allowed, xfailed = guides["guide.md"]["blocks"][1:]
    assert (allowed["status"], allowed["error"]) == ("passed", None)
    assert (xfailed["status"], xfailed["error"]) == ("xfailed", "ValueError: the scale must be positive")
    page = (src / "_build" / "doc_runner_report.html").read_text(encoding="utf-8")
    assert page.count('class="doc-runner-report-guide"') == 2
    assert "shapes.py (shapes.double): executed" in page
    heading = page.index("guide.md: ")
    assert heading < page.index("<td>line 3</td>") < page.index("<td>line 7</td>") < page.index("<td>line 13</td>")
    assert "| scale = -1" not in page


def test_the_site_links_the_report(site):
    src, _ = site
    index = (src / "_build" / "index.html").read_text(encoding="utf-8")
    assert '<a class="doc-runner-report-link reference external" href="doc_runner_report.html">' in index


def test_a_damaged_entry_is_a_warning_on_the_console(site):
    src, _ = site
    store = src / "_build" / ".doctrees" / "doc_runner_cache"
    entries = sorted(store.glob("*.json"))
    assert entries
    for entry in entries:
        entry.write_text(entry.read_text(encoding="utf-8").replace("hello", "jello"), encoding="utf-8")
    (src / "guide.md").write_text(GUIDE.replace("# Guide", "# Guide, damaged"), encoding="utf-8")
    again = build(src)
    assert "guide.md:3: WARNING: the stored results are damaged (checksum mismatch); running again" in again.stderr
    assert "doc_runner: guide.md: executed in" in again.stdout
