"""The command line: ``python -m doc_runner`` (or ``doc-runner``) ``lint | run | report | clean``.

- ``lint PATHS``: read every guide (and the docstring examples of ``.py`` files) and the project's
  ``doc_runner_*`` settings (``conf.py``, and pytest's in ``pyproject.toml``) without executing anything;
  prints ``file:line: message`` lines and exits 1 on errors (usable as a pre-commit hook).
- ``run GUIDE.md [--block NAME|LINE]``: run a guide's blocks (up to that block) with doc_runner's
  executor and print each block's output and status, with a progress line.
- ``report``: print the last Sphinx build's execution report (``doc_runner_report.json``) as a table.
- ``clean``: remove the store of results.

The project's settings are read from ``conf.py`` in ``--conf-dir`` (values written as literals; others
keep their defaults) without running it.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import re
import shutil
import sys
import time
import tomllib
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from doc_runner.docstrings import read_docstring_guides
from doc_runner.errors import GuideError, GuideWarning
from doc_runner.reader import Block, Guide, read_guide
from doc_runner.settings import PREFIX, PYTEST, SPHINX, Settings, unknown_names

#: Where Sphinx's HTML goes (``make docs``); its doctrees are in ``.doctrees`` below it.
DEFAULT_BUILD_DIR = "_build/html"
REPORT_FILE = "doc_runner_report.json"
#: The store's folder under Sphinx's doctree folder when ``doc_runner_cache_dir`` is not set (as the
#: Sphinx extension places it).
STORE_FOLDER = "doc_runner_cache"


@dataclasses.dataclass
class ProjectConfig:
    """What the CLI takes from ``conf.py``: the ``doc_runner_*`` and ``myst_*`` values written as literals,
    each with its line, and the problems found reading them."""

    path: Path | None = None
    values: dict[str, tuple[Any, int]] = dataclasses.field(default_factory=dict)
    problems: list[GuideError | GuideWarning] = dataclasses.field(default_factory=list)

    def settings(self) -> Settings:
        """The valid settings (a wrong value is in :attr:`problems` and keeps its default)."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(Settings):
            if f"doc_runner_{field.name}" in self.values:
                value, _ = self.values[f"doc_runner_{field.name}"]
                try:
                    Settings.from_values({field.name: value})
                except (ValueError, TypeError):
                    continue
                values[field.name] = value
        return Settings.from_values(values)

    def myst_config(self) -> Any:
        """MyST's configuration from the ``myst_*`` literals (for syntax extensions such as ``colon_fence``)."""
        try:
            from myst_parser.config.main import MdParserConfig
        except ImportError:  # pragma: no cover - myst-parser comes with the docs extra
            return None
        known = {f.name for f in dataclasses.fields(MdParserConfig)}
        options = {
            name[len("myst_") :]: value
            for name, (value, _) in self.values.items()
            if name.startswith("myst_") and name[len("myst_") :] in known
        }
        try:
            return MdParserConfig(**options)
        except (TypeError, ValueError):
            return None


def read_project_config(conf_dir: Path) -> ProjectConfig:
    """Read ``conf.py`` of ``conf_dir`` (when there is one) as a syntax tree: nothing in it runs."""
    path = conf_dir / "conf.py"
    config = ProjectConfig()
    if not path.is_file():
        return config
    config.path = path
    shown = _shown(path)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=shown)
    except (SyntaxError, UnicodeDecodeError) as exc:
        config.problems.append(GuideError(shown, getattr(exc, "lineno", 1) or 1, f"conf.py does not parse: {exc}"))
        return config
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if not name.startswith(("doc_runner_", "myst_")):
            continue
        try:
            config.values[name] = (ast.literal_eval(node.value), node.lineno)
        except ValueError:
            continue  # computed at build time (os.environ...): not checked here
    config.problems += _setting_problems(shown, config.values, SPHINX)
    return config


