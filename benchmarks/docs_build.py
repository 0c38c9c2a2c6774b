"""Docs build times: doc_runner's engine against MyST-NB (jupyter-cache) and a plain myst_parser build.

Each variant builds its own copy of N distinct two-block guides with ``sphinx-build`` in a fresh process:

- ``doc_runner``: ``extensions = ["myst_parser", "doc_runner"]``, every guide in its own worker process;
- ``myst-nb``: MyST-NB 1.4 with ``nb_execution_mode = "cache"`` (jupyter-cache), a Jupyter kernel per guide;
- ``floor``: ``myst_parser`` alone, the same Markdown, nothing executed.

Scenarios, run in this order on one build folder: ``cold`` (no build folder, no store), ``no-change``
(the same sources again), ``prose`` (one guide's text edited), ``code`` (one guide's code edited). The
variants are interleaved, each is warmed by an untimed build first, and each cell is the median of
``--repeats`` runs. A second table gives the per-block cost: one guide of 202 blocks against one of 2,
and that cost less the floor's (what executing and showing a block adds to parsing and highlighting it).

    python benchmarks/docs_build.py [--sizes 20 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ("doc_runner", "myst-nb", "floor")
SCENARIOS = ("cold", "no-change", "prose", "code")
ROOT = Path(__file__).resolve().parents[1]

CONF = {
    "doc_runner": 'extensions = ["myst_parser", "doc_runner"]\ndoc_runner_pre_imports = {}\n'
    "doc_runner_library_packages = ()\n",
    "myst-nb": 'extensions = ["myst_nb"]\nnb_execution_mode = "cache"\nnb_execution_timeout = 120\n',
    "floor": 'extensions = ["myst_parser"]\n',
}
COMMON_CONF = 'exclude_patterns = ["_build"]\nhtml_theme = "alabaster"\nsuppress_warnings = ["myst.header"]\n'
NB_HEADER = "---\nfile_format: mystnb\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n"


def cell(variant: str, code: str) -> str:
    """A code block that runs: a plain ``py`` fence, or MyST-NB's ``code-cell``."""
    fence = "```{code-cell} python3" if variant == "myst-nb" else "```py"
    return f"{fence}\n{code}\n```\n"


def guide(variant: str, index: int, blocks: int = 2, prose: str = "", extra: int = 0) -> str:
    """Guide ``index``: a title, prose, and ``blocks`` small distinct blocks (the first imports numpy)."""
    header = NB_HEADER if variant == "myst-nb" else ""
    parts = [f"{header}# Guide {index}\n\nSome prose about guide {index}.{prose}\n"]
    parts.append(cell(variant, f"import numpy as np\nvalues = np.arange({index + 3}) * {2 + extra}\nprint(values[-1])"))
    for block in range(1, blocks):
        parts.append(
            f"Step {block}.\n\n" + cell(variant, f"total_{block} = int(values.sum()) + {block}\nprint(total_{block})")
        )
    return "\n".join(parts)


def write_project(folder: Path, variant: str, count: int, blocks: int = 2) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "guides").mkdir(parents=True)
    (folder / "conf.py").write_text(CONF[variant] + COMMON_CONF, encoding="utf-8")
    names = [f"guides/g{i:03d}" for i in range(count)]
    toc = "\n".join(names)
    (folder / "index.md").write_text(f"# Benchmark\n\n```{{toctree}}\n{toc}\n```\n", encoding="utf-8")
    for i in range(count):
        (folder / f"guides/g{i:03d}.md").write_text(guide(variant, i, blocks), encoding="utf-8")


