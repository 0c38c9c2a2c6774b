"""The Sphinx extension, on tiny projects built in a temporary folder with Sphinx's API."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import textwrap
import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sphinx.application import Sphinx
from sphinx.util.docutils import docutils_namespace

# myst-parser itself still uses an API that Sphinx deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings(r"ignore:'myst_parser\..*' is deprecated")

CONF = """
extensions = ["myst_parser", "doc_runner"]
doc_runner_pre_imports = {"np": "numpy", "tp": "tripy"}
doc_runner_timeout = 10
exclude_patterns = ["_build"]
"""

GUIDE = """\
# Guide

```py
# doc: print-locals t
import numpy  # doc: omit
t = tp.ones((2,))
download()  # doc: ignore-line
print("hello from", "the block")
```

```py
# doc: no-output
print("not shown")
```

<!-- Tripy: TEST: IGNORE Start -->
```py
raise SystemExit("never run")
```
<!-- Tripy: TEST: IGNORE End -->

<!-- Tripy: DOC: OMIT Start -->
```py
print("from hidden code")
```
<!-- Tripy: DOC: OMIT End -->

<!-- Tripy: DOC: NO_EVAL_OR_FORMAT Start -->
```py
# doc: kept as written
```
<!-- Tripy: DOC: NO_EVAL_OR_FORMAT End -->

```py
print("expected")
```
<!-- Tripy: TEST: EXPECTED_STDOUT Start -->
```
exp.cted
```
<!-- Tripy: TEST: EXPECTED_STDOUT End -->