def _setting_problems(shown: str, values: dict[str, tuple[Any, int]], where: str) -> list[GuideError | GuideWarning]:
    """A warning per name that is no setting of ``where`` (with the nearest), an error per wrong value."""
    problems: list[GuideError | GuideWarning] = []
    for name, (value, line) in values.items():
        if not name.startswith(PREFIX):
            continue
        unknown = unknown_names([name], where)
        if unknown:
            problems.append(GuideWarning(shown, line, unknown[0]))
            continue
        try:
            Settings.from_values({name[len(PREFIX) :]: value})
        except (ValueError, TypeError) as exc:
            problems.append(GuideError(shown, line, str(exc)))
    return problems


def read_pytest_settings(root: Path) -> list[GuideError | GuideWarning]:
    """The problems of the ``doc_runner_*`` ini options in ``pyproject.toml``'s ``[tool.pytest.ini_options]``."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return []
    shown = _shown(path)
    text = path.read_text(encoding="utf-8")
    try:
        options = tomllib.loads(text).get("tool", {}).get("pytest", {}).get("ini_options", {})
    except tomllib.TOMLDecodeError as exc:
        return [GuideError(shown, 1, f"pyproject.toml does not parse: {exc}")]
    lines = {m.group(1): text.count("\n", 0, m.start()) + 1 for m in re.finditer(r"(?m)^(doc_runner_\w+)\s*=", text)}
    values = {name: (value, lines.get(name, 1)) for name, value in options.items() if name.startswith(PREFIX)}
    return _setting_problems(shown, values, PYTEST)


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _guide_files(paths: Sequence[str]) -> Iterator[Path]:
    """The Markdown and Python files named, and those below the folders named (hidden and build folders skipped)."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                parts = found.relative_to(path).parts
                skipped = any(p.startswith((".", "_build")) or p in ("node_modules", "__pycache__") for p in parts)
                if found.suffix in (".md", ".py") and found.is_file() and not skipped:
                    yield found
        else:
            yield path


