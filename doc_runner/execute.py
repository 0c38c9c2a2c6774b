"""The one executor: runs a guide's blocks in order, in one namespace per guide."""

from __future__ import annotations

import builtins
import difflib
import importlib
import itertools
import linecache
import re
import signal
import sys
import threading
import time
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from doc_runner import display
from doc_runner.capture import capture_output
from doc_runner.reader import Block, Guide
from doc_runner.result import BlockResult, LocalVariable, Status
from doc_runner.settings import Settings
from doc_runner.variables import changed_names, format_variable, is_library_object

_counter = itertools.count()


class BlockTimeout(BaseException):
    """Raised inside a block that runs longer than the timeout.

    A BaseException, so that a block's own ``except Exception`` cannot swallow it.
    """


@contextmanager
def time_limit(seconds: float, where: str) -> Iterator[None]:
    """Raise :class:`BlockTimeout` in the running code after ``seconds`` (main thread only)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise BlockTimeout(f"the block at {where} did not finish within {seconds:g} s (doc_runner_timeout)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def _warnings_to_output() -> Iterator[None]:
    """Show warnings in the block's output, in the build and under pytest alike.

    Entering ``catch_warnings`` also resets the "shown once" bookkeeping, so a block shows
    its warnings whatever ran before it.
    """

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


class _MissingModule(types.ModuleType):
    """Stands in for a pre-import that failed; using it raises the original import error."""

    def __init__(self, alias: str, module: str, error: BaseException) -> None:
        super().__init__(module)
        self._doc_runner_error = f"pre-import '{alias}' (import {module} as {alias}) failed: {error!r}"

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise ImportError(self._doc_runner_error)

    def __repr__(self) -> str:
        return f"<unavailable module: {self._doc_runner_error}>"


def _exception_matches(exc: BaseException, wanted: str) -> bool:
    """Whether ``exc`` is an instance of a class called ``wanted`` (bare or dotted name)."""
    return any(wanted in (cls.__name__, f"{cls.__module__}.{cls.__qualname__}") for cls in type(exc).__mro__)


def expected_output_matches(expected: str, actual: str) -> bool:
    """Literal match (trailing spaces ignored) or, failing that, a full regular-expression match."""
    norm = lambda s: "\n".join(line.rstrip() for line in s.strip("\n").splitlines())
    if norm(expected) == norm(actual):
        return True
    try:
        return re.fullmatch(norm(expected), norm(actual), re.DOTALL) is not None
    except re.error:
        return False


class GuideRun:
    """Executes the blocks of one :class:`Guide` in order, sharing one fresh namespace.

    Use as a context manager (or call :meth:`close`) so the guide's module is removed
    from ``sys.modules`` afterwards. Nothing is shared between two ``GuideRun`` s.
    """

    def __init__(
        self, guide: Guide, settings: Settings | None = None, describe: Callable[[], dict[str, str]] | None = None
    ) -> None:
        self.guide = guide
        self.settings = settings or Settings()
        #: called after each executed block: where it ran (see :mod:`doc_runner.environment`)
        self.describe = describe
        self.module = types.ModuleType(f"doc_runner_guide_{next(_counter)}")
        self.module.__file__ = guide.path
        self.namespace: dict[str, Any] = self.module.__dict__
        self.namespace["__builtins__"] = builtins
        #: the first block that failed; later blocks are skipped because of it
        self.failure: BlockResult | None = None
        #: results so far, by the block's line
        self.results: dict[int, BlockResult] = {}
        self._pre_imported = False
        if guide.source:  # let tracebacks show the guide's own lines, whatever the working directory
            linecache.cache[guide.path] = (len(guide.source), None, guide.source.splitlines(True), guide.path)

    def __enter__(self) -> GuideRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        sys.modules.pop(self.module.__name__, None)

    def _pre_import(self) -> None:
        if self._pre_imported:
            return
        self._pre_imported = True
        sys.modules[self.module.__name__] = self.module
        for alias, module in self.settings.pre_imports.items():
            try:
                self.namespace[alias] = importlib.import_module(module)
            except Exception as exc:  # reported only if a block uses the alias
                self.namespace[alias] = _MissingModule(alias, module, exc)

    def run_all(self) -> list[BlockResult]:
        """Run every runnable block; after a failure the rest are SKIPPED (or NOT_RUN when off)."""
        return [self.run(block) for block in self.guide.runnable_blocks]

    def run(self, block: Block) -> BlockResult:
        """Run one block (it must be ``block.runs``) and return what happened."""
        assert block.code is not None and block.runs, "only runnable Python blocks execute"
        result = BlockResult(self.guide.path, block.line, Status.PASSED, code=block.shown_source)
        if self.settings.execution_mode == "off":
            result.status = Status.NOT_RUN
        elif self.failure is not None:
            result.status = Status.SKIPPED
            result.skipped_because = self.failure.line
            result.error = f"skipped: the block at {self.guide.path}:{self.failure.line} failed"
        else:
            self._pre_import()
            started = time.perf_counter()
            try:
                self._execute(block, result)
            finally:
                result.duration = time.perf_counter() - started
            if self.describe is not None:
                result.environment = self.describe()
            if result.status is Status.FAILED:
                self.failure = result
        self.results[block.line] = result
        return result

    def run_up_to(self, block: Block) -> None:
        """Run the runnable blocks before ``block`` that have not run yet (its prerequisites)."""
        for earlier in self.guide.runnable_blocks:
            if earlier.line >= block.line:
                break
            if earlier.line not in self.results:
                self.run(earlier)

    def _execute(self, block: Block, result: BlockResult) -> None:
        assert block.code is not None
        path = self.guide.path
        source = "\n" * (block.code_line - 1) + block.code.runnable_source()
        try:
            code = compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            result.status = Status.FAILED
            result.error_line = exc.lineno or block.code_line
            result.error = "".join(traceback.format_exception_only(type(exc), exc))
            return
        before = dict(self.namespace)
        raised: BaseException | None = None
        where = f"{path}:{block.line}"
        with capture_output() as captured, _warnings_to_output():
            try:
                with time_limit(self.settings.timeout, where):
                    exec(code, self.namespace)
            except (Exception, SystemExit, BlockTimeout) as exc:
                raised = exc
        output = captured.text
        self._judge(block, result, raised, output)
        result.captured = result.output
        result.output = display.shown_output(block, result.captured)
        if result.status is Status.PASSED and raised is None:
            try:
                result.variables = self._variables(block, before)
            except _VariableError as exc:
                result.status, result.error, result.error_line = Status.FAILED, str(exc), exc.line

    def _judge(self, block: Block, result: BlockResult, raised: BaseException | None, output: str) -> None:
        """Decide the status from the exception raised (if any) and the output."""
        assert block.code is not None
        allowed = block.code.get("allow-exception")
        result.output = output
        if raised is not None:
            if allowed is not None and not isinstance(raised, BlockTimeout):
                wanted = allowed.args[0] if allowed.args else None
                if wanted is None or _exception_matches(raised, wanted):
                    result.output = output + "".join(traceback.format_exception_only(type(raised), raised))
                    return
            result.error, result.error_line = self._format_traceback(raised, block)
            result.status = Status.XFAILED if block.xfail else Status.FAILED
            if block.xfail:  # the reader sees the error message; the test report keeps the traceback
                result.output = output + "".join(traceback.format_exception_only(type(raised), raised))
            return
        if allowed is not None:
            kind = allowed.args[0] if allowed.args else "an exception"
            result.status = Status.FAILED
            result.error_line = allowed.line
            result.error = f"the block was expected to raise {kind} ('# doc: allow-exception') but finished without one"
            return
        if block.expected_stdout is not None and not expected_output_matches(block.expected_stdout, output):
            diff = difflib.unified_diff(
                block.expected_stdout.strip("\n").splitlines(),
                output.strip("\n").splitlines(),
                fromfile=f"expected ({self.guide.path}:{block.expected_stdout_line})",
                tofile="actual output",
                lineterm="",
            )
            result.status = Status.FAILED
            result.error_line = block.expected_stdout_line
            result.error = "the output does not match TEST: EXPECTED_STDOUT (literal text or regular expression):\n" + (
                "\n".join(diff)
            )
            return
        if block.xfail:
            result.status = Status.XPASSED

    def _format_traceback(self, exc: BaseException, block: Block) -> tuple[str, int]:
        """A traceback that starts at the guide's frames, and the guide line it points to."""
        te = traceback.TracebackException.from_exception(exc)
        frames = list(te.stack)
        first = next((i for i, f in enumerate(frames) if f.filename == self.guide.path), None)
        if first is not None:
            frames = frames[first:]
        te.stack = traceback.StackSummary.from_list(frames)
        guide_lines = [f.lineno for f in frames if f.filename == self.guide.path and f.lineno]
        return "".join(te.format()), (guide_lines[-1] if guide_lines else block.code_line)

    def _variables(self, block: Block, before: dict[str, Any]) -> list[LocalVariable]:
        assert block.code is not None
        packages = self.settings.library_packages
        made = [n for n in changed_names(before, self.namespace) if is_library_object(self.namespace[n], packages)]
        names = display.wanted_names(block, made)
        show = block.code.get("print-locals")
        missing = [n for n in names if n not in self.namespace]
        if missing and show is not None:
            raise _VariableError(
                show.line,
                f"'# doc: print-locals' names {', '.join(map(repr, missing))}, which is not defined after the block",
            )
        return [format_variable(name, self.namespace[name], packages) for name in names]


class _VariableError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def run_guide(guide: Guide, settings: Settings | None = None) -> list[BlockResult]:
    """Run all of ``guide``'s runnable blocks in a fresh namespace and return their results."""
    with GuideRun(guide, settings) as run:
        return run.run_all()
