"""The guide's own process: runs its blocks in order in one namespace and sends back what each produced.

A worker is forked from the worker server (:mod:`doc_runner.worker_server`) for one guide and ends with it,
so nothing a guide does to interpreter state (working directory, environment, ``sys.path``, warnings
filters, logging, threads, signal handlers, monkeypatches) reaches another guide or Sphinx/pytest. The guide's
folder is the working directory and ``__file__`` is its absolute path. Time limits are kept by the host,
which ends a block that runs too long (see :mod:`doc_runner.worker_client`), so arming them costs a block
nothing. Messages (pickled, over a socket):
``("started", pid, monotonic time)`` first; ``("run", Block)`` -> ``("result", BlockResult)``;
``("run_all", [Block])`` -> ``("begin", line, monotonic time)`` and a result per block, up to the first
failure; ``("values", names)`` -> ``("values", {name: output})``;
``("finish",)`` -> ``("report", WorkerReport)`` and the process exits. The host may send several messages at
once: each is answered in turn.
"""

from __future__ import annotations

import ast
import builtins
import faulthandler
import importlib
import linecache
import os
import re
import signal
import sys
import time
import traceback
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from doc_runner import display
from doc_runner import outputs as out
from doc_runner.bundles import DisplayError, Displays
from doc_runner.capture import OutputLog
from doc_runner.environment import describe, first_party_files, loaded_packages
from doc_runner.reader import Block, Guide
from doc_runner.result import BlockResult, LocalVariable, Status
from doc_runner.settings import Settings
from doc_runner.variables import changed_names, format_variable, is_library_object

#: The signal on which a guide's process writes its Python stacks (see :mod:`doc_runner.worker_client`).
STACK_SIGNAL = signal.SIGUSR1
#: When this process was forked, set up and given its guide (the worker server's spare notes them)
TIMES: dict[str, float] = {}


@dataclass
class WorkerRequest:
    """What a guide's process needs: the guide, its file's absolute path, the source tree and settings."""

    guide: Guide
    file: str
    root: str
    settings: Settings
    #: where the process writes Python stack dumps (timeouts, crashes)
    dump_path: str
    #: where it writes the guide as a notebook and a script when it finishes (``PATH.ipynb``, ``PATH.py``;
    #: empty: nowhere), so the host does not spend its time on that
    downloads: str = ""


@dataclass
class WorkerReport:
    """What the guide's process loaded: the store keys the guide's results on it."""

    environment: dict[str, str] = field(default_factory=dict)
    #: the top-level names of the modules it loaded (the host finds their distributions and versions)
    modules: tuple[str, ...] = ()
    #: ``{path relative to the source tree: sha256 as loaded}`` of its first-party modules
    first_party: dict[str, str] = field(default_factory=dict)
    #: when it finished (``time.monotonic``, a clock the host shares)
    ended: float = 0.0
    #: whether it wrote the guide's notebook and script (:attr:`WorkerRequest.downloads`)
    downloads: bool = False
    #: when (``time.monotonic``) it was forked, set up, given the guide, and when the guide started
    times: dict[str, float] = field(default_factory=dict)


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


def exception_matches(exc: BaseException, wanted: str) -> bool:
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


def block_timeout(block: Block, settings: Settings) -> float:
    """The block's time limit: ``# doc: timeout N`` or the ``timeout`` setting (0: none)."""
    directive = block.code.get("timeout") if block.code is not None else None
    return float(directive.args[0]) if directive is not None and directive.args else settings.timeout


@contextmanager
def _warnings_to_output() -> Iterator[None]:
    """Show warnings on stderr, every time (entering ``catch_warnings`` resets "shown once")."""

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _split_last_expression(tree: ast.Module, source: str) -> tuple[ast.Module, ast.Expression | None]:
    """The block without its last statement when that is an expression (displayed as in Jupyter), and it;
    a trailing ``;`` keeps it undisplayed."""
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return tree, None
    last = tree.body[-1]
    lines = source.split("\n")
    end_line = lines[(last.end_lineno or 1) - 1] if lines else ""
    rest = end_line[last.end_col_offset or 0 :]
    rest_code = rest.split("#", 1)[0].strip()
    if rest_code.startswith(";"):
        return tree, None
    return ast.Module(body=tree.body[:-1], type_ignores=[]), ast.Expression(body=last.value)


