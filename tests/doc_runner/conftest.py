"""Helpers for doc_runner's tests: write a guide to a temporary file and read or run it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from doc_runner.execute import run_guide
from doc_runner.reader import Guide, read_guide
from doc_runner.result import BlockResult
from doc_runner.settings import Settings

#: Tests of doc_runner itself need only NumPy; tripy is pre-imported where a test says so.
NUMPY_ONLY = Settings(pre_imports={"np": "numpy"}, timeout=10)


@pytest.fixture
def write_guide(tmp_path: Path) -> Callable[..., Path]:
    """Write dedented Markdown to ``tmp_path/name`` and return its path."""

    def write(text: str, name: str = "guide.md") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def guide_of(write_guide: Callable[..., Path]) -> Callable[[str], Guide]:
    """Parse Markdown text into a Guide named ``guide.md``."""
    return lambda text: read_guide(write_guide(text), display_path="guide.md")


@pytest.fixture
def run_text(guide_of: Callable[[str], Guide]) -> Callable[..., list[BlockResult]]:
    """Parse and run Markdown text; results of the runnable blocks, in order."""

    def run(text: str, settings: Settings = NUMPY_ONLY) -> list[BlockResult]:
        return run_guide(guide_of(text), settings)

    return run


@pytest.fixture
def seed_guide_path() -> Path:
    """The seed quantization guide, kept verbatim as a fixture."""
    return Path(__file__).parents[1] / "fixtures" / "quantization-guide.md"
