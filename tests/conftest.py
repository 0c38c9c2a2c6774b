"""Shared fixtures. ``backend`` runs a test on each backend under test.

The backends come from ``TRIPY_TEST_BACKENDS`` (comma-separated; default ``numpy``). On a GPU machine run
``TRIPY_TEST_BACKENDS=numpy,cuda pytest``; cases on ``cuda`` carry the ``gpu`` marker.
"""

from __future__ import annotations

import os

import pytest

import tripy as tp
from tripy.backend.registry import created_backends

# Tests read what Sphinx prints (in this process and in the builds they start) as plain text; Sphinx colours
# its output wherever CI=true is set, as on CI machines.
os.environ["NO_COLOR"] = "1"


@pytest.fixture(autouse=True)
def no_eager_history():
    """Each test starts with no evaluations met before: what the cuda backend replays as CUDA graphs (the
    traces met again) then depends on the test alone, not on the tests run before it in this process."""
    for made in created_backends():
        if made.eager_graphs is not None:
            made.eager_graphs.clear()


BACKENDS = [b.strip() for b in os.environ.get("TRIPY_TEST_BACKENDS", "numpy").split(",") if b.strip()]


@pytest.fixture(params=[pytest.param(b, marks=[pytest.mark.gpu] if b == "cuda" else []) for b in BACKENDS])
def backend(request):
    """Run the test with ``tp.config.backend`` set to each backend under test, restoring it afterwards."""
    previous = tp.config.backend
    tp.config.backend = request.param
    yield request.param
    tp.config.backend = previous
