"""The pytest plugin: one test item per executable block of a guide or docstring.

A thin adapter over :mod:`doc_runner.reader` and :mod:`doc_runner.execute`. The items
of one guide share its namespace and run in order; after a failure the rest of the
guide are skipped, naming the block that failed.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from doc_runner.display import check_directives, stderr_policy, stderr_text
from doc_runner.docstrings import read_docstring_guides
from doc_runner.errors import GuideError
from doc_runner.execute import GuideRun
from doc_runner.reader import Block, Guide, read_guide
from doc_runner.report import failure_report
from doc_runner.result import BlockResult, Status
from doc_runner.settings import Settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "doc_runner_guides",
        "glob(s) of Markdown guides to collect, relative to rootdir",
        type="args",
        default=["docs/**/*.md"],
    )
    parser.addini(
        "doc_runner_docstrings",
        "glob(s) of Python files whose docstring examples are collected",
        type="args",
        default=["tripy/**/*.py"],
    )
    parser.addini("doc_runner_timeout", "seconds a block may run (0: no limit)", default="60")
    parser.addini(
        "doc_runner_pre_imports",
        "alias=module names bound before a guide's first block",
        type="args",
        default=["tp=tripy", "np=numpy"],
    )
    parser.addini("doc_runner_marker_prefix", "the word that opens region markers", default="Tripy")
    parser.addini("doc_runner_guide_timeout", "seconds a whole guide may run (0: no limit)", default="1800")
    parser.addini("doc_runner_output_limit", "characters of output kept per block", default="4000000")
    parser.addini("doc_runner_output_stderr", "show | remove | warn | error: what stderr output does", default="show")
    parser.addini("doc_runner_figure_format", "png | svg: the format of matplotlib figures", default="png")
    parser.addini(
        "doc_runner_library_packages",
        "top-level packages whose objects are shown under Local Variables",
        type="args",
        default=["tripy"],
    )


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist: keep a guide's blocks on one worker, in order.
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadfile"


@lru_cache(maxsize=16)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a path glob with ``**`` (any number of folders) into a regular expression."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _matches(relpath: str, patterns: Iterable[str]) -> bool:
    return any(_glob_regex(p).match(relpath) for p in patterns)


def _relpath(config: pytest.Config, path: Path) -> str:
    try:
        return path.relative_to(config.rootpath).as_posix()
    except ValueError:
        return path.as_posix()


_SETTINGS = pytest.StashKey[Settings]()
#: Settings pytest has no use for: it always executes, and stores nothing.
_SPHINX_ONLY = {"execution_mode", "cache_dir", "jobs"}


def _settings(config: pytest.Config) -> Settings:
    """The ini options as :class:`Settings`, read once per session (pytest always executes)."""
    if _SETTINGS not in config.stash:
        values = {
            f.name: config.getini(f"doc_runner_{f.name}")
            for f in dataclasses.fields(Settings)
            if f.name not in _SPHINX_ONLY
        }
        config.stash[_SETTINGS] = Settings.from_values({**values, "execution_mode": "force"})
    return config.stash[_SETTINGS]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    rel = _relpath(config, file_path)
    if file_path.suffix == ".md" and (
        _matches(rel, config.getini("doc_runner_guides")) or parent.session.isinitpath(file_path)
    ):
        return GuideFile.from_parent(parent, path=file_path)
    if file_path.suffix == ".py" and _matches(rel, config.getini("doc_runner_docstrings")):
        return DocstringFile.from_parent(parent, path=file_path)
    return None


class _GuideCollector(pytest.Collector):
    """A collector owning one guide's run: created at setup, closed at teardown."""

    guide: Guide
    run: GuideRun | None = None

    def _items(self) -> Iterator[BlockItem]:
        for block in self.guide.runnable_blocks:
            yield BlockItem.from_parent(self, name=f"line-{block.line}", block=block)

    def setup(self) -> None:
        self.run = GuideRun(self.guide, _settings(self.config), self.path, self.config.rootpath)

    def teardown(self) -> None:
        if self.run is not None:
            self.run.close()
            self.run = None

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, GuideError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class GuideFile(pytest.File, _GuideCollector):
    """A Markdown guide; its items are its executable blocks."""

    def collect(self) -> Iterable[pytest.Item]:
        self.guide = read_guide(self.path, _settings(self.config).marker_prefix, _relpath(self.config, self.path))
        for warning in self.guide.warnings:  # near misses, shown in the warnings summary at the guide's line
            warnings.warn_explicit(warning, type(warning), warning.path, warning.line)
        check_directives(self.guide)
        return list(self._items())


class DocstringFile(pytest.File):
    """A Python file; one collector per docstring that has examples."""

    def collect(self) -> Iterable[pytest.Collector]:
        for doc in read_docstring_guides(self.path, _relpath(self.config, self.path)):
            yield DocstringCollector.from_parent(self, name=doc.qualname or "<module>", guide=doc.guide)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, GuideError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class DocstringCollector(_GuideCollector):
    """The examples of one docstring, sharing one namespace."""

    def __init__(self, *, guide: Guide, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.guide = guide

    def collect(self) -> Iterable[pytest.Item]:
        return list(self._items())


class BlockFailed(Exception):
    """A block failed; carries its result for the report."""

    def __init__(self, result: BlockResult) -> None:
        super().__init__(result.error)
        self.result = result


class BlockItem(pytest.Item):
    """One executable block."""

    def __init__(self, *, block: Block, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = block
        self.result: BlockResult | None = None
        if block.xfail:
            self.add_marker(pytest.mark.xfail(reason=f"inside a TEST: XFAIL region ({self._where(block.line)})"))

    def _where(self, line: int) -> str:
        return f"{self._guide.path}:{line}"

    @property
    def _guide(self) -> Guide:
        assert isinstance(self.parent, _GuideCollector)
        return self.parent.guide

    def runtest(self) -> None:
        assert isinstance(self.parent, _GuideCollector)
        run = self.parent.run
        assert run is not None
        run.run_up_to(self.block)  # earlier blocks that were deselected still set up the namespace
        self.result = result = run.run(self.block)
        if result.output:
            self.add_report_section("call", "block output", result.output)
        if stderr_policy(self.block, run.settings) == "warn" and stderr_text(result):
            self.warn(
                pytest.PytestWarning(
                    f"{self._where(self.block.line)}: the block wrote to stderr:\n{stderr_text(result)}"
                )
            )
        if result.status is Status.SKIPPED:
            pytest.skip(f"the block at {self._where(result.skipped_because)} failed")
        if result.status in (Status.FAILED, Status.XFAILED):
            raise BlockFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if not isinstance(excinfo.value, BlockFailed):
            return str(super().repr_failure(excinfo))
        return failure_report(self.block, excinfo.value.result)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.block.line - 1, f"{self._where(self.block.line)}"
