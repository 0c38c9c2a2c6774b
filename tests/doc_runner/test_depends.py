"""Data files a guide reads (``# doc: depends``, ``doc_runner_depends``): their digests decide, with the
rest of the key, whether stored results are still valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from doc_runner.cache import GuideCache
from doc_runner.errors import GuideError
from doc_runner.execute import GuideRun
from doc_runner.reader import read_guide
from doc_runner.settings import Settings

NUMPY_ONLY = Settings(pre_imports={"np": "numpy"}, timeout=10)
ENV = {"python": "3", "backend": "numpy", "device": "cpu"}
GUIDE = """\
# Calibration

```py
# doc: depends data/*.txt
print(open("data/calib.txt").read())
```
"""


def store_and_look_up(root: Path, settings: Settings = NUMPY_ONLY) -> tuple[GuideCache, str]:
    """Run the guide at ``root/docs/g.md``, store it, and return the store and the reason of a new lookup."""
    path = root / "docs" / "g.md"
    guide = read_guide(path, display_path="docs/g.md")
    cache = GuideCache(root / "cache", root)
    with GuideRun(guide, settings, path, root) as run:
        results = {block.line: run.run(block) for block in guide.runnable_blocks}
    assert cache.store(guide, settings, ENV, results, run.report)
    return cache, cache.lookup(guide, settings, ENV).reason


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "docs" / "data").mkdir(parents=True)
    (tmp_path / "docs" / "g.md").write_text(GUIDE, encoding="utf-8")
    (tmp_path / "docs" / "data" / "calib.txt").write_text("scale 0.5", encoding="utf-8")
    return tmp_path


def lookup(root: Path, settings: Settings = NUMPY_ONLY) -> str:
    guide = read_guide(root / "docs" / "g.md", display_path="docs/g.md")
    return GuideCache(root / "cache", root).lookup(guide, settings, ENV).reason


def test_a_declared_data_file_is_part_of_the_key(root):
    _, reason = store_and_look_up(root)
    assert reason == "unchanged since the stored run"
    (root / "docs" / "data" / "calib.txt").write_text("scale 0.25", encoding="utf-8")
    assert lookup(root) == "the data file docs/data/calib.txt changed"
    (root / "docs" / "data" / "calib.txt").write_text("scale 0.5", encoding="utf-8")
    assert lookup(root) == "unchanged since the stored run"
    (root / "docs" / "data" / "more.txt").write_text("x", encoding="utf-8")
    assert lookup(root) == "the data file docs/data/more.txt is new"
    (root / "docs" / "data" / "more.txt").unlink()
    (root / "docs" / "data" / "calib.txt").unlink()
    assert lookup(root) == "the data file docs/data/calib.txt is gone"


def test_the_check_of_an_entry_sees_data_changes_too(root):
    cache, _ = store_and_look_up(root)
    guide = read_guide(root / "docs" / "g.md", display_path="docs/g.md")
    name = cache.entry_name(guide)
    assert cache.check(name, NUMPY_ONLY, ENV) is None
    (root / "docs" / "data" / "calib.txt").write_text("scale 0.25", encoding="utf-8")
    assert cache.check(name, NUMPY_ONLY, ENV) == "the data file docs/data/calib.txt changed"


def test_the_depends_setting_is_part_of_the_key(root):
    (root / "shared.bin").write_bytes(b"1")
    settings = Settings(pre_imports={"np": "numpy"}, timeout=10, depends=("*.bin",))
    _, reason = store_and_look_up(root, settings)
    assert reason == "unchanged since the stored run"
    assert lookup(root) == "doc_runner_depends changed"
    (root / "shared.bin").write_bytes(b"2")
    assert lookup(root, settings) == "the data file shared.bin changed"


def test_changing_the_declaration_runs_again(root):
    store_and_look_up(root)
    path = root / "docs" / "g.md"
    path.write_text(GUIDE.replace("data/*.txt", "data/calib.txt data/other.txt"), encoding="utf-8")
    assert lookup(root) == "the data files it depends on ('# doc: depends') changed"


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        ("# doc: depends", "'# doc: depends' takes paths or globs relative to the guide, e.g. data/*.npy"),
        ("# doc: depends /etc/passwd", "'# doc: depends' takes paths or globs relative to the guide, e.g. data/*.npy"),
    ],
)
def test_a_wrong_declaration_is_an_error_at_its_line(tmp_path, directive, message):
    path = tmp_path / "g.md"
    path.write_text(f"# T\n\n```py\n{directive}\nx = 1\n```\n", encoding="utf-8")
    with pytest.raises(GuideError) as caught:
        read_guide(path, display_path="g.md")
    assert (caught.value.line, caught.value.message) == (4, message)


def test_sphinx_runs_a_guide_again_when_its_data_file_changes(root):
    (root / "conf.py").write_text(
        'extensions = ["myst_parser", "doc_runner"]\ndoc_runner_pre_imports = {"np": "numpy"}\n'
        'exclude_patterns = ["_build", "cache"]\n',
        encoding="utf-8",
    )
    (root / "index.md").write_text("# Index\n\n```{toctree}\ndocs/g\n```\n", encoding="utf-8")

    def build() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sphinx", "-b", "html", str(root), str(root / "_build")],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "docs/g.md: executed" in build()
    assert "docs/g.md" not in build()  # nothing changed: not even read again
    (root / "docs" / "data" / "calib.txt").write_text("scale 0.125", encoding="utf-8")
    assert "docs/g.md: executed in" in build()
    assert "the data file docs/data/calib.txt changed" in (root / "_build" / "doc_runner_report.json").read_text()
    assert "scale 0.125" in (root / "_build" / "docs" / "g.html").read_text(encoding="utf-8")
