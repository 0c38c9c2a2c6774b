"""The host's side of the engine: start the worker server, open a process per guide, and turn a process
that died or ran out of time into a block's failure at its ``file:line``.

Sphinx and pytest (the hosts) never run guide code: they send blocks to a guide's process and receive
:class:`~doc_runner.result.BlockResult` s. One worker server per interpreter setup (``sys.path``,
environment, pre-imports, figure format) is started on first use and shared by the threads and the forked
processes (``sphinx-build -j``) of the host; it ends when the host does. It keeps processes forked and set up
ahead of need (spares, see :mod:`doc_runner.worker_server`): as many as the guides the host runs at once.
A guide can also be *queued* (:meth:`GuideProcess.send_ahead`): everything it runs is sent at once, its process
runs when its turn comes, and the host reads the results when it needs them, keeping the time limits by the
process's own clock; Sphinx reads documents meanwhile.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from doc_runner.reader import Block
from doc_runner.result import BlockResult, Status
from doc_runner.settings import Settings
from doc_runner.worker import STACK_SIGNAL, WorkerReport, WorkerRequest, block_timeout

#: Seconds the host waits for a guide's process that it killed to be reported ended.
GRACE = 5.0
#: Seconds a timed-out guide's process is given to write its Python stacks before it is killed.
STACK_WAIT = 0.3
#: Seconds a guide's process may take to start (the server may still be importing).
START_TIMEOUT = 300.0
_ENGINE_FILES = re.compile(r"doc_runner[/\\](worker|worker_server|bundles|capture)\.py")


class WorkerError(Exception):
    """The worker server could not be started or reached."""


class WorkerServer:
    """One running worker server: a pre-started interpreter forking a process per guide."""

    #: servers started by this process (each setup of the host starts its own)
    started = 0

    def __init__(self, settings: Settings, jobs: int = 1) -> None:
        WorkerServer.started += 1
        self.folder = tempfile.mkdtemp(prefix="doc_runner-")
        self.address = os.path.join(self.folder, "server.sock")
        self.owner = os.getpid()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.address)
        listener.listen(256)
        self.log_path = os.path.join(self.folder, "server.log")
        config = {
            "sys_path": sys.path,
            "preload": ["numpy", *settings.pre_imports.values()],
            "figure_format": settings.figure_format,
            "listen_fd": listener.fileno(),
            "warm": list(settings.library_packages),
            "jobs": jobs,
        }
        package_root = str(Path(__file__).resolve().parents[1])
        start = f"import sys; sys.path.insert(0, {package_root!r}); from doc_runner.worker_server import main; main()"
        env = _server_environment()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", start],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                pass_fds=[listener.fileno()],
                env=env,
                start_new_session=True,
            )
        listener.close()
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(config).encode() + b"\n")
        self.process.stdin.flush()

    def alive(self) -> bool:
        return self.process.poll() is None if self.owner == os.getpid() else os.path.exists(self.address)

    def failure(self) -> str:
        """Why the server is not answering: its exit status and the end of its log."""
        status = self.process.poll() if self.owner == os.getpid() else None
        try:
            log = Path(self.log_path).read_text(errors="replace")[-4000:]
        except OSError:
            log = ""
        return f"the doc_runner worker server ended (exit status {status}){': ' + log if log.strip() else ''}"

    def connect(self, request: tuple[Any, ...], queued: bool = False) -> Connection:
        """A connection to a new process of the server's, which serves ``request`` on it. A ``queued`` one
        waits its turn behind the queued ones before it while the server runs ``jobs`` of them."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.address)
            sock.sendall(b"q" if queued else b"n")
        except OSError as exc:
            sock.close()
            raise WorkerError(f"cannot reach the doc_runner worker server: {exc}; {self.failure()}") from exc
        conn = Connection(sock.detach())
        conn.send(request)
        return conn

    def close(self) -> None:
        """End the server (and any guide still running): closing its input tells it to go."""
        if self.owner != os.getpid():
            return
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(0.2)
        except (OSError, subprocess.TimeoutExpired):  # still importing: nothing of value is lost
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _server_environment() -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


#: Starts each line of the short-lived interpreter's answers (a library may print at import).
_ANSWER = "doc_runner-answer "