def build(folder: Path) -> tuple[float, int]:
    """One ``sphinx-build`` in a fresh process: wall seconds, and the guides it executed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", str(folder), str(folder / "_build" / "html")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"sphinx-build failed in {folder}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return seconds, executed(folder, done.stdout + done.stderr)


def executed(folder: Path, log: str) -> int:
    """Guides executed by the build just made (doc_runner's report; MyST-NB's "Executing" lines)."""
    report = folder / "_build" / "html" / "doc_runner_report.json"
    if report.exists() and (folder / "conf.py").read_text().count("doc_runner"):
        guides = json.loads(report.read_text())["guides"]
        return sum(1 for g in guides if g["this_build"] and not g["cached"])
    return len(re.findall(r"Executing notebook", log))


def scenario(folder: Path, variant: str, count: int, name: str) -> tuple[float, int]:
    """Prepare ``folder`` for scenario ``name`` (after the previous ones) and build it."""
    target = folder / "guides" / "g000.md"
    if name == "cold":
        write_project(folder, variant, count)
    elif name == "prose":
        target.write_text(guide(variant, 0, prose=" An edited sentence."), encoding="utf-8")
    elif name == "code":
        target.write_text(guide(variant, 0, prose=" An edited sentence.", extra=1), encoding="utf-8")
    return build(folder)


def per_block(base: Path, variant: str, repeats: int) -> float:
    """Milliseconds each extra block costs: one guide of 202 blocks against one of 2, cold."""
    times = {}
    for blocks in (2, 202):
        runs = []
        for _ in range(repeats):
            write_project(base / f"{variant}-blocks", variant, 1, blocks)
            runs.append(build(base / f"{variant}-blocks")[0])
        times[blocks] = statistics.median(runs)
    return (times[202] - times[2]) / 200 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[20, 100], help="none: only the per-block table")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="docs_build_bench-"))
    print(f"{os.cpu_count()} CPUs; {args.repeats} repeats; sources and builds in {base}", flush=True)
    for variant in args.variants:  # warm: imports compiled, files cached, a kernel started once
        write_project(base / f"warm-{variant}", variant, 2)
        build(base / f"warm-{variant}")
    results: dict[tuple[str, int, str], list[tuple[float, int]]] = {}
    for size in args.sizes:
        for repeat in range(args.repeats):
            order = args.variants[repeat % len(args.variants) :] + args.variants[: repeat % len(args.variants)]
            for variant in order:
                folder = base / f"{variant}-{size}"
                for name in SCENARIOS:
                    seconds, ran = scenario(folder, variant, size, name)
                    results.setdefault((variant, size, name), []).append((seconds, ran))
                    print(
                        f"  {variant:10s} {size:4d} guides  {name:9s} {seconds:7.2f} s  {ran:3d} executed", flush=True
                    )
    if args.sizes:
        print_builds(args, results)
    print()
    per = {variant: per_block(base, variant, args.repeats) for variant in args.variants}
    print("| variant | per extra block (ms) | over the floor (ms) |")
    print("| --- | ---: | ---: |")
    for variant in args.variants:
        over = f"{per[variant] - per['floor']:.2f}" if "floor" in per and variant != "floor" else ""
        print(f"| {variant} | {per[variant]:.2f} | {over} |", flush=True)
    shutil.rmtree(base, ignore_errors=True)


def print_builds(args: argparse.Namespace, results: dict[tuple[str, int, str], list[tuple[float, int]]]) -> None:
    print()
    print("| variant | guides | " + " | ".join(f"{s} (s, executed)" for s in SCENARIOS) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in SCENARIOS) + " |")
    medians = {}
    for size in args.sizes:
        for variant in args.variants:
            cells = []
            for name in SCENARIOS:
                runs = results[(variant, size, name)]
                medians[(variant, size, name)] = median = statistics.median(s for s, _ in runs)
                cells.append(f"{median:.2f} ({max(r for _, r in runs)})")
            print(f"| {variant} | {size} | " + " | ".join(cells) + " |")
    print()
    for size in args.sizes:
        line = [f"{size} guides, cold:"]
        if "myst-nb" in args.variants and "doc_runner" in args.variants:
            ratio = medians[("myst-nb", size, "cold")] / medians[("doc_runner", size, "cold")]
            line.append(f"MyST-NB / doc_runner = {ratio:.1f}x")
        if "floor" in args.variants and "doc_runner" in args.variants:
            ratio = medians[("doc_runner", size, "cold")] / medians[("floor", size, "cold")]
            extra = medians[("doc_runner", size, "no-change")] - medians[("floor", size, "no-change")]
            line.append(f"doc_runner / floor = {ratio:.2f}x; no-change doc_runner - floor = {extra:+.2f} s")
        print("  ".join(line))


if __name__ == "__main__":
    main()
