"""Jupyter's display protocol: the rich-output guide built by Sphinx, prose values, stderr policies, the
outputs pytest sees, and the notebook and script offered for download."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from sphinx.application import Sphinx
from sphinx.util.docutils import docutils_namespace

from doc_runner.result import Status
from doc_runner.settings import Settings

pytestmark = pytest.mark.filterwarnings(r"ignore:'myst_parser\..*' is deprecated")
ROOT = Path(__file__).resolve().parents[2]
RICH = ROOT / "docs" / "guides" / "rich-output.md"


def build(src: Path, conf: str = "") -> tuple[Path, str, int]:
    (src / "conf.py").write_text(
        'extensions = ["myst_parser", "doc_runner"]\nexclude_patterns = ["_build"]\n' + conf, encoding="utf-8"
    )
    warnings = io.StringIO()
    out = src / "_build" / "html"
    with docutils_namespace():  # Sphinx's registrations end with the build (other tests build too)
        app = Sphinx(
            str(src), str(src), str(out), str(src / "_build" / "doctrees"), "html", status=None, warning=warnings
        )
        app.build()
    return out, warnings.getvalue(), app.statuscode


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BeautifulSoup, str]:
    src = tmp_path_factory.mktemp("rich")
    (src / "index.md").write_text(RICH.read_text(encoding="utf-8"), encoding="utf-8")
    out, warnings, status = build(src)
    assert status == 0, warnings
    return out, BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser"), warnings


def test_the_rich_output_guide_builds_without_warnings(rich):
    # (Sphinx warns that node classes are registered again when several apps share one test process.)
    assert [w for w in rich[2].splitlines() if w.strip() and "is already registered" not in w] == []


def test_last_expression_is_displayed_and_a_semicolon_hides_it(rich):
    _, soup, _ = rich
    displays = [d.get_text() for d in soup.select("div.doc-runner-display")]
    assert any(text.strip().startswith("tensor(") and "[ 9.0000, 12.0000, 15.0000]" in text for text in displays)
    assert not any("tensor(15" in text for text in displays)  # tp.sum(weights); shows nothing


def test_stderr_is_apart_from_stdout_and_progress_bars_collapse(rich):
    _, soup, _ = rich
    stderr = [d.select_one("pre").get_text() for d in soup.select("div.doc-runner-stderr")]
    assert stderr == ["step 5/5\n"]
    outputs = [d.select_one("pre").get_text() for d in soup.select("div.doc-runner-output:not(.doc-runner-display)")]
    assert "calibrating...\n" in outputs and "done\n" in outputs


def test_dataframe_html_markdown_and_math(rich):
    _, soup, _ = rich
    table = soup.select_one("table.dataframe")
    assert table is not None and "per-channel" in table.get_text()
    assert soup.select_one("span.demo-badge").get_text() == "int8 ready"
    assert soup.find("strong", string="positive") is not None
    math = soup.select_one("div.doc-runner-math math")
    assert math is not None and math.find("mfrac") is not None


def test_figures_are_image_files_in_the_build_folder(rich):
    out, soup, _ = rich
    (image,) = soup.select("img.doc-runner-image")
    assert image["src"].startswith("_images/") and image["src"].endswith(".png")
    assert (out / image["src"]).read_bytes().startswith(b"\x89PNG")
    assert "base64" not in str(soup.select_one("div.doc-runner-display img"))


def test_prose_values_and_collapsed_input_and_output(rich):
    _, soup, _ = rich
    values = [v.get_text() for v in soup.select("span.doc-runner-value")]
    assert values[1] == "0.05" and 0 < float(values[0]) <= 0.025
    hidden_code = soup.select_one("details.doc-runner-input")
    assert hidden_code.select_one("summary").get_text() == "Show code"
    assert "collapsed above its output" in hidden_code.get_text()
    hidden_output = soup.select_one("details.doc-runner-output")
    assert "collapsed under its code" in hidden_output.get_text()


def test_the_page_offers_its_notebook_and_script(rich):
    out, soup, _ = rich
    links = [a["href"] for a in soup.select("p.doc-runner-downloads a")]
    assert links == ["index.ipynb", "index.py"]
    notebook = nbformat.read(out / "index.ipynb", as_version=4)
    nbformat.validate(notebook)
    first = notebook.cells[0]
    assert first.cell_type == "code" and "import tripy as tp" in first.source and "__file__" in first.source
    kinds = {o.output_type for c in notebook.cells if c.cell_type == "code" for o in c.outputs}
    assert kinds == {"stream", "execute_result", "display_data"}
    png = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(png) == 1
    script = (out / "index.py").read_text(encoding="utf-8")
    compile(script, "index.py", "exec")
    assert "import pandas as pd" in script and "# doc: hide-input" in script


def test_an_unknown_prose_value_is_an_error_at_its_line(tmp_path):
    (tmp_path / "index.md").write_text("# T\n\n```py\nx = 1\n```\n\nText {doc-value}`x` and\n{doc-value}`nope`.\n")
    out, warnings, status = build(tmp_path)
    assert status == 1
    assert (
        "index.md:8: WARNING: the value {doc-value}`nope` cannot be shown: NameError: name 'nope' is not defined"
        in (warnings)
    )
    soup = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert soup.select_one("span.doc-runner-value").get_text() == "1"


def test_prose_values_come_from_the_store_too(tmp_path):
    (tmp_path / "index.md").write_text("# T\n\n```py\nx = 41 + 1\n```\n\nThe answer is {doc-value}`x`.\n")
    build(tmp_path)
    (tmp_path / "index.md").write_text("# T\n\n```py\nx = 41 + 1\n```\n\nThe answer, again, is {doc-value}`x`.\n")
    out, warnings, status = build(tmp_path)
    report = json.loads((out / "doc_runner_report.json").read_text())
    assert status == 0 and report["guides"][0]["cached"] is True
    soup = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert soup.select_one("span.doc-runner-value").get_text() == "42"


def test_svg_figures_by_setting(tmp_path):
    (tmp_path / "index.md").write_text(
        "# T\n\n```py\nimport matplotlib.pyplot as plt\nplt.plot([1, 2]);\n```\n", encoding="utf-8"
    )
    out, warnings, status = build(tmp_path, 'doc_runner_figure_format = "svg"\ndoc_runner_pre_imports = {}\n')
    assert status == 0, warnings
    soup = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    (image,) = soup.select("img.doc-runner-image")
    assert image["src"].endswith(".svg") and b"<svg" in (out / image["src"]).read_bytes()


STDERR = """\
# T

