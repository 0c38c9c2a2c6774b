"""The pytest plugin: one test item per executable block of a guide or docstring.

A thin adapter over :mod:`doc_runner.reader` and :mod:`doc_runner.execute`. The items
of one guide share its namespace and run in order; after a failure the rest of the
guide are skipped, naming the block that failed.
"""

from __future__ import annotations

import configparser
import dataclasses
import glob
import os
import tomllib
import warnings
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from doc_runner.directives import check_block_names
from doc_runner.display import check_directives, stderr_policy, stderr_text
from doc_runner.docstrings import read_docstring_guides
from doc_runner.errors import GuideError
from doc_runner.execute import GuideRun, expected_output_matches
from doc_runner.expected_update import rewrite_expected
from doc_runner.outputs import plain_text
from doc_runner.reader import Block, Guide, read_guide
from doc_runner.report import failure_report
from doc_runner.result import BlockResult, Status
from doc_runner.settings import PYTEST, Declaration, SettingError, Settings, declarations, unknown_names


def _ini_default(declaration: Declaration) -> str | list[str]:
    default = declaration.default
    if declaration.ini_type == "args":
        return [f"{k}={v}" for k, v in default.items()] if isinstance(default, dict) else list(default)
    return str(default)


def pytest_addoption(parser: pytest.Parser) -> None:
    for declaration in declarations(PYTEST):
        parser.addini(
            declaration.key, _help(declaration.help), type=declaration.ini_type, default=_ini_default(declaration)
        )
    group = parser.getgroup("doc_runner", "doc_runner (Markdown guides and docstring examples)")
    group.addoption(
        "--doc-runner-timeout",
        metavar="SECONDS",
        default=None,
        help="override doc_runner_timeout: " + _help(next(d for d in declarations() if d.name == "timeout").help),
    )
    group.addoption(
        "--doc-runner-update-expected",
        action="store_true",
        default=False,
        help="rewrite each TEST: EXPECTED_STDOUT block that does not match from what its block printed",
    )


def _help(text: str) -> str:
    return text.replace("``", "'")


_SETTINGS = pytest.StashKey[Settings]()
_CONFIGURED = pytest.StashKey[dict[str, set[Path]]]()


def _settings(config: pytest.Config) -> Settings:
    """The ini options (and ``--doc-runner-timeout``) as :class:`Settings`, read once per session."""
    if _SETTINGS not in config.stash:
        values: dict[str, Any] = {d.name: config.getini(d.key) for d in declarations(PYTEST)}
        timeout = config.getoption("doc_runner_timeout", None)
        try:
            if timeout is not None:
                values["timeout"] = Settings.from_values({"timeout": timeout}).timeout
        except SettingError as exc:  # the option's own name in its message
            raise pytest.UsageError(str(exc).replace("doc_runner_timeout", "--doc-runner-timeout", 1)) from None
        try:
            settings = Settings.from_values(values)
        except SettingError as exc:
            raise pytest.UsageError(str(exc)) from None
        config.stash[_SETTINGS] = dataclasses.replace(settings, execution_mode="force")  # pytest always executes
    return config.stash[_SETTINGS]


def pytest_configure(config: pytest.Config) -> None:
    _settings(config)  # a wrong value stops pytest with one line
    for message in unknown_names(ini_names(config), PYTEST):
        config.issue_config_time_warning(pytest.PytestConfigWarning(f"{config.inipath}: {message}"), stacklevel=2)
    # pytest-xdist: keep a guide's blocks on one worker, in order.
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadfile"


def ini_names(config: pytest.Config) -> list[str]:
    """The option names written in the project's ini file (``pyproject.toml``, ``pytest.ini``, ``tox.ini``,
    ``setup.cfg``) and given with ``-o``, read again here: pytest keeps no public list of them."""
    names = [o.partition("=")[0].strip() for o in config.getoption("override_ini", None) or []]
    path = config.inipath
    try:
        if path is None:
            return names
        if path.suffix == ".toml":
            tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("pytest", {})
            return names + list(tool.get("ini_options", {})) + [k for k in tool if k != "ini_options"]
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(path, encoding="utf-8")
        section = "tool:pytest" if path.name == "setup.cfg" else "pytest"
        return names + (list(parser[section]) if parser.has_section(section) else [])
    except (OSError, ValueError, configparser.Error):
        return names


