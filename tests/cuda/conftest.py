"""GPU tests of the ``cuda`` backend. Without a usable GPU, every ``gpu``-marked test is deselected (and
the report says why), so a CPU run is complete on its own and a GPU run hides nothing."""

from __future__ import annotations

from tripy.backend.cuda.availability import unusable_reason


def _no_gpu_reason() -> str | None:
    return unusable_reason()


def pytest_report_header(config) -> str:
    reason = _no_gpu_reason()
    return "tripy cuda backend: GPU usable" if reason is None else f"tripy cuda backend: {reason}"


def pytest_collection_modifyitems(config, items) -> None:
    reason = _no_gpu_reason()
    if reason is None:
        return
    gpu = [item for item in items if item.get_closest_marker("gpu") is not None]
    if gpu:
        items[:] = [item for item in items if item.get_closest_marker("gpu") is None]
        config.hook.pytest_deselected(items=gpu)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"deselected {len(gpu)} gpu-marked tests: {reason}")
