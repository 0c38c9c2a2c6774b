"""The exported notebook re-runs in a real Jupyter kernel (nbclient, ipykernel) with the outputs the
build recorded."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from doc_runner.execute import GuideRun
from doc_runner.notebook import to_notebook, to_script, write_notebook
from doc_runner.outputs import collapse_carriage_returns
from doc_runner.reader import read_guide
from doc_runner.result import Status
from doc_runner.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
GUIDES = ROOT / "docs" / "guides"
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")
#: What only a kernel prints: tqdm.auto, imported by ModelOpt, asks for ipywidgets when it finds itself in Jupyter.
_KERNEL_ONLY = re.compile(r".*TqdmWarning: IProgress not found.*\n.*from \.autonotebook import.*\n")


def comparable(notebook: nbformat.NotebookNode) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Per code cell: its stdout and its stderr (as a terminal shows them: a kernel interleaves and splits
    the two streams by its own buffering) and its other outputs in order, as (kind, text/plain or the
    image types)."""
    cells = []
    for cell in notebook.cells[1:]:
        if cell.cell_type != "code":
            continue
        streams = {"stdout": "", "stderr": ""}
        others = []
        for output in cell.outputs:
            if output.output_type == "stream":
                streams[output.name] += output.text
            elif output.output_type == "error":
                others.append(("error", output.ename))
            else:
                data = output.get("data", {})
                images = ",".join(sorted(mime for mime in data if mime.startswith("image/")))
                others.append((output.output_type, images or _ADDRESS.sub("", data.get("text/plain", ""))))
        shown = {name: _KERNEL_ONLY.sub("", collapse_carriage_returns(text)) for name, text in streams.items()}
        cells.append((shown["stdout"], shown["stderr"], others))
    return cells


def exported(name: str) -> tuple[nbformat.NotebookNode, Path]:
    path = GUIDES / name
    guide = read_guide(path, display_path=f"docs/guides/{name}")
    settings = Settings(timeout=600)
    with GuideRun(guide, settings, path, ROOT) as run:
        results = {block.line: run.run(block) for block in guide.runnable_blocks}
    passed = {Status.PASSED, Status.XFAILED}
    assert all(r.status in passed for r in results.values()), [r.error for r in results.values() if r.error]
    notebook = to_notebook(guide, results, settings, path.name)
    assert compile(to_script(guide, settings, path.name), name, "exec")
    return nbformat.reads(write_notebook(notebook), as_version=4), path


@pytest.mark.parametrize("name", ["rich-output.md", "quantization.md"])
def test_the_exported_notebook_reruns_in_a_kernel_with_the_same_outputs(name):
    notebook, path = exported(name)
    nbformat.validate(notebook)
    recorded = comparable(notebook)
    assert any(recorded), "the build recorded outputs"
    fresh = nbformat.from_dict(notebook)
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    NotebookClient(
        fresh, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    assert comparable(fresh) == recorded


def test_blocks_that_never_run_become_raw_cells_and_directives_stay_as_comments():
    notebook, _ = exported("writing-guides.md")
    raw = [c.source for c in notebook.cells if c.cell_type == "raw"]
    assert "model = download_the_internet()" in raw and "# doc: no-eval\ntrain_for_a_week()" in raw
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    tagged = [c.source for c in notebook.cells if "raises-exception" in c.metadata.get("tags", [])]
    assert "tp.ones((2, 3)) @ tp.ones((2, 3))" in tagged
    assert "# doc: print-locals a b" in code
    assert '# os.remove("model.bin")  # doc: ignore-line' in code
