"""The one executor: runs a guide's blocks in order, in a process of the guide's own.

:class:`GuideRun` is what Sphinx and pytest use: it starts the guide's process on the first block that
runs (:mod:`doc_runner.worker_client`), sends it blocks and keeps their results; after a failure the rest
are skipped. :func:`run_guides` runs several guides at once, one process each.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from doc_runner.reader import Block, Guide
from doc_runner.result import BlockResult, Status
from doc_runner.settings import Settings
from doc_runner.worker import WorkerReport, WorkerRequest, expected_output_matches
from doc_runner.worker_client import GuideProcess, WorkerError, server_for

__all__ = ["GuideRun", "expected_output_matches", "run_guide", "run_guides", "default_jobs"]


def default_jobs() -> int:
    """Guides run at once by default: one per CPU core this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class GuideRun:
    """Executes the blocks of one :class:`Guide` in order in the guide's own process.

    ``file`` is the guide's file (its folder becomes the working directory; default: ``guide.path``);
    ``root`` the source tree whose modules count as first-party (default: the working directory). Use as a
    context manager (or call :meth:`close`) so the process ends; :attr:`report` then says what it loaded.
    """

    def __init__(
        self, guide: Guide, settings: Settings | None = None, file: str | Path | None = None, root: str | Path = ""
    ) -> None:
        self.guide = guide
        self.settings = settings or Settings()
        self.file = str(Path(file if file is not None else guide.path).resolve())
        self.root = str(Path(root or os.getcwd()).resolve())
        #: the first block that failed; later blocks are skipped because of it
        self.failure: BlockResult | None = None
        #: results so far, by the block's line
        self.results: dict[int, BlockResult] = {}
        #: what the guide's process loaded (after :meth:`close`)
        self.report = WorkerReport()
        #: outputs of the prose values (``{doc-value}`` roles), taken by :meth:`finish`
        self.prose_values: dict[str, Any] = {}
        #: seconds from asking for the guide's process to its end (its start included; a queued guide's from
        #: its start, as it waited for its turn before)
        self.wall = 0.0
        self._names: list[str] | None = None
        self._queued = False
        #: where the guide's process writes the guide as a notebook and a script (see ``WorkerRequest``)
        self.downloads = ""
        self._process: GuideProcess | None = None
        self._start_error: str | None = None
        self._asked = 0.0

    def __enter__(self) -> GuideRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process is not None:
            process = self._process
            self.report = process.finish()
            self._process = None
            began = process.started if self._queued else self._asked
            self.wall = (self.report.ended or time.monotonic()) - began

    def _started(self, queued: bool = False) -> GuideProcess | None:
        if self._process is None and self._start_error is None:
            self._asked, self._queued = time.monotonic(), queued
            server = server_for(self.settings)
            dump = os.path.join(server.folder, f"dump-{uuid.uuid4().hex}.txt")
            request = WorkerRequest(self.guide, self.file, self.root, self.settings, dump, self.downloads)
            try:
                self._process = GuideProcess(request, queued, server)
            except WorkerError as exc:
                self._start_error = str(exc)
        elif self._process is not None and not self._process.pid:  # queued: wait for it to start now
            try:
                self._process.wait_started()
            except WorkerError as exc:
                self._start_error = str(exc)
                self._process.close()
                self._process = None
        return self._process

    def answered(self) -> bool:
        """Whether the guide's process has said something the host has not read yet (a queued guide's
        results are on their way), without waiting."""
        process = self._process
        try:
            return process is not None and process.conn.poll(0)
        except OSError:
            return True

    def queue(self, value_names: Iterable[str] = ()) -> None:
        """Queue the guide on the worker server and send everything it runs at once, without waiting: its
        process runs when its turn comes (``jobs`` at a time, in the order queued), and :meth:`run_all`,
        :meth:`finish` then read what it did. Time limits count from each block's start in the process."""
        if self.settings.execution_mode == "off" or not self.guide.runnable_blocks or self._asked:
            return  # nothing to run, or it was started already
        self._names = sorted(set(value_names))
        process = self._started(queued=True)
        if process is not None:
            process.send_ahead(self.guide.runnable_blocks, self._names)

    def run_all(self) -> list[BlockResult]:
        """Run every runnable block; after a failure the rest are SKIPPED (or NOT_RUN when off). The blocks
        go to the guide's process at once, so a block costs no round trip."""
        blocks = self.guide.runnable_blocks
        if self.settings.execution_mode != "off" and not self.results and self.failure is None:
            process = self._started()
            if process is not None:
                for block, result in zip(blocks, process.run_all(blocks), strict=False):
                    self.results[block.line] = result
                    if result.status is Status.FAILED:
                        self.failure = result
        return [self.results[block.line] if block.line in self.results else self.run(block) for block in blocks]

    def run(self, block: Block) -> BlockResult:
        """Run one block (it must be ``block.runs``) and return what happened."""
        assert block.code is not None and block.runs, "only runnable Python blocks execute"
        if self.settings.execution_mode == "off":
            result = BlockResult(self.guide.path, block.line, Status.NOT_RUN, code=block.shown_source)
        elif self.failure is not None:
            result = BlockResult(self.guide.path, block.line, Status.SKIPPED, code=block.shown_source)
            result.skipped_because = self.failure.line
            result.error = f"skipped: the block at {self.guide.path}:{self.failure.line} failed"
        else:
            process = self._started()
            if process is None:
                result = BlockResult(self.guide.path, block.line, Status.FAILED, code=block.shown_source)
                result.error, result.error_line = f"the guide could not be run: {self._start_error}", block.line
            else:
                result = process.run(block)
                if result.status is Status.SKIPPED:  # its process ended in an earlier (expected) failure
                    result.skipped_because = next(
                        (line for line, r in self.results.items() if r.status is Status.XFAILED), block.line
                    )
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

    def finish(self, value_names: Iterable[str] = ()) -> None:
        """Evaluate the prose values ``value_names`` after the blocks that ran, then end the process (a queued
        guide evaluates those it was queued with)."""
        names = self._names if self._names is not None else sorted(set(value_names))
        if self._process is not None and names:
            self.prose_values = self._process.values(names)
        self.close()


def run_guide(guide: Guide, settings: Settings | None = None, file: str | Path | None = None) -> list[BlockResult]:
    """Run all of ``guide``'s runnable blocks in a fresh process and return their results."""
    with GuideRun(guide, settings, file) as run:
        return run.run_all()


def run_guides(
    runs: list[GuideRun],
    jobs: int = 0,
    value_names: Callable[[GuideRun], Iterable[str]] | None = None,
    done: Callable[[GuideRun], None] | None = None,
) -> None:
    """Run each :class:`GuideRun` to its end, ``jobs`` at once (0: one per core), each in its process.

    ``value_names(run)`` names the prose values to take from a guide's namespace (:meth:`GuideRun.finish`);
    ``done(run)`` is called as each guide finishes.
    """

    def one(run: GuideRun) -> None:
        try:
            run.run_all()
            run.finish(value_names(run) if value_names is not None else ())
        finally:
            run.close()
        if done is not None:
            done(run)

    jobs = jobs or default_jobs()
    if runs and runs[0].settings.execution_mode != "off":  # as many processes set up ahead as run at once
        server_for(runs[0].settings, jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(one, run) for run in runs]:
            future.result()
