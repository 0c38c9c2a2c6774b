"""Time doc_runner's reader on guides of 10 KB to 1 MB of each pathological shape.

Run: ``python benchmarks/reader.py``. Prints a table: for each shape and size, the best of ``--repeat``
reads (``doc_runner.reader.parse_guide``: markdown-it, markers, directives, regions) in CPU seconds of
this process (steady on a shared machine) and wall seconds, and CPU seconds per MB. A linear reader
keeps s/MB flat down each shape's column of sizes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from doc_runner.errors import GuideError
from doc_runner.reader import parse_guide


def _repeat(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def unclosed_comments(size: int) -> str:
    """A guide that is all ``<!--`` openers, none closed."""
    return _repeat("<!--\n", size)


def unclosed_comments_inline(size: int) -> str:
    """``<!--`` openers in one paragraph (markdown-it's inline HTML rule)."""
    return "Text " + _repeat("<!-- ", size) + "\n"


def marker_spaces(size: int) -> str:
    """One marker pair whose Start line holds ``size`` spaces (between the words and before ``-->``)."""
    half = " " * (size // 2)
    return f"<!-- Tripy: TEST:{half}IGNORE Start{half}-->\n```py\nx = 1\n```\n<!-- Tripy: TEST: IGNORE End -->\n"


def expected_outputs(size: int) -> str:
    """Blocks each followed by a ``TEST: EXPECTED_STDOUT`` region."""
    unit = (
        "```py\nprint(1)\n```\n<!-- Tripy: TEST: EXPECTED_STDOUT Start -->\n```\n1\n```\n"
        "<!-- Tripy: TEST: EXPECTED_STDOUT End -->\n\n"
    )
    return _repeat(unit, size)


def marker_regions(size: int) -> str:
    """``DOC: OMIT`` regions, each around one block, with a plain block between."""
    unit = "<!-- Tripy: DOC: OMIT Start -->\n```py\nx = 1\n```\n<!-- Tripy: DOC: OMIT End -->\n\n```py\ny = 2\n```\n\n"
    return _repeat(unit, size)


def directives(size: int) -> str:
    """Blocks inside admonitions, unknown directives and directives in error, nested two deep."""
    unit = (
        "`````{note}\n````{warning} first line\n```py\nx = 1\n```\n````\n`````\n\n"
        "````{frobnicate}\n```py\ny = 2\n```\n````\n\n````{admonition}\n```py\nz = 3\n```\n````\n\n"
    )
    return _repeat(unit, size)


def plain_guide(size: int) -> str:
    """Prose and code, as guides are written (with directives, omitted lines and separators)."""
    unit = (
        "## A section\n\nSome prose with `code`, *emphasis* and a link to [the docs](https://example.org).\n\n"
        "```py\n# doc: print-locals t\nt = tp.ones((2, 3))\nsecret = 1  # doc: omit\nlabel = 'a\u2028b'\n```\n\n"
    )
    return _repeat(unit, size)


SHAPES: list[tuple[str, Callable[[int], str]]] = [
    ("unclosed <!-- lines", unclosed_comments),
    ("unclosed <!-- inline", unclosed_comments_inline),
    ("marker line of spaces", marker_spaces),
    ("expected-output regions", expected_outputs),
    ("marker regions", marker_regions),
    ("directives", directives),
    ("plain guide", plain_guide),
]


def best_seconds(text: str, repeat: int) -> tuple[float, float]:
    """The least CPU and wall seconds of ``repeat`` reads of ``text``."""
    cpu, wall = float("inf"), float("inf")
    for _ in range(repeat):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        try:
            parse_guide(text, "bench.md")
        except GuideError:
            pass  # a shape may be an error (it is still read to the end)
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start_wall)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000], help="bytes")
    args = parser.parse_args()

    parse_guide("```py\nx = 1\n```\n", "warm-up.md")  # import markdown-it and MyST's configuration once
    print(f"best of {args.repeat} reads per guide")
    print(f"{'shape':<26} {'size':>9} {'blocks':>7} {'cpu s':>8} {'wall s':>8} {'cpu s/MB':>9}")
    for name, make in SHAPES:
        for size in args.sizes:
            text = make(size)
            megabytes = len(text.encode()) / 1e6
            try:
                blocks = len(parse_guide(text, "bench.md").blocks)
            except GuideError:
                blocks = -1
            cpu, wall = best_seconds(text, args.repeat)
            print(f"{name:<26} {megabytes * 1000:>7.0f}KB {blocks:>7} {cpu:>8.4f} {wall:>8.4f} {cpu / megabytes:>9.3f}")


if __name__ == "__main__":
    main()