def describe_environment(packages: tuple[str, ...], release: threading.Event | None = None) -> Iterator[dict[str, Any]]:
    """The environment a guide runs in (Python, platform, the library's backend and device), then what is
    installed (:func:`doc_runner.environment.installed_distributions`), asked of a short-lived interpreter set
    up as guides' processes are (it imports only the library packages), so checking stored results neither
    waits for the worker server nor runs anything in the host. The first answer comes as soon as it is known;
    the interpreter reads what is installed (about 0.3 s of a core) once ``release`` is set (default: at once),
    so a build can keep the cores for its guides while it does not need the list yet."""
    package_root = str(Path(__file__).resolve().parents[1])
    code = (
        "import os; os.nice(10); "  # the host's own work comes first (it shares the host's scheduling group)
        f"import json, sys; sys.path[:] = {sys.path!r}; sys.path.insert(0, {package_root!r}); "
        f"from doc_runner.environment import describe, installed_distributions; "
        f"print({_ANSWER!r} + json.dumps(describe({tuple(packages)!r})), flush=True); "
        "sys.stdin.read(); "  # until the host releases it (closes its input)
        f"print({_ANSWER!r} + json.dumps(installed_distributions()), flush=True)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
        env=_server_environment(),
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    if release is None:
        process.stdin.close()
    _ASKING.append(process)
    try:
        for answer in range(2):
            if answer and release is not None:
                release.wait()
                process.stdin.close()
            timer = threading.Timer(START_TIMEOUT, process.kill)
            timer.start()
            try:
                line = process.stdout.readline()
                while line and not line.startswith(_ANSWER):
                    line = process.stdout.readline()
            finally:
                timer.cancel()
            if not line:
                process.wait()
                raise WorkerError(f"describing the environment failed: {process.stderr.read().strip()[-2000:]}")
            yield json.loads(line[len(_ANSWER) :])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()
        _ASKING.remove(process)


#: The short-lived interpreters still answering (ended when the host ends).
_ASKING: list[subprocess.Popen[str]] = []


_SERVERS: dict[str, WorkerServer] = {}
_LOCK = threading.Lock()


def _key(settings: Settings) -> str:
    return json.dumps(
        [sys.executable, sys.path, os.getcwd(), sorted(os.environ.items()), dict(settings.pre_imports)]
        + [settings.figure_format, list(settings.library_packages)]
    )


def server_for(settings: Settings, jobs: int = 1) -> WorkerServer:
    """The worker server for the host's current setup and ``settings``, started on first use for ``jobs``
    guides at once: it keeps that many processes ready and runs that many queued guides at once."""
    key = _key(settings)
    with _LOCK:
        server = _SERVERS.get(key)
        if server is None or not server.alive():
            for other in [k for k in _SERVERS if k != key][:-1]:  # keep at most one other setup running
                _SERVERS.pop(other).close()
            server = _SERVERS[key] = WorkerServer(settings, jobs)
        return server


@atexit.register
def close_servers() -> None:
    """End the servers this process started, and the interpreters still describing the environment."""
    for process in list(_ASKING):
        if process.poll() is None:
            process.kill()
    for server in list(_SERVERS.values()):
        server.close()
    _SERVERS.clear()


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def stack_dump(text: str, path: str) -> tuple[str, int]:
    """A faulthandler dump without doc_runner's own frames, and the guide line it was at (0: none)."""
    kept = [
        line
        for line in text.splitlines()
        if not _ENGINE_FILES.search(line)
        and line.strip() != 'File "<string>", line 1 in <module>'  # the server's start command
        and not line.startswith("Extension modules:")
    ]
    lines = re.findall(rf'File "{re.escape(path)}", line (\d+)', text)
    return "\n".join(kept).strip(), (int(lines[0]) if lines else 0)


class GuideProcess:
    """One guide's process, seen from the host: send blocks, receive their results.

    ``queued``: the process starts when the server's queue reaches it, and the host does not wait for it
    here; :meth:`send_ahead` then sends all that it runs, and the usual calls read the answers."""

    def __init__(self, request: WorkerRequest, queued: bool = False, server: WorkerServer | None = None) -> None:
        self.request = request
        self.settings = request.settings
        #: when the process started (its own clock; the guide's time limit counts from it)
        self.started = time.monotonic()
        self.pid = 0
        #: set when the process has ended before its guide did: the error of the block it ended in
        self.ended: str | None = None
        self.report = WorkerReport()
        #: what :meth:`send_ahead` sent, so the calls that read the answers do not send it again
        self._sent: set[str] = set()
        server = server or server_for(self.settings)
        self.server = server
        self.queued = queued
        self.conn = server.connect(("guide", request), queued)
        if not queued:
            self.wait_started()

    def wait_started(self) -> None:
        """Wait for the process to start (WorkerError when it did not)."""
        if self.pid:
            return
        message = self._receive(None if self.queued else START_TIMEOUT)  # its turn, behind other guides
        if message is not None and message[0] == "turn":
            message = self._receive(START_TIMEOUT)  # then its start
        if message is None or message[0] != "started":
            status = message[1] if message else "none"
            raise WorkerError(f"the guide's process did not start (exit status {status}); {self.server.failure()}")
        self.pid = message[1]
        self.started = message[2]

    def send_ahead(self, blocks: list[Block], names: list[str]) -> None:
        """Send all the process will do: run ``blocks``, evaluate the prose values ``names``, finish."""
        self._send(("run_all", blocks))
        self._sent.add("run_all")
        if names:
            self._send(("values", names))
            self._sent.add("values")
        self._send(("finish",))
        self._sent.add("finish")

    def _receive(self, timeout: float | None) -> tuple[Any, ...] | None:
        """The next message, or None when the time ran out; ``("exit", status)`` when the process ended."""
        try:
            if timeout is not None and not self.conn.poll(timeout):
                return None
            return self.conn.recv()
        except (EOFError, OSError):
            return ("exit", None)

    def _limit(self, block: Block, began: float) -> tuple[float, str]:
        """The time the block, begun at ``began``, may take and which setting said so."""
        own = block_timeout(block, self.settings)
        name = "'# doc: timeout'" if block.code is not None and block.code.get("timeout") else "doc_runner_timeout"
        if self.settings.guide_timeout > 0:
            left = self.settings.guide_timeout - (began - self.started)
            if own <= 0 or left < own:
                return max(left, 0.001), "doc_runner_guide_timeout, for the whole guide"
        return own, name

    def run(self, block: Block) -> BlockResult:
        """Run ``block`` in the guide's process; a process that dies or hangs is the block's failure."""
        if self.ended is not None:
            return self._skipped(block)
        self._send(("run", block))
        return self._result(block)

    def run_all(self, blocks: list[Block]) -> list[BlockResult]:
        """Run ``blocks`` in order, sent at once (no round trip per block); up to the first failure."""
        if self.ended is not None or not blocks:
            return [self._skipped(block) for block in blocks]
        if "run_all" not in self._sent:
            self._send(("run_all", blocks))
        results = []
        for block in blocks:
            results.append(self._result(block))
            if results[-1].status is Status.FAILED:
                break
        return results

    def _skipped(self, block: Block) -> BlockResult:
        result = BlockResult(self.request.guide.path, block.line, Status.SKIPPED, code=block.shown_source)
        result.error = self.ended
        return result

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except OSError:
            pass  # the process is gone: its exit status follows

    def _result(self, block: Block) -> BlockResult:
        """The result of ``block``, which the process is running now, within its time limit (counted from
        the block's start in the process: the host may come to read it later)."""
        where = f"{self.request.guide.path}:{block.line}"
        result = BlockResult(self.request.guide.path, block.line, Status.FAILED, code=block.shown_source)
        began = time.monotonic()
        limit, name = self._limit(block, began)
        left = None if limit <= 0 else limit
        message = self._receive(left)
        while message is not None and message[0] == "begin":
            began = message[2]
            limit, name = self._limit(block, began)
            message = self._receive(None if limit <= 0 else max(began + limit - time.monotonic(), 0.0))
        if message is not None and message[0] == "result":
            return message[1]
        timed_out = message is None
        if message is None:  # out of time: take its Python stacks (a C-level signal handler), then end it
            self._signal(STACK_SIGNAL)
            time.sleep(STACK_WAIT)
            self.kill()
            message = self._receive(GRACE) or ("exit", None)
        status = message[1]
        dump, line = self._dump()
        result.duration = time.monotonic() - began
        result.error_line = line or block.code_line
        if timed_out:
            result.error = (
                f"the block at {where} did not finish within {limit:g} s ({name}); its process was ended.\n"
                + (f"Where it was:\n{dump}\n" if dump else "No Python stack could be taken.\n")
            )
        else:
            how = (
                f"killed by {_signal_name(status)}"
                if isinstance(status, int) and status < 0
                else f"exit status {status}"
                if status is not None
                else "its connection closed"
            )
            result.error = f"the guide's process ended while running the block at {where} ({how}).\n" + (
                f"{dump}\n" if dump else ""
            )
        self.ended = f"skipped: the guide's process ended in the block at {where}"
        return result

    def _dump(self) -> tuple[str, int]:
        try:
            text = Path(self.request.dump_path).read_text(errors="replace")
        except OSError:
            return "", 0
        return stack_dump(text, self.request.guide.path)

    def values(self, names: list[str]) -> dict[str, Any]:
        """The prose values ``names`` in the guide's namespace (after its last block)."""
        if self.ended is not None or not names:
            return {}
        if "values" not in self._sent:
            try:
                self.conn.send(("values", names))
            except OSError:
                return {}
        message = self._receive(max(self.settings.timeout, 0) + GRACE if self.settings.timeout else None)
        return message[1] if message is not None and message[0] == "values" else {}

    def finish(self) -> WorkerReport:
        """End the process; what it loaded (empty when it had ended already)."""
        if self.ended is None:
            try:
                if "finish" not in self._sent:
                    self.conn.send(("finish",))
                message = self._receive(60)
                if message is not None and message[0] == "report":
                    self.report = message[1]
            except OSError:
                pass
        self.close()
        return self.report

    def _signal(self, signum: int) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signum)
            except OSError:
                pass

    def kill(self) -> None:
        """End the guide's process and whatever it started."""
        if self.pid:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass

    def close(self) -> None:
        if self.ended is None and self.pid and self.conn is not None:
            self.ended = "the guide's process was closed"
        try:
            self.conn.close()
        except OSError:
            pass
        try:
            os.unlink(self.request.dump_path)
        except OSError:
            pass
