"""The worker server's spares: processes forked and set up before a guide asks, each serving one guide."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import textwrap
from pathlib import Path

import pytest

from doc_runner.execute import GuideRun
from doc_runner.reader import read_guide
from doc_runner.result import Status
from doc_runner.settings import Settings
from doc_runner.worker_client import describe_environment, server_for

#: A library whose environment hook notes the process it was called in (what a GPU library sets up there).
WARMLIB = """
import os

CALLED_IN = []


def __doc_runner_environment__():
    CALLED_IN.append(os.getpid())
    return {"backend": "warm", "device": "test"}
"""

GUIDE = """
# Probe

```py
import colorsys, os
print("set up before the first block, in this process:", warmlib.CALLED_IN[:1] == [os.getpid()])
print("pid", os.getpid())
warmlib.CALLED_IN.append("changed by this guide")
```
"""


@pytest.fixture
def warm_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    (tmp_path / "lib" / "warmlib").mkdir(parents=True)
    (tmp_path / "lib" / "warmlib" / "__init__.py").write_text(WARMLIB, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))  # the server's sys.path is the host's
    return Settings(pre_imports={"warmlib": "warmlib"}, library_packages=("warmlib",), timeout=30)


def _run(path: Path, settings: Settings) -> list[str]:
    guide = read_guide(path, display_path=path.name)
    with GuideRun(guide, settings, path, path.parent) as run:
        (result,) = run.run_all()
    assert result.status is Status.PASSED, result.error
    assert result.environment == {**result.environment, "backend": "warm", "device": "test"}
    # what the process loaded, the server's imports included: the library (first-party here) and what the guide imported
    assert "lib/warmlib/__init__.py" in run.report.first_party, run.report.first_party
    assert {"warmlib", "colorsys", "numpy"} <= set(run.report.modules)
    times = run.report.times  # the process's own clock: forked, set up, given the guide, started it, ended
    assert times["forked"] <= times["set_up"] <= times["given"] <= times["started"] <= run.report.ended, times
    return result.output.splitlines()


def test_each_guide_gets_a_process_of_its_own_set_up_before_its_first_block(tmp_path, warm_settings):
    server_for(warm_settings, 2)
    path = tmp_path / "probe.md"
    path.write_text(textwrap.dedent(GUIDE).lstrip(), encoding="utf-8")
    first, second, third = (_run(path, warm_settings) for _ in range(3))
    for lines in (first, second, third):  # and what the previous guide did to the library is not seen
        assert lines[0] == "set up before the first block, in this process: True", lines
    pids = {first[1], second[1], third[1]}
    assert len(pids) == 3 and f"pid {os.getpid()}" not in pids


def test_the_server_keeps_its_spares_ready_while_a_guide_runs(tmp_path, warm_settings):
    server = server_for(warm_settings, 2)
    path = tmp_path / "probe.md"
    path.write_text(
        "# Count\n\n```py\nimport os\nparent = os.getppid()\n"
        "print(len(open(f'/proc/{parent}/task/{parent}/children').read().split()))\n```\n",
        encoding="utf-8",
    )
    guide = read_guide(path, display_path=path.name)
    with GuideRun(guide, warm_settings, path, tmp_path) as run:
        (result,) = run.run_all()
    assert result.status is Status.PASSED, result.error
    # while the guide runs, the server has forked it and two spares for the guides that come next
    assert int(result.output) >= 3, result.output
    assert server.alive()


def _run_of(tmp_path: Path, name: str, code: str, settings: Settings) -> GuideRun:
    path = tmp_path / name
    path.write_text(f"# {name}\n\n```py\n{code}\n```\n", encoding="utf-8")
    return GuideRun(read_guide(path, display_path=name), settings, path, tmp_path)


def test_queued_guides_run_one_job_at_a_time_in_order_while_the_host_reads_later(tmp_path):
    settings = Settings(pre_imports={"np": "numpy", "queue_test": "json"}, library_packages=(), timeout=30)
    server_for(settings, 1)  # one guide at a time
    code = "import time\nbegan = time.monotonic()\ntime.sleep(0.2)\nprint(began, time.monotonic())"
    runs = [_run_of(tmp_path, f"g{i}.md", code, settings) for i in range(3)]
    for run in runs:
        run.queue()
    spans = []
    for run in runs:
        (result,) = run.run_all()
        run.finish()
        assert result.status is Status.PASSED, result.error
        spans.append([float(x) for x in result.output.split()])
    assert spans[0][1] <= spans[1][0] and spans[1][1] <= spans[2][0], spans


def test_a_guide_run_now_does_not_wait_behind_the_queued_ones(tmp_path):
    settings = Settings(pre_imports={"np": "numpy", "now_test": "json"}, library_packages=(), timeout=30)
    server_for(settings, 1)
    flag = tmp_path / "flag"
    wait = f"import os, time\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.01)"
    waiting = _run_of(tmp_path, "waits.md", wait, settings)
    waiting.queue()  # it holds the only turn until the flag exists
    with _run_of(tmp_path, "now.md", f"open({str(flag)!r}, 'w').close()", settings) as now:
        (made,) = now.run_all()
    (waited,) = waiting.run_all()
    waiting.finish()
    assert made.status is waited.status is Status.PASSED, (made.error, waited.error)


def test_a_queued_guide_may_wait_for_its_turn_longer_than_a_process_may_take_to_start(tmp_path, monkeypatch):
    import doc_runner.worker_client

    settings = Settings(pre_imports={"np": "numpy", "turn_test": "json"}, library_packages=(), timeout=30)
    server_for(settings, 1)
    monkeypatch.setattr(doc_runner.worker_client, "START_TIMEOUT", 0.5)
    slow = _run_of(tmp_path, "slow.md", "import time\ntime.sleep(1.5)\nprint('slow')", settings)
    after = _run_of(tmp_path, "after.md", "print('after')", settings)
    slow.queue()
    after.queue()  # its turn comes when the slow one ends, a second after the start timeout
    (waited,) = after.run_all()
    after.finish()
    (first,) = slow.run_all()
    slow.finish()
    assert (waited.status, waited.output, first.output) == (Status.PASSED, "after\n", "slow\n"), waited.error


def test_the_environment_is_described_first_and_what_is_installed_only_once_released():
    order: list[str] = []

    class Release:
        def wait(self) -> bool:
            order.append("released")
            return True

    answers = describe_environment((), Release())  # type: ignore[arg-type]
    environment = next(answers)
    order.append("environment")
    installed = next(answers)
    order.append("installed")
    assert order == ["environment", "released", "installed"]
    assert environment["python"] == platform.python_version()
    assert installed["versions"]["numpy"] == importlib.metadata.version("numpy")
