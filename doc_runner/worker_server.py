"""The worker server: one pre-started interpreter that forks a fresh process for each guide.

Started by :mod:`doc_runner.worker_client` as ``python -c ...main()``, it imports the heavy modules once (the
pre-imports such as ``tripy`` and ``numpy``, IPython's display machinery), then waits on a Unix socket that
the host bound and handed over. Each connection is handed to a process of its own that serves one guide on
it (:func:`doc_runner.worker.serve`) while the server goes back to waiting. Giving it the connection, the
server first sends ``("turn",)`` on it (a queued guide may wait long for its turn); when that process ends,
it sends its exit status (``("exit", code)``, negative for a signal) on the guide's connection, so the
host can tell a crash from a clean end. The server ends when its standard input closes (the host went away),
killing the guides still running.

A connection is *queued* or *now* (the first byte the host sends): queued guides run ``jobs`` at a time, in
the order they came, the others at once.

The server keeps ``jobs`` processes (spares) forked ahead of need. Each has already done what every guide's
process does first and what cannot happen before a fork: it describes its environment, so the library
packages set up their backend (on a GPU: CUDA's context, cuBLAS, CuPy; CUDA does not survive a fork, so
the server itself never touches the device). A connection goes to the oldest spare, which receives it
(``SCM_RIGHTS``) and serves it; a new spare is forked at once, so it gets ready while the guides run. A
spare is a guide's process like any other: it serves one guide and ends.

A fork costs about a millisecond and starts from the imports done once; a Jupyter kernel or a fresh
interpreter would pay its start (0.3-0.7 s here) for every guide.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

#: Spares that end before a guide reached them (their set-up crashed) after which none are kept.
_SPARE_FAILURES = 3


def _preload(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the guide's process reports it when a block uses the name
            pass


def _spare(channel: socket.socket, displays: Any, close: list[int], warm: list[str]) -> None:
    """In the forked process: set up, wait for a guide's connection from the server, serve it, and end
    without returning to the server's loop."""
    code = 0
    forked = time.monotonic()
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in close:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        # Its own process group, so the host ends the guide and whatever it started; not its own session: the
        # guides stay in the server's, which the scheduler (autogroups) weighs as one against the host's.
        os.setpgid(0, 0)
        from doc_runner import environment, worker

        try:
            environment.describe(warm)  # what the guide's process does after its first block anyway
        except Exception:
            pass
        set_up = time.monotonic()
        _, fds, _, _ = socket.recv_fds(channel, 16, 1)
        worker.TIMES.update(forked=forked, set_up=set_up, given=time.monotonic())
        if not fds:  # the server went away before a guide came
            os._exit(0)
        channel.close()
        conn = Connection(fds[0])
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the host gave up on the guide
            os._exit(0)
        if request[0] == "guide":
            worker.serve(conn, request[1], displays)
    except BaseException:
        code = 70
        try:
            os.write(2, traceback.format_exc().encode())
        except OSError:
            pass
    finally:
        os._exit(code)


class _Server:
    """The server's state: its listener, the guides' processes by pid, and the spares."""

    def __init__(self, config: dict[str, Any], displays: Any) -> None:
        self.listener = socket.socket(fileno=config["listen_fd"])
        self.displays = displays
        self.warm: list[str] = list(config.get("warm", []))
        #: guides run at once (queued ones wait for a turn), and spares kept
        self.jobs = self.target = int(config.get("jobs", 1))
        #: queued guides' connections waiting for their turn, in order
        self.queue: list[socket.socket] = []
        self.failures = 0
        #: pid -> the connection of the guide it serves
        self.children: dict[int, Connection] = {}
        #: (pid, channel) of the spares, oldest first
        self.spares: list[tuple[int, socket.socket]] = []
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_write, False)
        self.selector = selectors.DefaultSelector()

    def fork_spare(self, *also_close: int) -> tuple[int, socket.socket]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            close = [self.listener.fileno(), self.wake_read, self.wake_write, self.selector.fileno(), ours.fileno()]
            close += also_close
            close += [conn.fileno() for conn in self.children.values()] + [q.fileno() for q in self.queue]
            close += [channel.fileno() for _, channel in self.spares]
            _spare(theirs, self.displays, close, self.warm)
        theirs.close()
        return pid, ours

    def replenish(self) -> None:
        while len(self.spares) < self.target:
            self.spares.append(self.fork_spare())

    def hand_over(self, sock: socket.socket) -> None:
        """Give a guide's connection to the oldest spare (or a process forked for it now)."""
        pid, channel = self.spares.pop(0) if self.spares else self.fork_spare(sock.fileno())
        conn = Connection(sock.detach())
        try:
            conn.send(("turn",))  # the host waits for its process to start from now on
            socket.send_fds(channel, [b"g"], [conn.fileno()])
        except OSError:  # the host went away, or the spare has just died (its exit status follows)
            pass
        channel.close()
        self.children[pid] = conn
        self.replenish()

    def reap(self) -> None:
        while self.children or self.spares:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in self.children:
                conn = self.children.pop(pid)
                try:
                    conn.send(("exit", os.waitstatus_to_exitcode(status)))
                except OSError:
                    pass
                conn.close()
            else:
                for spare in [s for s in self.spares if s[0] == pid]:  # died before a guide came
                    self.spares.remove(spare)
                    spare[1].close()
                    self.failures += 1
                    if self.failures >= _SPARE_FAILURES:
                        self.target = 0

    def end(self) -> None:
        for pid in [*self.children, *(pid for pid, _ in self.spares)]:  # queued guides never started
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(0)

    def serve_forever(self) -> None:
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ)
        self.selector.register(self.wake_read, selectors.EVENT_READ)
        self.replenish()
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.listener:
                    sock, _ = self.listener.accept()
                    kind = sock.recv(1)  # the host sends it with the connection: b"q" queued, b"n" now
                    if kind == b"q" and (self.queue or len(self.children) >= self.jobs > 0):
                        self.queue.append(sock)
                    elif kind:
                        self.hand_over(sock)
                    else:
                        sock.close()
                elif key.fileobj == sys.stdin.fileno():
                    if not os.read(sys.stdin.fileno(), 4096):
                        self.end()
                else:
                    os.read(self.wake_read, 4096)
            self.reap()
            while self.queue and len(self.children) < max(self.jobs, 1):
                self.hand_over(self.queue.pop(0))


def main() -> None:
    config = json.loads(sys.stdin.readline())
    sys.path[:] = config["sys_path"]
    _preload(config["preload"])
    from doc_runner import environment, notebook, worker  # noqa: F401 - imported once, here, for every guide
    from doc_runner.bundles import Displays

    displays = Displays(config["figure_format"])
    # What every guide's process would otherwise work out for itself: the folder of its output files, and
    # the Python version and platform (the library packages' part waits for the fork: see _spare).
    tempfile.gettempdir()
    environment.describe(())
    environment.remember_loaded_files()  # forked guides inherit what is known: less to read per guide
    environment.snapshot_modules()
    gc.freeze()  # the imported objects are never collected: forked processes leave their pages shared
    _Server(config, displays).serve_forever()


if __name__ == "__main__":
    main()
