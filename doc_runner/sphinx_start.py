"""What the Sphinx extension does first, before Sphinx imports the rest of it (:mod:`doc_runner.sphinx`):
register the settings and, on a first build, start the worker server, so that the server's own start (its
interpreter, NumPy and IPython: about 0.2 s of a core) overlaps Sphinx loading the extension and its builder."""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ConfigError

from doc_runner import sphinx_settings
from doc_runner.execute import default_jobs
from doc_runner.worker_client import WorkerServer, server_for


def store_directory(app: Sphinx) -> Path:
    """The folder of the result store: ``doc_runner_cache_dir`` (relative to ``conf.py``), else the
    doctree folder's ``doc_runner_cache``."""
    configured = app.config.doc_runner_cache_dir
    return Path(app.confdir) / configured if configured else Path(app.doctreedir) / "doc_runner_cache"


def first_build(directory: Path) -> bool:
    """Whether nothing is stored yet (so guides will run)."""
    return not directory.is_dir() or not any(directory.iterdir())


def start(app: Sphinx) -> None:
    """Register the settings (once per application) and, on a first build, start the worker server with them."""
    if "doc_runner_execution_mode" in app.config:
        return
    sphinx_settings.register(app)
    WorkerServer.started = 0
    try:
        settings = sphinx_settings.settings_of(app.config)
    except ConfigError:  # reported when Sphinx has read the configuration
        return
    if settings.execution_mode != "off" and first_build(store_directory(app)):
        server_for(settings, settings.jobs or default_jobs())
