"""Shared fixtures. ``backend`` runs a test on each backend under test.

The backends come from ``TRIPY_TEST_BACKENDS`` (comma-separated; default ``numpy``). On a GPU machine run
``TRIPY_TEST_BACKENDS=numpy,cuda pytest``; cases on ``cuda`` carry the ``gpu`` marker.
"""

from __future__ import annotations

import os

import pytest

import tripy as tp

# Tests read what Sphinx prints (in this process and in the builds they start) as plain text; Sphinx colours
# its output wherever CI=true is set, as on CI machines.
os.environ["NO_COLOR"] = "1"

BACKENDS = [b.strip() for b in os.environ.get("TRIPY_TEST_BACKENDS", "numpy").split(",") if b.strip()]


@pytest.fixture(params=[pytest.param(b, marks=[pytest.mark.gpu] if b == "cuda" else []) for b in BACKENDS])
def backend(request):
    """Run the test with ``tp.config.backend`` set to each backend under test, restoring it afterwards."""
    previous = tp.config.backend
    tp.config.backend = request.param
    yield request.param
    tp.config.backend = previous