def lint(paths: Sequence[str], conf_dir: Path, out: TextIO, strict: bool = False) -> int:
    """Check guides and settings; print one ``file:line: error|warning: message`` line per problem."""
    config = read_project_config(conf_dir)
    problems: list[GuideError | GuideWarning] = list(config.problems) + read_pytest_settings(conf_dir)
    settings, myst = config.settings(), config.myst_config()
    checked = 0
    for path in _guide_files(paths):
        shown = _shown(path)
        if not path.is_file():
            problems.append(GuideError(shown, 1, "no such file"))
            continue
        checked += 1
        try:
            if path.suffix == ".py":
                for doc in read_docstring_guides(path, shown):
                    problems.extend(doc.guide.warnings)
            else:
                problems.extend(read_guide(path, settings.marker_prefix, shown, myst).warnings)
        except GuideError as exc:
            problems.append(exc)
        except SyntaxError as exc:
            problems.append(GuideError(shown, exc.lineno or 1, f"the file does not parse: {exc.msg}"))
    errors = sum(isinstance(p, GuideError) for p in problems)
    for problem in sorted(problems, key=lambda p: (p.path, p.line)):
        kind = "error" if isinstance(problem, GuideError) else "warning"
        print(f"{problem.path}:{problem.line}: {kind}: {problem.message}", file=out)
    warnings = len(problems) - errors
    print(f"doc_runner lint: {checked} file(s), {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors or (strict and warnings) else 0


def select_blocks(guide: Guide, which: str | None) -> list[Block]:
    """The runnable blocks up to and including the one ``which`` names (its ``# doc: name``, or a line
    of the block), or all of them. Raises :class:`GuideError` when no block matches."""
    blocks = guide.runnable_blocks
    if which is None:
        return blocks
    for index, block in enumerate(blocks):
        named = block.code.get("name") if block.code is not None else None
        if named is not None and which in named.args:
            return blocks[: index + 1]
        if which.isdigit() and block.line <= int(which) <= block.end_line:
            return blocks[: index + 1]
    lines = ", ".join(str(b.line) for b in blocks) or "none"
    raise GuideError(guide.path, 1, f"no runnable block is named or holds line '{which}' (blocks at lines: {lines})")


def execute_blocks(guide: Guide, blocks: list[Block], settings: Settings) -> Generator[Any, None, None]:
    """The one call into doc_runner's executor: run ``blocks`` of ``guide`` in order, yielding each result."""
    from doc_runner.execute import GuideRun

    with GuideRun(guide, settings) as run:
        for block in blocks:
            yield run.run(block)


def rich_outputs(result: Any) -> list[str]:
    """Terminal text for a result's displayed outputs (Jupyter records other than streams, which
    ``result.output`` holds): their ``text/plain``, or which kind of output it is."""
    shown = []
    for output in getattr(result, "outputs", None) or []:
        if output.get("output_type") not in ("display_data", "execute_result"):
            continue
        data = output.get("data", {})
        text = data.get("text/plain")
        kinds = ", ".join(sorted(k for k in data if k != "text/plain"))
        shown.append(str(text).rstrip("\n") if text else f"[{kinds or 'empty'} output]")
    return shown


def run(guide_path: str, which: str | None, conf_dir: Path, out: TextIO, progress: TextIO) -> int:
    """Run a guide and print each block's output and status; 1 when a block failed."""
    from doc_runner.report import failure_report

    config = read_project_config(conf_dir)
    settings = dataclasses.replace(config.settings(), execution_mode="force")
    try:
        guide = read_guide(guide_path, settings.marker_prefix, _shown(Path(guide_path)), config.myst_config())
        blocks = select_blocks(guide, which)
    except (GuideError, OSError) as exc:
        print(f"{exc}", file=out)
        return 1
    for warning in guide.warnings:
        print(f"{warning.path}:{warning.line}: warning: {warning.message}", file=out)
    counts: dict[str, int] = {}
    started = time.perf_counter()
    results = execute_blocks(guide, blocks, settings)
    for index, block in enumerate(blocks, 1):
        print(f"[{index}/{len(blocks)}] {guide.path}:{block.line} running", file=progress, flush=True)
        block_started = time.perf_counter()
        result = next(results)
        seconds = time.perf_counter() - block_started
        status = str(result.status)
        counts[status] = counts.get(status, 0) + 1
        elapsed = time.perf_counter() - started
        print(f"[{index}/{len(blocks)}] {guide.path}:{block.line} {status} ({elapsed:.1f} s)", file=progress)
        print(f"--- {guide.path}:{block.line}: {status} in {seconds:.2f} s", file=out)
        if result.output:
            print(result.output.rstrip("\n"), file=out)
        for shown in rich_outputs(result):
            print(shown, file=out)
        for variable in result.variables:
            print(variable.text.rstrip("\n"), file=out)
        if status == "failed":
            print(failure_report(block, result), file=out)
        elif result.error and status in ("xfailed", "skipped"):
            print(result.error.strip().splitlines()[-1], file=out)
    results.close()
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{guide.path}: {len(blocks)} block(s): {summary or 'nothing to run'}", file=out)
    return 1 if counts.get("failed") else 0


def report(build_dir: Path, out: TextIO) -> int:
    """Print ``doc_runner_report.json`` of ``build_dir`` as a table, one row per block."""
    path = build_dir / REPORT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"no execution report at {path}: build the docs first (make docs)", file=out)
        return 1
    except (OSError, ValueError) as exc:
        print(f"{path}: the report cannot be read: {exc}", file=out)
        return 1
    rows = [("guide", "block", "status", "seconds", "results", "ran on")]
    for guide in data.get("guides", []):
        where = "stored" if guide.get("cached") else "executed"
        if guide.get("this_build") is False:
            where += ", earlier build"
        reason = f"{where} ({guide.get('reason', '')})" if guide.get("reason") else where
        for block in guide.get("blocks", []):
            status = block.get("status", "")
            if block.get("error"):
                status += f": {block['error']}"
            seconds = f"{block.get('seconds', 0):.3f}"
            rows.append(
                (guide.get("guide", ""), str(block.get("line", "")), status, seconds, reason, block.get("ran_on", ""))
            )
    widths = [min(max(len(row[i]) for row in rows), 60) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        print("  ".join(cell[:60].ljust(width) for cell, width in zip(row, widths)).rstrip(), file=out)
        if number == 0:
            print("  ".join("-" * width for width in widths), file=out)
    summary = data.get("summary", {})
    if summary:
        print(", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in summary.items()), file=out)
    return 0


def store_directory(conf_dir: Path, build_dir: Path) -> Path:
    """Where the Sphinx extension keeps the store: ``doc_runner_cache_dir`` relative to ``conf.py``'s folder,
    else ``doc_runner_cache`` in the doctree folder (``.doctrees`` under the build folder)."""
    configured = read_project_config(conf_dir).values.get("doc_runner_cache_dir")
    if configured and configured[0]:
        return conf_dir / str(configured[0])
    return build_dir / ".doctrees" / STORE_FOLDER


def clean(directory: Path, out: TextIO) -> int:
    """Remove the store at ``directory``; refuse a folder that holds anything but store entries."""
    if not directory.exists():
        print(f"no store at {directory}: nothing to remove", file=out)
        return 0
    others = [p for p in directory.rglob("*") if p.is_file() and p.suffix not in (".json", ".tmp", ".lock")]
    if not directory.is_dir() or others:
        print(
            f"{directory} does not look like a doc_runner store (it holds {others[:1] or 'a file'}); not removed",
            file=out,
        )
        return 1
    entries = sum(1 for p in directory.rglob("*.json"))
    shutil.rmtree(directory)
    print(f"removed the store at {directory} ({entries} entries)", file=out)
    return 0


def parser() -> argparse.ArgumentParser:
    """The ``doc-runner`` argument parser, with ``--help`` on each command."""
    main_parser = argparse.ArgumentParser(
        prog="doc-runner", description="Check, run and report on doc_runner guides (MyST Markdown with running code)."
    )
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--conf-dir", type=Path, default=Path("."), help="folder of the Sphinx conf.py (default: .)")

    lint_parser = commands.add_parser(
        "lint",
        help="check directives, markers and settings without executing",
        description="Read every guide (.md; docstring examples of .py files) and the doc_runner settings of "
        "conf.py without executing anything. Prints 'file:line: error|warning: message' lines; exits 1 on "
        "errors (with --strict, on warnings too).",
    )
    lint_parser.add_argument("paths", nargs="+", metavar="PATH", help="guides, Python files or folders of them")
    lint_parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    common(lint_parser)

    run_parser = commands.add_parser(
        "run",
        help="run a guide and print each block's output and status",
        description="Run a guide's blocks in order with doc_runner's executor (as Sphinx and pytest run them) "
        "and print each block's output and status; progress goes to stderr. Exits 1 when a block failed.",
    )
    run_parser.add_argument("guide", metavar="GUIDE.md")
    run_parser.add_argument(
        "--block", metavar="NAME|LINE", help="stop after this block: its '# doc: name', or a line inside it"
    )
    common(run_parser)

    report_parser = commands.add_parser(
        "report",
        help="print the last build's execution report",
        description=f"Print the execution report of the last Sphinx build ({REPORT_FILE} in the build folder) "
        "as a table: per guide and block, status, time, stored or executed and why, where it ran.",
    )
    report_parser.add_argument(
        "--build-dir", type=Path, default=Path(DEFAULT_BUILD_DIR), help=f"default: {DEFAULT_BUILD_DIR}"
    )

    clean_parser = commands.add_parser(
        "clean",
        help="remove the store of results",
        description="Remove the store of stored results, so the next build executes every guide. The store is "
        "doc_runner_cache_dir of conf.py, else doc_runner_cache in the build's doctree folder.",
    )
    clean_parser.add_argument(
        "--build-dir", type=Path, default=Path(DEFAULT_BUILD_DIR), help=f"default: {DEFAULT_BUILD_DIR}"
    )
    clean_parser.add_argument("--store", type=Path, help="the store's folder, if not the configured one")
    common(clean_parser)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m doc_runner`` and the ``doc-runner`` script; returns the exit status."""
    args = parser().parse_args(argv)
    out = sys.stdout
    if args.command == "lint":
        return lint(args.paths, args.conf_dir, out, args.strict)
    if args.command == "run":
        return run(args.guide, args.block, args.conf_dir, out, sys.stderr)
    if args.command == "report":
        return report(args.build_dir, out)
    return clean(args.store or store_directory(args.conf_dir, args.build_dir), out)
