"""What a failure leaves on the page: blocks skipped after it say why, and an XFAIL block that passes warns."""

from __future__ import annotations

import io
from pathlib import Path

from bs4 import BeautifulSoup
from sphinx.application import Sphinx
from sphinx.util.docutils import docutils_namespace

GUIDE = """\
# Guide

```py
x = 1
```

```py
raise ValueError("broken on purpose")
```

```py
print("never runs")
```
"""

XPASS = """\
# Guide

<!-- Tripy: TEST: XFAIL Start -->
```py
y = 2
```
<!-- Tripy: TEST: XFAIL End -->
"""


def _build(tmp_path: Path, guide: str) -> tuple[BeautifulSoup, str, int]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.md").write_text(guide, encoding="utf-8")
    (src / "conf.py").write_text(
        'extensions = ["myst_parser", "doc_runner"]\nexclude_patterns = ["_build"]\ndoc_runner_pre_imports = {}\n',
        encoding="utf-8",
    )
    warnings = io.StringIO()
    out = src / "_build" / "html"
    with docutils_namespace():
        app = Sphinx(
            str(src), str(src), str(out), str(src / "_build" / "doctrees"), "html", status=None, warning=warnings
        )
        app.build()
    html = (out / "index.html").read_text(encoding="utf-8")
    return BeautifulSoup(html, "html.parser"), warnings.getvalue(), app.statuscode


def test_a_block_skipped_after_a_failure_says_which_block_failed(tmp_path):
    soup, warnings, status = _build(tmp_path, GUIDE)
    assert status == 1 and "index.md:8" in warnings  # the failing block, at its line
    notes = [n.get_text(" ", strip=True) for n in soup.select("div.doc-runner-not-run")]
    assert any("skipped" in n and "index.md:7 failed" in n for n in notes), notes
    assert "never runs" not in soup.get_text().replace('print("never runs")', "")


def test_an_xfail_block_that_passes_warns_at_its_line(tmp_path):
    _, warnings, _ = _build(tmp_path, XPASS)
    assert "index.md:4" in warnings and "inside TEST: XFAIL (expected to fail)" in warnings, warnings


TYPO = """\
# Guide

```py
# doc: no-outptu
print("hello")
```

```py
# doc: no-print-locals
z = 3
```
"""


def test_a_directive_typo_is_an_error_and_no_directive_line_is_published(tmp_path):
    soup, warnings, status = _build(tmp_path, TYPO)
    assert status == 1 and "index.md:4" in warnings and "no-output" in warnings  # the nearest valid name
    assert "# doc:" not in soup.get_text()
