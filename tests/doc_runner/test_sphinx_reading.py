"""What the Sphinx build says about a guide's source: a non-UTF-8 guide is an error at its ``file:line``
(not Sphinx's crash), and near-miss directives and markers are warnings naming the valid form."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sphinx.application import Sphinx
from sphinx.util.docutils import docutils_namespace

pytestmark = pytest.mark.filterwarnings(r"ignore:'myst_parser\..*' is deprecated")

CONF = 'extensions = ["myst_parser", "doc_runner"]\ndoc_runner_execution_mode = "off"\nexclude_patterns = ["_build"]\n'


def build(tmp_path: Path, guides: dict[str, bytes]) -> tuple[Sphinx, str]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(CONF)
    (src / "index.md").write_text(
        "# Index\n\n```{toctree}\n" + "\n".join(n.removesuffix(".md") for n in guides) + "\n```\n"
    )
    for name, data in guides.items():
        (src / name).write_bytes(data)
    warnings = io.StringIO()
    with docutils_namespace():  # Sphinx's registrations end with the build (other tests build too)
        app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
                     status=io.StringIO(), warning=warnings, freshenv=True)  # fmt: skip
        app.build()
    return app, warnings.getvalue()


def test_a_non_utf8_guide_is_an_error_at_its_line_and_the_rest_builds(tmp_path):
    app, warnings = build(
        tmp_path,
        {"good.md": b"# Good\n\n```py\nx = 1\n```\n", "latin1.md": b"# Latin-1\n\nCaf\xe9 au lait\n"},
    )
    assert "latin1.md:3: ERROR: the file is not valid UTF-8 (byte 0xe9 at column 4); save it as UTF-8" in warnings
    assert app.statuscode == 1
    assert (tmp_path / "out" / "good.html").is_file() and not (tmp_path / "out" / "latin1.html").exists()


def test_near_misses_are_warnings_at_their_lines(tmp_path):
    guide = b"# Near\n\n<!-- tripy: TEST: IGNORE Start -->\n\n```py\n# Doc: no-output\nx = 1\n```\n"
    _, warnings = build(tmp_path, {"near.md": guide})
    assert "near.md:3: WARNING: " in warnings and "did you mean '<!-- Tripy: TEST: IGNORE Start -->'?" in warnings
    assert "near.md:6: WARNING: " in warnings and "did you mean '# doc: no-output'?" in warnings
