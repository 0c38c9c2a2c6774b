"""The result store: a guide is executed again exactly when its code, settings, environment, packages or
first-party modules changed (each with a stated reason); display-only edits re-render stored results."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
import textwrap
from pathlib import Path

import pytest

import doc_runner.cache
import doc_runner.environment
from doc_runner.cache import GuideCache
from doc_runner.execute import GuideRun
from doc_runner.reader import read_guide
from doc_runner.result import Status
from doc_runner.settings import Settings

NUMPY_ONLY = Settings(pre_imports={"np": "numpy"}, timeout=10)
ENV = {"python": "3", "backend": "numpy", "device": "cpu"}

GUIDE = """\
# A guide

```py
# doc: print-locals a b
a = np.arange(3)
b = np.ones(2)
print("a is", a)
```

Some prose.

```py
c = a * 2
print(c)
```
"""


class Store:
    """A guide file, a cache folder, and helpers to run, store and look up."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path
        self.path = tmp_path / "guide.md"
        self.cache = GuideCache(tmp_path / "cache", tmp_path)

    def guide(self, text: str):
        self.path.write_text(textwrap.dedent(text), encoding="utf-8")
        return read_guide(self.path, display_path="guide.md")

    def run_and_store(self, text: str, settings=NUMPY_ONLY, env=ENV) -> dict:
        guide = self.guide(text)
        with GuideRun(guide, settings, self.path, self.root) as run:
            results = {block.line: run.run(block) for block in guide.runnable_blocks}
        self.stored = self.cache.store(guide, settings, env, results, run.report)
        return results

    def lookup(self, text: str, settings=NUMPY_ONLY, env=ENV):
        return self.cache.lookup(self.guide(text), settings, env)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


def test_unchanged_guide_is_rendered_from_the_store(store):
    fresh = store.run_and_store(GUIDE)
    assert store.stored
    found = store.lookup(GUIDE)
    assert found.hit and found.reason == "unchanged since the stored run"
    for line, result in fresh.items():
        again = found.results[line]
        assert (again.output, again.variables, again.code, again.status) == (
            result.output,
            result.variables,
            result.code,
            result.status,
        )


def test_first_lookup_says_there_is_nothing_stored(store):
    found = store.lookup(GUIDE)
    assert not found.hit and found.reason == "no stored results"


def test_prose_edits_move_blocks_without_executing(store):
    store.run_and_store(GUIDE)
    edited = GUIDE.replace("Some prose.", "Longer prose.\n\nOver several\nparagraphs.")
    found = store.lookup(edited)
    assert found.hit
    guide = store.guide(edited)
    assert sorted(found.results) == [b.line for b in guide.runnable_blocks]
    assert found.results[guide.runnable_blocks[1].line].output == "[0 2 4]\n"


def test_display_only_directives_re_render(store):
    store.run_and_store(GUIDE)
    edited = GUIDE.replace("# doc: print-locals a b", "# doc: print-locals a b\n# doc: no-output").replace(
        'print("a is", a)', 'print("a is", a)  # doc: omit'
    )
    found = store.lookup(edited)
    assert found.hit
    first = found.results[store.guide(edited).runnable_blocks[0].line]
    assert first.output == "" and first.captured == "a is [0 1 2]\n"
    assert [v.name for v in first.variables] == ["a", "b"]
    assert "print" not in first.code


@pytest.mark.parametrize("directive", ["# doc: print-locals a", "# doc: no-print-locals", "# doc: print-locals a b c"])
def test_choosing_other_variables_runs_again(store, directive):
    # Showing a variable prints it, and printing evaluates what a lazy library has not computed yet:
    # the choice can change what this block and later ones print, so it is not display-only.
    store.run_and_store(GUIDE)
    found = store.lookup(GUIDE.replace("# doc: print-locals a b", directive))
    assert not found.hit
    assert found.reason == "the variables the block at line 3 shows changed (showing one evaluates it)"


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda t: t.replace("c = a * 2", "c = a * 3"), "the code of the block at line 12 changed"),
        (lambda t: t + "\n```py\nd = 1\n```\n", "the guide now has 3 runnable blocks, the stored run had 2"),
        (
            lambda t: t.replace("```py\nc = a", "<!-- Tripy: TEST: XFAIL Start -->\n```py\nc = a").replace(
                "print(c)\n```\n", "print(c)\n```\n<!-- Tripy: TEST: XFAIL End -->\n"
            ),
            "the code of the block at line 13 changed",
        ),
    ],
)
def test_code_edits_run_again_with_the_reason(store, edit, reason):
    store.run_and_store(GUIDE)
    found = store.lookup(edit(GUIDE))
    assert not found.hit and found.reason == reason


def test_environment_and_settings_changes_run_again(store):
    store.run_and_store(GUIDE)
    found = store.lookup(GUIDE, env={**ENV, "backend": "cuda", "device": "NVIDIA H200"})
    assert not found.hit and found.reason == "the environment changed: backend numpy -> cuda"
    other = Settings(pre_imports={"np": "numpy", "tp": "tripy"}, timeout=10)
    found = store.lookup(GUIDE, settings=other)
    assert not found.hit and found.reason == "settings changed: pre_imports"


def test_a_new_package_version_runs_again(store, monkeypatch):
    store.run_and_store(GUIDE)
    real = importlib.metadata.version
    monkeypatch.setattr(doc_runner.cache, "installed_version", lambda d: "0.0.1" if d == "numpy" else real(d))
    found = store.lookup(GUIDE)
    assert not found.hit and found.reason == f"the package numpy changed: {real('numpy')} -> 0.0.1"


