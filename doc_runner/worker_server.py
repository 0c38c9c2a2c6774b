"""The worker server: one pre-started interpreter that forks a fresh process for each guide.

Started by :mod:`doc_runner.worker_client` as ``python -c ...main()``, it imports the heavy modules once (the
pre-imports such as ``tripy`` and ``numpy``, IPython's display machinery), then waits on a Unix socket that
the host bound and handed over. Each connection brings a request; the server forks, and the child serves
it on that connection (:func:`doc_runner.worker.serve`) while the server goes back to waiting. When a child
ends, the server sends its exit status (``("exit", code)``, negative for a signal) on the child's
connection, so the host can tell a crash from a clean end. The server ends when its standard input closes
(the host went away), killing the guides still running.

A fork costs about a millisecond and starts from the imports done once; a Jupyter kernel or a fresh
interpreter would pay its start (0.3-0.7 s here) for every guide.
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any


def _preload(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the guide's process reports it when a block uses the name
            pass


def _child(conn: Connection, request: tuple[Any, ...], displays: Any, keep: list[int]) -> None:
    """In the forked process: serve one request, then end without returning to the server's loop."""
    code = 0
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in keep:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.setsid()  # its own process group: the host ends the guide and whatever it started
        from doc_runner import worker

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


def main() -> None:
    config = json.loads(sys.stdin.readline())
    sys.path[:] = config["sys_path"]
    listener = socket.socket(fileno=config["listen_fd"])
    _preload(config["preload"])
    from doc_runner import environment, worker  # noqa: F401 - imported once, here, for every guide
    from doc_runner.bundles import Displays

    displays = Displays(config["figure_format"])
    environment.remember_loaded_files()  # forked guides inherit what is known: less to read per guide
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    children: dict[int, Connection] = {}
    keep = [listener.fileno(), wake_read, wake_write, selector.fileno()]
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                sock, _ = listener.accept()
                conn = Connection(sock.detach())
                try:
                    request = conn.recv()
                except (EOFError, OSError):
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    for other in children.values():
                        other.close()
                    _child(conn, request, displays, keep)
                children[pid] = conn
            elif key.fileobj == sys.stdin.fileno():
                if not os.read(sys.stdin.fileno(), 4096):
                    for pid in children:
                        try:
                            os.killpg(pid, signal.SIGKILL)
                        except OSError:
                            pass
                    os._exit(0)
            else:
                os.read(wake_read, 4096)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in children:
                conn = children.pop(pid)
                try:
                    conn.send(("exit", os.waitstatus_to_exitcode(status)))
                except OSError:
                    pass
                conn.close()


if __name__ == "__main__":
    main()
