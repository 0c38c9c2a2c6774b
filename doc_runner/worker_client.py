"""The host's side of the engine: start the worker server, open a process per guide, and turn a process
that died or ran out of time into a block's failure at its ``file:line``.

Sphinx and pytest (the hosts) never run guide code: they send blocks to a guide's process and receive
:class:`~doc_runner.result.BlockResult` s. One worker server per interpreter setup (``sys.path``,
environment, pre-imports, figure format) is started on first use and shared by the threads and the forked
processes (``sphinx-build -j``) of the host; it ends when the host does. It keeps processes forked and set up
ahead of need (``spares``, see :mod:`doc_runner.worker_server`): as many as the guides the host runs at once.
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

    def __init__(self, settings: Settings, spares: int = 1) -> None:
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
            "spares": spares,
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

    def connect(self, request: tuple[Any, ...]) -> Connection:
        """A connection to a new process of the server's, which serves ``request`` on it."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.address)
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


def describe_environment(packages: tuple[str, ...]) -> dict[str, str]:
    """The environment a guide runs in (Python, platform, the library's backend and device), asked of a
    short-lived interpreter set up as guides' processes are (it imports only the library packages), so
    checking stored results neither waits for the worker server nor runs anything in the host."""
    package_root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import json, sys; sys.path[:] = {sys.path!r}; sys.path.insert(0, {package_root!r}); "
        f"from doc_runner.environment import describe; print(json.dumps(describe({tuple(packages)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_server_environment(), timeout=START_TIMEOUT
    )
    if done.returncode != 0:
        raise WorkerError(f"describing the environment failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


_SERVERS: dict[str, WorkerServer] = {}
_LOCK = threading.Lock()


def _key(settings: Settings) -> str:
    return json.dumps(
        [sys.executable, sys.path, os.getcwd(), sorted(os.environ.items()), dict(settings.pre_imports)]
        + [settings.figure_format, list(settings.library_packages)]
    )


def server_for(settings: Settings, spares: int = 1) -> WorkerServer:
    """The worker server for the host's current setup and ``settings``, started on first use with ``spares``
    processes kept ready (the guides the host runs at once)."""
    key = _key(settings)
    with _LOCK:
        server = _SERVERS.get(key)
        if server is None or not server.alive():
            for other in [k for k in _SERVERS if k != key][:-1]:  # keep at most one other setup running
                _SERVERS.pop(other).close()
            server = _SERVERS[key] = WorkerServer(settings, spares)
        return server


@atexit.register
def close_servers() -> None:
    """End the servers this process started."""
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
    """One guide's process, seen from the host: send blocks, receive their results."""

    def __init__(self, request: WorkerRequest) -> None:
        self.request = request
        self.settings = request.settings
        self.started = time.monotonic()
        self.pid = 0
        #: set when the process has ended before its guide did: the error of the block it ended in
        self.ended: str | None = None
        self.report = WorkerReport()
        server = server_for(self.settings)
        self.server = server
        self.conn = server.connect(("guide", request))
        message = self._receive(START_TIMEOUT)
        if message is None or message[0] != "started":
            status = message[1] if message else "none"
            raise WorkerError(f"the guide's process did not start (exit status {status}); {server.failure()}")
        self.pid = message[1]

    def _receive(self, timeout: float | None) -> tuple[Any, ...] | None:
        """The next message, or None when the time ran out; ``("exit", status)`` when the process ended."""
        try:
            if timeout is not None and not self.conn.poll(timeout):
                return None
            return self.conn.recv()
        except (EOFError, OSError):
            return ("exit", None)

    def _limit(self, block: Block) -> tuple[float, str]:
        """The time the block may take and which setting said so."""
        own = block_timeout(block, self.settings)
        name = "'# doc: timeout'" if block.code is not None and block.code.get("timeout") else "doc_runner_timeout"
        if self.settings.guide_timeout > 0:
            left = self.settings.guide_timeout - (time.monotonic() - self.started)
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
        """The result of ``block``, which the process is running now, within its time limit."""
        where = f"{self.request.guide.path}:{block.line}"
        result = BlockResult(self.request.guide.path, block.line, Status.FAILED, code=block.shown_source)
        limit, name = self._limit(block)
        started = time.perf_counter()
        message = self._receive(limit if limit > 0 else None)
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
        result.duration = time.perf_counter() - started
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