def _importlib_listing() -> dict:
    versions: dict = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name not in versions:
            versions[name] = dist.version
    return {"distributions": dict(importlib.metadata.packages_distributions()), "versions": versions}


def test_the_installed_list_is_what_importlib_metadata_gives(monkeypatch):
    monkeypatch.setattr(doc_runner.environment, "_INSTALLED", {})
    assert doc_runner.environment.installed_distributions() == _importlib_listing()


def test_the_installed_list_reads_record_files_and_metadata_headers_as_importlib_does(tmp_path, monkeypatch):
    def dist(folder: str, metadata: str, **files: str) -> None:
        info = tmp_path / folder
        info.mkdir()
        (info / "METADATA").write_text(metadata, encoding="utf-8")
        for name, text in files.items():
            (info / name.replace("_txt", ".txt")).write_text(text, encoding="utf-8")

    body = "\n\nName: not-this-one\nVersion: 9\n"  # the description may hold header-like lines
    record = "fakepkg/__init__.py,sha256=x,1\nfakepkg/sub/m.py,,\nsolo.py,,\n../../bin/tool,,\nnotes.txt,,\n"
    dist("fake_pkg-1.0.dist-info", "Metadata-Version: 2.1\nName: fake-pkg\nVersion: 1.0" + body, RECORD=record)
    dist("declared-2.0.dist-info", "Name: Declared\nversion: 2.0\n", top_level_txt="alpha\nbeta\n")
    dist("other-3.0.dist-info", "Name: other\nVersion: 3.0\n", RECORD="fakepkg/extra.py,,\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    monkeypatch.setattr(doc_runner.environment, "_INSTALLED", {})
    listing = doc_runner.environment.installed_distributions()
    assert listing == _importlib_listing()
    assert (
        sorted(listing["distributions"]["fakepkg"]) == ["fake-pkg", "other"] and "bin" not in listing["distributions"]
    )
    assert listing["versions"] == {"fake-pkg": "1.0", "Declared": "2.0", "other": "3.0"}


def test_an_edited_first_party_module_runs_again(store, monkeypatch):
    (store.root / "helper_mod_for_cache.py").write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(store.root))
    text = "```py\nimport helper_mod_for_cache\nprint(helper_mod_for_cache.VALUE)\n```\n"
    try:
        store.run_and_store(text)
        assert store.lookup(text).hit
        (store.root / "helper_mod_for_cache.py").write_text("VALUE = 2\n", encoding="utf-8")
        found = store.lookup(text)
        assert not found.hit and found.reason == "the first-party module helper_mod_for_cache.py changed"
    finally:
        sys.modules.pop("helper_mod_for_cache", None)
        importlib.invalidate_caches()


def test_damaged_entries_are_noticed_and_replaced(store):
    store.run_and_store(GUIDE)
    (entry,) = (store.root / "cache").glob("*.json")
    data = json.loads(entry.read_text())
    data["entry"]["results"][0]["output"] = "tampered\n"
    entry.write_text(json.dumps(data))
    found = store.lookup(GUIDE)
    assert not found.hit and found.reason == "the stored results are damaged (checksum mismatch); running again"
    entry.write_text(entry.read_text()[:100])
    found = store.lookup(GUIDE)
    assert not found.hit and found.reason.startswith("the stored results are damaged (unreadable:")
    store.run_and_store(GUIDE)
    assert store.lookup(GUIDE).hit
    assert [p.name for p in (store.root / "cache").iterdir()] == [entry.name]  # no temporary files left


def test_failing_guides_are_not_stored(store):
    results = store.run_and_store("```py\nraise ValueError('no')\n```\n")
    assert [r.status for r in results.values()] == [Status.FAILED]
    assert not store.stored and not store.lookup("```py\nraise ValueError('no')\n```\n").hit


def test_output_mentioning_guide_lines_is_not_reused_after_the_blocks_move(store):
    text = "```py\nimport warnings\nwarnings.warn('careful')\n```\n"
    store.run_and_store(text)
    assert store.lookup(text).hit
    found = store.lookup("Intro.\n\n" + text)
    assert not found.hit and found.reason == "the blocks moved and their stored output mentions guide line numbers"


def test_undoing_an_edit_finds_the_earlier_results_again(store):
    edited = GUIDE.replace("c = a * 2", "c = a * 3")
    store.run_and_store(GUIDE)
    store.run_and_store(edited)
    assert store.lookup(edited).hit
    back = store.lookup(GUIDE)
    assert back.hit and [r.output for r in back.results.values()][-1] == "[0 2 4]\n"
    assert len(list((store.root / "cache").glob("*.json"))) == 2


def test_entries_of_another_format_run_again_without_a_warning(store):
    """An entry written by another version of doc_runner (an upgrade) is stale, not damaged: no warning, so
    a ``-W`` build does not fail on its first run after the upgrade."""
    store.run_and_store(GUIDE)
    (entry,) = (store.root / "cache").glob("*.json")
    data = json.loads(entry.read_text())
    data["format"] = 2
    entry.write_text(json.dumps(data, sort_keys=True))
    found = store.lookup(GUIDE)
    assert not found.hit and not found.damaged
    assert found.reason == "the stored results were written by another version of doc_runner (format 2); running again"
    store.run_and_store(GUIDE)
    assert store.lookup(GUIDE).hit