```py
import sys
print("out")
print("err", file=sys.stderr)
```

```py
# doc: output-stderr remove
print("err again", file=sys.stderr)
```
"""


@pytest.mark.parametrize("policy", ["show", "remove", "warn", "error"])
def test_stderr_policies(tmp_path, policy):
    (tmp_path / "index.md").write_text(STDERR, encoding="utf-8")
    out, warnings, status = build(tmp_path, f'doc_runner_output_stderr = "{policy}"\ndoc_runner_pre_imports = {{}}\n')
    soup = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    stderr = [d.get_text() for d in soup.select("div.doc-runner-stderr pre")]
    assert "err again" not in "".join(stderr)  # the block's own directive wins
    if policy == "remove":
        assert stderr == [] and status == 0
    elif policy == "error":
        assert status == 1 and "index.md:3: WARNING: the block at line 3 failed" in warnings
        assert "wrote to stderr (doc_runner_output_stderr is 'error')" in warnings
    else:
        assert stderr == ["err\n"]
        assert ("index.md:3: WARNING: the block at line 3 wrote to stderr" in warnings) == (policy == "warn")


def test_bad_engine_directives_are_errors_at_their_line(tmp_path):
    (tmp_path / "index.md").write_text("# T\n\n```py\n# doc: timeout soon\nx = 1\n```\n", encoding="utf-8")
    _, warnings, status = build(tmp_path)
    assert "index.md:4: WARNING: '# doc: timeout' takes one positive number of seconds, e.g. 120" in warnings


def test_pytest_sees_the_same_outputs(guide_of):
    from doc_runner.execute import run_guide

    guide = guide_of(
        textwrap.dedent(
            """
            ```py
            from IPython.display import HTML, display
            display(HTML("<b>bold</b>"))
            print("text")
            6 * 7
            ```
            """
        )
    )
    (result,) = run_guide(guide, Settings(pre_imports={}))
    assert result.status is Status.PASSED and result.output == "text\n"
    kinds = [(o["output_type"], sorted(o.get("data", {}))) for o in result.outputs]
    assert kinds == [
        ("display_data", ["text/html", "text/plain"]),
        ("stream", []),
        ("execute_result", ["text/plain"]),
    ]
    assert result.outputs[-1]["data"]["text/plain"] == "42"


def test_local_variables_use_the_same_bundles(tmp_path):
    (tmp_path / "index.md").write_text(
        "# T\n\n```py\n# doc: print-locals table n\nimport pandas as pd\n"
        "table = pd.DataFrame({'a': [1, 2]})\nn = 3\n```\n",
        encoding="utf-8",
    )
    out, warnings, status = build(tmp_path, "doc_runner_pre_imports = {}\n")
    assert status == 0, warnings
    soup = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    section = soup.select_one("details.doc-runner-locals")
    assert section.select_one("table.dataframe") is not None
    assert [pre.get_text() for pre in section.select("pre")] == [">>> table\n", ">>> n\n3\n"]