<!-- Tripy: TEST: XFAIL Start -->
```py
{}["missing"]
```
<!-- Tripy: TEST: XFAIL End -->
"""


class Build:
    """A finished build: its HTML as soup and its warnings."""

    def __init__(self, srcdir: Path, extra_conf: str = "", parallel: int = 0, fresh: bool = True) -> None:
        (srcdir / "conf.py").write_text(CONF + extra_conf, encoding="utf-8")
        self.warnings = io.StringIO()
        self.outdir = srcdir / "_build" / "html"
        with docutils_namespace():  # Sphinx's registrations end with the build (other tests build too)
            self.app = Sphinx(
                str(srcdir),
                str(srcdir),
                str(self.outdir),
                str(srcdir / "_build" / "doctrees"),
                "html",
                status=None,
                warning=self.warnings,
                freshenv=fresh,
                parallel=parallel,
            )
            self.app.build()
        #: sphinx-build's exit status
        self.status = self.app.statuscode

    def soup(self, page: str = "index") -> BeautifulSoup:
        return BeautifulSoup((self.outdir / f"{page}.html").read_text(encoding="utf-8"), "html.parser")


def project(tmp_path: Path, guide: str, name: str = "index.md") -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / name).write_text(textwrap.dedent(guide), encoding="utf-8")
    return src


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return Build(project(tmp_path_factory.mktemp("guide"), GUIDE))


def code_blocks(soup: BeautifulSoup) -> list[str]:
    return [pre.get_text() for pre in soup.select("div.highlight-py pre")]


def test_the_build_succeeds_without_warnings(built):
    assert built.status == 0
    assert built.warnings.getvalue() == ""


def test_code_is_rendered_without_directives_or_omitted_lines(built):
    blocks = code_blocks(built.soup())
    assert blocks[0] == 't = tp.ones((2,))\ndownload()\nprint("hello from", "the block")\n'
    assert blocks[1] == 'print("not shown")\n'


def test_output_and_collapsed_local_variables_follow_the_block(built):
    first = built.soup().select("div.highlight-py")[0]
    output = first.find_next_sibling()
    assert "doc-runner-output" in output["class"]
    assert output.select_one("p.doc-runner-title").get_text() == "Output"
    assert output.select_one("pre").get_text() == "hello from the block\n"
    details = output.find_next_sibling()
    assert details.name == "details" and "doc-runner-locals" in details["class"]
    assert not details.has_attr("open")
    assert details.summary.get_text() == "Local Variables"
    assert details.select_one("pre").get_text().startswith(">>> t\ntensor([1.0000, 1.0000], dtype=float32")


def test_no_output_block_has_no_output(built):
    second = built.soup().select("div.highlight-py")[1]
    after = second.find_next_sibling()
    assert after is None or "doc-runner-output" not in after.get("class", [])
    outputs = [o.get_text() for o in built.soup().select("div.doc-runner-output pre")]
    assert not any("not shown" in o for o in outputs)


def test_ignored_block_is_shown_with_a_not_executed_note(built):
    soup = built.soup()
    ignored = next(b for b in soup.select("div.highlight-py") if "never run" in b.get_text())
    note = ignored.find_next_sibling()
    assert "doc-runner-not-run" in note["class"]
    assert "Not executed" in note.get_text() and "TEST: IGNORE" in note.get_text()


def test_omitted_code_runs_but_only_its_output_shows(built):
    soup = built.soup()
    assert "from hidden code" not in "".join(code_blocks(soup))
    outputs = [o.select_one("pre").get_text() for o in soup.select("div.doc-runner-output")]
    assert "from hidden code\n" in outputs


def test_verbatim_block_keeps_its_directive_line(built):
    assert "# doc: kept as written\n" in code_blocks(built.soup())


def test_expected_stdout_fence_is_not_rendered_and_xfail_error_is(built):
    text = built.soup().get_text()
    assert "exp.cted" not in text
    xfail = [o for o in built.soup().select("div.doc-runner-output") if "expected to fail" in o.get_text()]
    assert len(xfail) == 1 and "KeyError: 'missing'" in xfail[0].get_text()


def test_the_source_guide_is_not_modified(built):
    assert (Path(built.app.srcdir) / "index.md").read_text(encoding="utf-8") == GUIDE


def test_a_failing_block_fails_the_build_at_its_guide_line(tmp_path):
    build = Build(project(tmp_path, "# T\n\n```py\ndef f():\n    raise ValueError('bad')\nf()\n```\n"))
    warnings = build.warnings.getvalue()
    assert "index.md:5: WARNING: the block at line 3 failed" in warnings
    assert "> 5 |     raise ValueError('bad')" in warnings
    assert 'File "index.md", line 6, in <module>' in warnings
    assert 'File "index.md", line 5, in f' in warnings
    assert "ValueError: bad" in warnings
    assert build.status == 1


def test_a_guide_error_is_reported_at_its_line(tmp_path):
    build = Build(project(tmp_path, "# T\n\n```py\n# doc: no-ouput\nx = 1\n```\n"))
    assert "index.md:4: WARNING: unknown directive '# doc: no-ouput'; did you mean 'no-output'?" in (
        build.warnings.getvalue()
    )
    assert build.status == 1


def test_execution_mode_off_renders_code_only(tmp_path):
    build = Build(project(tmp_path, "```py\nprint('hi')\n```\n"), 'doc_runner_execution_mode = "off"\n')
    assert build.status == 0
    assert build.soup().select("div.doc-runner-output") == []


def test_docstring_examples_run_and_render_through_autodoc(tmp_path):
    src = project(tmp_path, "# API\n\n```{eval-rst}\n.. autofunction:: sample_mod.double\n```\n")
    (src / "sample_mod.py").write_text(
        textwrap.dedent(
            '''
            def double(x):
                """Double a number.

                .. code-block:: python

                    # doc: print-locals y
                    y = sample_mod.double(21)
                    print("doubled", y)
                """
                return 2 * x
            '''
        ),
        encoding="utf-8",
    )
    build = Build(
        src, f"import sys\nsys.path.insert(0, {str(src)!r})\ndoc_runner_pre_imports = {{'sample_mod': 'sample_mod'}}\n"
    )
    assert build.status == 0, build.warnings.getvalue()
    soup = build.soup()
    assert [pre.get_text() for pre in soup.select("div.highlight-python pre")] == [
        'y = sample_mod.double(21)\nprint("doubled", y)\n'
    ]
    assert soup.select_one("div.doc-runner-output pre").get_text() == "doubled 42\n"
    assert soup.select_one("details.doc-runner-locals pre").get_text() == ">>> y\n42\n"


def test_a_failing_docstring_example_names_the_python_file_and_line(tmp_path):
    src = project(tmp_path, "# API\n\n```{eval-rst}\n.. autofunction:: bad_mod.f\n```\n")
    (src / "bad_mod.py").write_text('def f():\n    """Doc.\n\n    .. code-block:: python\n\n        1 / 0\n    """\n')
    build = Build(src, f"import sys\nsys.path.insert(0, {str(src)!r})\n")
    assert "bad_mod.py:6: WARNING: the block at line 4 failed" in build.warnings.getvalue()
    assert build.status == 1


def test_parallel_build_renders_every_guide(tmp_path):
    src = project(tmp_path, "# Index\n\n```{toctree}\na\nb\n```\n")
    for name in "ab":
        (src / f"{name}.md").write_text(f"# {name}\n\n```py\nprint('{name} ran')\n```\n", encoding="utf-8")
    build = Build(src, parallel=2)
    assert build.status == 0, build.warnings.getvalue()
    for name in "ab":
        assert build.soup(name).select_one("div.doc-runner-output pre").get_text() == f"{name} ran\n"
    # Parallel readers each keep their part of the report; the main process merges them.
    assert sorted(g["guide"] for g in _report(build)["guides"]) == ["a.md", "b.md"]
    again = Build(src, parallel=2)
    assert [g["cached"] for g in _report(again)["guides"]] == [True, True]


def test_the_seed_guide_builds_with_outputs_and_locals(tmp_path, seed_guide_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(seed_guide_path, src / "index.md")
    build = Build(src)
    assert build.status == 0, build.warnings.getvalue()
    soup = build.soup()
    locals_ = [d.select_one("pre").get_text() for d in soup.select("details.doc-runner-locals")]
    assert len(locals_) == 3
    assert locals_[0].startswith(">>> quant_linear\nLinear(")
    assert "\n\n>>> quant_linear.state_dict()\n{\n    'weight': tensor(" in locals_[0]
    assert "'weight_scale': tensor(1.0000" in locals_[1]
    assert ">>> out\ntensor(" in locals_[2]
    notes = soup.select("div.doc-runner-not-run")
    assert len(notes) == 5  # the five Python blocks under TEST: IGNORE
    assert "# doc:" not in "".join(code_blocks(soup))


def test_a_changed_first_party_module_re_executes_the_guide(tmp_path):
    src = project(tmp_path, "```py\nimport helper_mod\nprint(helper_mod.GREETING)\n```\n")
    helper = src / "helper_mod.py"
    helper.write_text("GREETING = 'first'\n", encoding="utf-8")
    conf_extra = f"import sys\nsys.path.insert(0, {str(src)!r})\n"
    first = Build(src, conf_extra)
    assert first.soup().select_one("div.doc-runner-output pre").get_text() == "first\n"
    sys.modules.pop("helper_mod", None)
    helper.write_text("GREETING = 'second'\n", encoding="utf-8")
    os.utime(helper, (time.time() + 5, time.time() + 5))
    again = Build(src, conf_extra, fresh=False)
    assert again.soup().select_one("div.doc-runner-output pre").get_text() == "second\n"


def test_an_unchanged_failing_guide_fails_the_next_build_too(tmp_path):
    src = project(tmp_path, "```py\nraise RuntimeError('still broken')\n```\n")
    assert Build(src).status == 1
    again = Build(src, fresh=False)
    assert again.status == 1
    assert "still broken" in again.warnings.getvalue()


def test_a_block_inside_an_admonition_runs_and_renders_there(tmp_path):
    build = Build(project(tmp_path, "# T\n\n````{note}\nA note.\n\n```py\nprint('in the note')\n```\n````\n"))
    assert build.status == 0, build.warnings.getvalue()
    note = build.soup().select_one("div.admonition.note")
    assert note.select_one("div.doc-runner-output pre").get_text() == "in the note\n"


# -- stored results, provenance, execution report ---------------------------------------------------------------

STORED = """\
# Stored

