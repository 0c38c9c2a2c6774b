"""doc_runner: run the Python blocks of MyST guides, render their output, and test them.

One reader (:mod:`doc_runner.reader`) and one executor (:mod:`doc_runner.execute`)
serve both the Sphinx extension (:mod:`doc_runner.sphinx`, enabled with
``extensions = ["myst_parser", "doc_runner"]``) and the pytest plugin
(:mod:`doc_runner.pytest_plugin`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["setup"]


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point; see :func:`doc_runner.sphinx.setup`."""
    from doc_runner import sphinx_start

    sphinx_start.start(app)  # before importing the rest: a first build's worker server starts meanwhile
    from doc_runner.sphinx import setup as sphinx_setup

    return sphinx_setup(app)