class GuideWorker:
    """The state of one guide's process: its namespace, output log and displays."""

    def __init__(self, request: WorkerRequest, displays: Displays) -> None:
        self.request = request
        self.guide = request.guide
        self.settings = request.settings
        self.displays = displays
        self.started = time.monotonic()
        self.count = 0
        folder = str(Path(request.file).parent)
        os.chdir(folder)
        sys.path.insert(0, folder)
        self.module = types.ModuleType("__main__")
        self.module.__file__ = request.file
        self.module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = self.module
        self.namespace: dict[str, Any] = self.module.__dict__
        self.log = OutputLog(self.settings.output_limit)
        self.log.redirect_descriptors()
        displays.sink = self.log.display
        self._dump = open(request.dump_path, "w")  # noqa: SIM115 - open for the process's life
        faulthandler.enable(file=self._dump, all_threads=True)
        # The host's timer ends a block that runs too long: first this signal, which makes the C-level
        # handler write every thread's Python stack (even while native code holds the interpreter), then SIGKILL.
        faulthandler.register(STACK_SIGNAL, file=self._dump, all_threads=True)
        if self.guide.source:  # tracebacks show the guide's own lines
            lines = self.guide.source_lines
            linecache.cache[self.guide.path] = (len(self.guide.source), None, lines, self.guide.path)
        if "numpy.random" in sys.modules:  # forked processes would otherwise share the server's random state
            sys.modules["numpy.random"].seed()
        for alias, module in self.settings.pre_imports.items():
            try:
                self.namespace[alias] = importlib.import_module(module)
            except Exception as exc:  # reported only if a block uses the alias
                self.namespace[alias] = _MissingModule(alias, module, exc)
        self.environment: dict[str, str] = {}
        #: the results of the blocks run, by line
        self.results: dict[int, BlockResult] = {}

    def run(self, block: Block) -> BlockResult:
        """Run ``block`` and judge it: the status, outputs, variables and where it ran."""
        assert block.code is not None
        result = BlockResult(self.guide.path, block.line, Status.PASSED, code=block.shown_source)
        started = time.perf_counter()
        self.count += 1
        path = self.guide.path
        source = "\n" * (block.code_line - 1) + block.code.runnable_source()
        try:
            tree = ast.parse(source, path)
            body, last = _split_last_expression(tree, source)
            code = compile(body, path, "exec", dont_inherit=True)
            last_code = compile(last, path, "eval", dont_inherit=True) if last is not None else None
        except SyntaxError as exc:
            result.status = Status.FAILED
            result.error_line = exc.lineno or block.code_line
            result.error = "".join(traceback.format_exception_only(type(exc), exc))
            result.duration = time.perf_counter() - started
            return result
        before = dict(self.namespace)
        raised: BaseException | None = None
        try:
            with _warnings_to_output():
                try:
                    exec(code, self.namespace)
                    if last_code is not None:
                        value = eval(last_code, self.namespace)
                        if value is not None:
                            data, metadata = self.displays.bundle(value)
                            self.log.display(out.execute_result(data, metadata, self.count))
                    self.displays.after_block()
                except BaseException as exc:  # KeyboardInterrupt, SystemExit...: this block's failure
                    raised = exc
        finally:
            self._dump.seek(0)
            self._dump.truncate()
        outputs = self.log.take()
        self._judge(block, result, raised, outputs)
        if result.status is Status.PASSED and raised is None:
            try:
                result.variables = self._variables(block, before)
            except _VariableError as exc:
                result.status, result.error, result.error_line = Status.FAILED, str(exc), exc.line
            except BaseException as exc:  # a value whose printout raises
                result.status = Status.FAILED
                result.error, result.error_line = self._format_traceback(exc, block)
        self.environment = describe(self.settings.library_packages)
        result.environment = self.environment
        result.duration = time.perf_counter() - started
        result = display.apply(block, result, self.settings)
        self.results[block.line] = result
        return result

    def _judge(self, block: Block, result: BlockResult, raised: BaseException | None, outputs: list[Any]) -> None:
        assert block.code is not None
        allowed = block.code.get("allow-exception")
        result.made = outputs
        if raised is not None:
            message = "".join(traceback.format_exception_only(type(raised), raised))
            if allowed is not None:
                wanted = allowed.args[0] if allowed.args else None
                if wanted is None or exception_matches(raised, wanted):
                    result.made = outputs + [out.error(type(raised).__name__, str(raised), message)]
                    return
            result.error, result.error_line = self._format_traceback(raised, block)
            result.status = Status.XFAILED if block.xfail else Status.FAILED
            if block.xfail:  # the reader sees the error message; the test report keeps the traceback
                result.made = outputs + [out.error(type(raised).__name__, str(raised), message)]
            return
        if allowed is not None:
            kind = allowed.args[0] if allowed.args else "an exception"
            result.status = Status.FAILED
            result.error_line = allowed.line
            result.error = f"the block was expected to raise {kind} ('# doc: allow-exception') but finished without one"
            return
        printed = out.text_of(outputs)
        if block.expected_stdout is not None and not expected_output_matches(block.expected_stdout, printed):
            import difflib

            diff = difflib.unified_diff(
                block.expected_stdout.strip("\n").splitlines(),
                printed.strip("\n").splitlines(),
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
        header = ""
        if isinstance(exc, DisplayError) and exc.__cause__ is not None:  # the formatter's error is the story
            header, exc = f"{exc}\n", exc.__cause__
        te = traceback.TracebackException.from_exception(exc)
        frames = list(te.stack)
        first = next((i for i, f in enumerate(frames) if f.filename == self.guide.path), None)
        if first is not None:
            frames = frames[first:]
        te.stack = traceback.StackSummary.from_list(frames)
        guide_lines = [f.lineno for f in frames if f.filename == self.guide.path and f.lineno]
        return header + "".join(te.format()), (guide_lines[-1] if guide_lines else block.code_line)

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
        bundle = lambda value: self.displays.bundle(value)[0]
        return [format_variable(name, self.namespace[name], packages, bundle) for name in names]

    def values(self, names: list[str]) -> dict[str, out.Output]:
        """Each expression in ``names`` (a prose role's text) evaluated in the namespace, as a display or an
        error record."""
        found: dict[str, out.Output] = {}
        for name in names:
            try:
                value = eval(compile(name, "<doc-value>", "eval", dont_inherit=True), self.namespace)
                data, metadata = self.displays.bundle(value)
                found[name] = out.display_data(data, metadata)
            except BaseException as exc:
                text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                found[name] = out.error(type(exc).__name__, str(exc), text)
        return found

    def report(self) -> WorkerReport:
        root = Path(self.request.root)
        written = bool(self.request.downloads) and self._write_downloads(Path(self.request.downloads))
        times = {**TIMES, "started": self.started}
        return WorkerReport(
            self.environment, tuple(loaded_packages()), first_party_files(root), time.monotonic(), written, times
        )

    def _write_downloads(self, target: Path) -> bool:
        """The guide as ``target.ipynb`` (with its outputs) and ``target.py``; False when that failed (the
        host then tries, and says why)."""
        from doc_runner import notebook

        name = Path(self.request.file).name
        try:
            nb = notebook.to_notebook(self.guide, self.results, self.settings, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.parent / f"{target.name}.ipynb").write_text(notebook.write_notebook(nb), encoding="utf-8")
            (target.parent / f"{target.name}.py").write_text(
                notebook.to_script(self.guide, self.settings, name), encoding="utf-8"
            )
        except Exception:
            return False
        return True


class _VariableError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def serve(conn: Connection, request: WorkerRequest, displays: Displays) -> None:
    """Answer the host's messages for one guide until it says ``finish``; then the process ends."""
    worker = GuideWorker(request, displays)
    conn.send(("started", os.getpid(), time.monotonic()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        kind = message[0]
        if kind == "run":
            conn.send(("result", worker.run(message[1])))
        elif kind == "run_all":  # each result as it comes; a failure ends the series (the rest are skipped)
            for block in message[1]:
                conn.send(("begin", block.line, time.monotonic()))  # the host's clock for its time limit
                result = worker.run(block)
                conn.send(("result", result))
                if result.status is Status.FAILED:
                    break
        elif kind == "values":
            conn.send(("values", worker.values(message[1])))
        elif kind == "finish":
            conn.send(("report", worker.report()))
            return