```py
t = tp.ones((2,))
print("made t")
```

```py
# doc: no-print-locals
print("second")
```
"""


def _report(build: Build) -> dict:
    return json.loads((build.outdir / "doc_runner_report.json").read_text(encoding="utf-8"))


def _rendered(build: Build) -> list[str]:
    soup = build.soup()
    return [node.get_text() for node in soup.select("div.doc-runner-output pre, details.doc-runner-locals pre")]


def test_every_output_says_where_it_ran(tmp_path):
    build = Build(project(tmp_path, STORED))
    lines = [p.get_text() for p in build.soup().select("p.doc-runner-provenance")]
    assert len(lines) == 2  # one under each block that shows something
    assert all(re.fullmatch(r"Ran on the (numpy|cuda) backend \(.+\)", line) for line in lines), lines


def test_a_second_build_renders_stored_results_and_the_report_says_so(tmp_path):
    src = project(tmp_path, STORED)
    first = Build(src)
    (one,), first_html = _report(first)["guides"], _rendered(first)
    second = Build(src)  # a fresh environment: Sphinx reads every document again
    assert first.status == second.status == 0
    assert _rendered(second) == first_html and "made t\n" in first_html
    (two,) = _report(second)["guides"]
    assert (one["cached"], one["reason"]) == (False, "no stored results")
    assert (two["cached"], two["reason"]) == (True, "unchanged since the stored run")
    # the executed guide's process took its blocks' time and its start; stored results took no process
    assert one["process_seconds"] >= one["seconds"] > 0 and two["process_seconds"] == 0
    assert [b["line"] for b in two["blocks"]] == [3, 8] and {b["status"] for b in two["blocks"]} == {"passed"}
    assert _report(second)["summary"]["guides_from_store"] == 1
    rows = [tr.get_text(" | ", strip=True) for tr in second.soup("doc_runner_report").select("table tbody tr")]
    # one row naming the guide and how its results were obtained, then one per block
    assert rows[0] == "index.md: stored results (unchanged since the stored run)", rows
    assert [row.split(" | ")[:2] for row in rows[1:]] == [["line 3", "passed"], ["line 8", "passed"]], rows
    (src / "index.md").write_text(STORED.replace('print("second")', 'print("changed")'), encoding="utf-8")
    third = Build(src)
    (guide,) = _report(third)["guides"]
    assert (guide["cached"], guide["reason"]) == (False, "the code of the block at line 8 changed")
    assert "changed\n" in _rendered(third)


def test_force_executes_every_guide(tmp_path):
    src = project(tmp_path, STORED)
    Build(src)
    forced = Build(src, 'doc_runner_execution_mode = "force"\n')
    (guide,) = _report(forced)["guides"]
    assert (guide["cached"], guide["reason"]) == (False, "doc_runner_execution_mode is 'force'")


def test_the_report_lists_failures_and_expected_failures(built, tmp_path):
    statuses = [b["status"] for g in _report(built)["guides"] for b in g["blocks"]]
    assert "xfailed" in statuses and "passed" in statuses
    failing = Build(project(tmp_path, "# T\n\n```py\nraise RuntimeError('broken here')\n```\n"))
    (guide,) = _report(failing)["guides"]
    assert guide["blocks"][0]["status"] == "failed"
    assert guide["blocks"][0]["error"] == "RuntimeError: broken here"
    assert _report(failing)["summary"]["failed"] == 1


def test_the_store_lives_with_the_doctrees_or_where_configured(tmp_path):
    src = project(tmp_path, STORED)
    Build(src)
    assert list((src / "_build" / "doctrees" / "doc_runner_cache").glob("*.json"))
    Build(src, 'doc_runner_cache_dir = "elsewhere"\n')
    assert list((src / "elsewhere").glob("*.json"))


def test_entries_of_guides_no_document_runs_are_pruned(tmp_path):
    src = project(tmp_path, "# Index\n\n```{toctree}\na\nb\n```\n")
    for name in "ab":
        (src / f"{name}.md").write_text(f"# {name}\n\n```py\nprint('{name}')\n```\n", encoding="utf-8")
    Build(src)
    store = src / "_build" / "doctrees" / "doc_runner_cache"
    assert len(list(store.glob("*.json"))) == 2
    (store / "leftover.json.tmp").write_text("{", encoding="utf-8")  # an interrupted write, long ago
    os.utime(store / "leftover.json.tmp", (time.time() - 7200, time.time() - 7200))
    (store / "another-project.json").write_text("{}", encoding="utf-8")  # not ours: left alone
    (src / "b.md").unlink()
    (src / "index.md").write_text("# Index\n\n```{toctree}\na\n```\n", encoding="utf-8")
    build = Build(src, fresh=False)
    assert build.status == 0, build.warnings.getvalue()
    (entry,) = [p for p in store.iterdir() if p.name != "another-project.json"]
    assert [g["store_entry"] for g in _report(build)["guides"]] == [entry.name]
    assert (store / "another-project.json").exists()


def test_a_hit_executes_nothing(tmp_path):
    runs = tmp_path / "runs.txt"
    code = f"with open({str(runs)!r}, 'a') as f:\n    print('ran', file=f)\nprint('done')"
    src = project(tmp_path, f"```py\n{code}\n```\n")
    Build(src)
    again = Build(src)
    assert runs.read_text().count("ran") == 1
    assert again.soup().select_one("div.doc-runner-output pre").get_text() == "done\n"


def test_a_module_imported_by_the_guide_stays_watched_after_a_hit(tmp_path):
    guide = "Intro.\n\n```py\nimport helper_watched\nprint('value', helper_watched.VALUE)\n```\n"
    src = project(tmp_path, guide)
    helper = src / "helper_watched.py"
    helper.write_text("VALUE = 1\n", encoding="utf-8")
    conf_extra = f"import sys\nsys.path.insert(0, {str(src)!r})\n"
    try:
        Build(src, conf_extra)
        (src / "index.md").write_text(guide.replace("Intro.", "A longer intro."), encoding="utf-8")
        hit = Build(src, conf_extra, fresh=False)  # prose only: from the store, nothing imported
        assert _report(hit)["guides"][0]["cached"]
        sys.modules.pop("helper_watched", None)
        helper.write_text("VALUE = 2\n", encoding="utf-8")
        os.utime(helper, (time.time() + 5, time.time() + 5))
        again = Build(src, conf_extra, fresh=False)
        assert again.soup().select_one("div.doc-runner-output pre").get_text() == "value 2\n"
    finally:
        sys.modules.pop("helper_watched", None)


def test_a_failed_run_removes_the_stored_results(tmp_path):
    data = tmp_path / "data.txt"
    src = project(tmp_path, f"```py\nprint(open({str(data)!r}).read())\n```\n")
    data.write_text("one", encoding="utf-8")
    assert Build(src).status == 0
    data.unlink()
    assert Build(src, 'doc_runner_execution_mode = "force"\n').status == 1
    after = Build(src)
    assert after.status == 1 and "FileNotFoundError" in after.warnings.getvalue()


def test_an_environment_change_reads_the_guide_again(tmp_path, monkeypatch):
    src = project(tmp_path, "```py\nprint('hello')\n```\n")
    (src / "envlib_for_test").mkdir()
    (src / "envlib_for_test" / "__init__.py").write_text(
        "import os\n\ndef __doc_runner_environment__():\n    return {'backend': os.environ['ENVLIB_BACKEND']}\n",
        encoding="utf-8",
    )
    conf_extra = f"import sys\nsys.path.insert(0, {str(src)!r})\ndoc_runner_library_packages = ['envlib_for_test']\n"
    monkeypatch.setenv("ENVLIB_BACKEND", "first")
    try:
        first = Build(src, conf_extra)
        assert first.soup().select_one("p.doc-runner-provenance").get_text() == "Ran on the first backend"
        monkeypatch.setenv("ENVLIB_BACKEND", "second")
        again = Build(src, conf_extra, fresh=False)  # nothing in the source changed
        assert again.soup().select_one("p.doc-runner-provenance").get_text() == "Ran on the second backend"
        (guide,) = _report(again)["guides"]
        assert guide["reason"] == "the environment changed: backend first -> second" and guide["this_build"]
    finally:
        sys.modules.pop("envlib_for_test", None)


def test_the_report_page_is_written_again_only_when_a_guide_was_read_or_removed(tmp_path):
    src = project(tmp_path, STORED)
    (src / "other.md").write_text("# Other\n\n```py\nprint('other')\n```\n", encoding="utf-8")
    (src / "index.md").write_text(STORED + "\n```{toctree}\nother\n```\n", encoding="utf-8")
    first = Build(src)
    page = first.outdir / "doc_runner_report.html"
    page.write_text(page.read_text(encoding="utf-8") + "<!-- as the first build wrote it -->", encoding="utf-8")
    Build(src, fresh=False)  # nothing to read: the page stays as it was
    assert page.read_text(encoding="utf-8").endswith("<!-- as the first build wrote it -->")
    (src / "index.md").write_text(STORED, encoding="utf-8")
    (src / "other.md").unlink()
    third = Build(src, fresh=False)
    rows = [row.get_text(strip=True) for row in third.soup("doc_runner_report").select("tr.doc-runner-report-guide")]
    assert rows == ["index.md: stored results (unchanged since the stored run)"], rows  # other.md is gone


def test_search_finds_what_blocks_printed_but_not_the_words_doc_runner_puts_on_every_page(tmp_path):
    guide = "# Fish\n\n```py\nvalue = tp.ones((2,))\nprint('zebrafish')\n```\n"
    build = Build(project(tmp_path, guide))
    text = (build.outdir / "searchindex.js").read_text(encoding="utf-8")
    terms = json.loads(text[text.index("(") + 1 : text.rindex(")")])["terms"]
    assert "zebrafish" in terms, sorted(terms)
    assert build.soup().select("p.doc-runner-provenance") and build.soup().select("details.doc-runner-locals")
    assert not {"output", "local", "variabl", "ran", "backend", "download", "notebook"} & set(terms), sorted(terms)


def test_the_notebook_an_executed_guide_writes_equals_the_one_from_its_stored_results(tmp_path):
    src = project(tmp_path, STORED)
    first = Build(src)  # executed: the guide's process writes the notebook and the script
    written = {suffix: (first.outdir / f"index{suffix}").read_text(encoding="utf-8") for suffix in (".ipynb", ".py")}
    outputs = [o.get("text") for c in json.loads(written[".ipynb"])["cells"] for o in c.get("outputs", [])]
    assert "made t\n" in outputs and "second\n" in outputs, outputs
    second = Build(src)  # stored results: Sphinx's process writes them
    assert _report(second)["guides"][0]["cached"]
    for suffix, text in written.items():
        assert (second.outdir / f"index{suffix}").read_text(encoding="utf-8") == text


def test_a_first_build_starts_one_worker_server_when_the_extension_is_set_up_and_a_later_one_none(tmp_path):
    from doc_runner.worker_client import WorkerServer

    src = project(tmp_path, "```py\nprint('hi')\n```\n")
    (src / "probe_ext.py").write_text(  # set up after doc_runner, before Sphinx has read the configuration
        "from doc_runner.worker_client import WorkerServer\nSEEN = []\n\n\n"
        "def setup(app):\n    SEEN.append(WorkerServer.started)\n",
        encoding="utf-8",
    )
    conf = f"import sys\nsys.path.insert(0, {str(src)!r})\nextensions.append('probe_ext')\n"
    first = Build(src, conf)
    probe = sys.modules.pop("probe_ext")
    assert first.status == 0 and probe.SEEN == [1] and WorkerServer.started == 1
    again = Build(src, conf, fresh=False)
    probe = sys.modules.pop("probe_ext")
    assert again.status == 0 and probe.SEEN == [0] and WorkerServer.started == 0