def _configured(config: pytest.Config, kind: str) -> set[Path]:
    """The files the project's ``doc_runner_guides`` or ``doc_runner_docstrings`` globs name: the standard
    library's glob (``**`` spans folders), relative to the rootdir, expanded once per session."""
    if _CONFIGURED not in config.stash:
        settings, root = _settings(config), config.rootpath
        config.stash[_CONFIGURED] = {
            name: {
                Path(os.path.abspath(root / found))
                for pattern in patterns
                for found in glob.glob(pattern, root_dir=root, recursive=True)
            }
            for name, patterns in (("guides", settings.guides), ("docstrings", settings.docstrings))
        }
    return config.stash[_CONFIGURED][kind]


def _relpath(config: pytest.Config, path: Path) -> str:
    try:
        return path.relative_to(config.rootpath).as_posix()
    except ValueError:
        return path.as_posix()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Opt-in: a guide named on the command line, or a file the project's globs name; nothing by default."""
    config = parent.config
    if file_path.suffix == ".md" and (
        parent.session.isinitpath(file_path) or Path(os.path.abspath(file_path)) in _configured(config, "guides")
    ):
        return GuideFile.from_parent(parent, path=file_path)
    if file_path.suffix == ".py" and Path(os.path.abspath(file_path)) in _configured(config, "docstrings"):
        return DocstringFile.from_parent(parent, path=file_path)
    return None


class _GuideCollector(pytest.Collector):
    """A collector owning one guide's run: created at setup, closed at teardown."""

    guide: Guide
    run: GuideRun | None = None

    def _items(self) -> Iterator[BlockItem]:
        check_block_names(self.guide.path, (block.code for block in self.guide.runnable_blocks))
        for block in self.guide.runnable_blocks:
            named = block.code.get("name") if block.code is not None else None
            yield BlockItem.from_parent(self, name=named.args[0] if named else f"line-{block.line}", block=block)

    #: ``--doc-runner-update-expected``: new text per expected-output fence line, written at teardown
    updates: dict[int, str]

    def setup(self) -> None:
        self.run = GuideRun(self.guide, _settings(self.config), self.path, self.config.rootpath)
        self.updates = {}

    def teardown(self) -> None:
        if self.run is not None:
            self.run.close()
            self.run = None
        if self.updates:
            updates, self.updates = self.updates, {}
            rewrite_expected(self.path, updates)

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
        update = self._updating()
        block = dataclasses.replace(self.block, expected_stdout=None) if update else self.block
        self.result = result = run.run(block)
        if update and result.status is Status.PASSED:
            assert self.block.expected_stdout is not None
            if not expected_output_matches(self.block.expected_stdout, result.captured):
                self.parent.updates[self.block.expected_stdout_line] = result.captured
                self.user_properties.append(("doc_runner_updated", self._where(self.block.expected_stdout_line)))
        if result.output:
            self.add_report_section("call", "block output", result.output)
        displays = [o for o in result.outputs if o["output_type"] in ("display_data", "execute_result")]
        if displays:  # rich outputs: their types, and the text a terminal shows for them
            shown = [f"{', '.join(sorted(o['data']))}: {plain_text(o['data'])[:200]}" for o in displays]
            self.add_report_section("call", "block displays", "\n".join(shown))
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

    def _updating(self) -> bool:
        """Whether this run rewrites the block's expected output (a guide's, on request) instead of checking it."""
        return (
            bool(self.config.getoption("doc_runner_update_expected", False))
            and self.block.expected_stdout is not None
            and isinstance(self.parent, GuideFile)
        )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if not isinstance(excinfo.value, BlockFailed):
            return str(super().repr_failure(excinfo))
        return failure_report(self.block, excinfo.value.result)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.block.line - 1, f"{self._where(self.block.line)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A skipped block's report points at its line in the guide, not at this plugin."""
    report = yield
    if isinstance(item, BlockItem) and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.path), item.block.line, report.longrepr[2])
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """``--doc-runner-update-expected``: say which expected outputs were rewritten."""
    updated = [
        value
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", ())
        if name == "doc_runner_updated"
    ]
    if updated:
        terminalreporter.write_sep("=", f"doc_runner rewrote {len(updated)} expected output(s)")
        for where in updated:
            terminalreporter.write_line(f"{where}: TEST: EXPECTED_STDOUT rewritten from the block's output")
