"""The Sphinx extension: run each guide while Sphinx reads it and render what it produced.

Enable with ``extensions = ["myst_parser", "doc_runner"]``. Its settings (``doc_runner_*`` in ``conf.py``,
all optional) are declared in :mod:`doc_runner.settings`; the ``doc-runner-settings`` directive renders
their table.

A failing block is reported as a warning at ``guide.md:LINE`` (an error under ``-W``)
with its code and a traceback through the guide's lines, and the build fails at its end.

Every output says where it ran (backend and device). The build ends with an execution report, per guide
and block (time, stored or executed and why, device, failures), as the page ``doc_runner_report.html``
and as ``doc_runner_report.json`` in the output folder.
"""

from __future__ import annotations

import functools
import html
import importlib.util
import inspect
import itertools
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive as RstDirective
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

from doc_runner import execution_report, notebook, render, report_link, sphinx_settings, sphinx_start
from doc_runner import outputs as out
from doc_runner.cache import GuideCache, Lookup
from doc_runner.directives import check_block_names, without_directives
from doc_runner.display import check_directives, stderr_policy, stderr_text
from doc_runner.docstrings import DocstringGuide, find_code_blocks, read_docstring_guides
from doc_runner.environment import remember_installed
from doc_runner.errors import GuideError
from doc_runner.execute import GuideRun, default_jobs, run_guides
from doc_runner.reader import Block, BlockKind, Guide, read_guide
from doc_runner.render import ImageStore
from doc_runner.report import failure_report
from doc_runner.result import BlockResult, Status
from doc_runner.settings import Settings
from doc_runner.sphinx_reading import report_warnings, skip_undecodable
from doc_runner.worker_client import WorkerError, WorkerServer, describe_environment, server_for

logger = logging.getLogger(__name__)
_keys = itertools.count()


def settings_from_config(config: Config) -> Settings:
    """The :class:`Settings` named ``doc_runner_*`` in ``conf.py`` (validated when the build starts)."""
    return sphinx_settings.settings_of(config)


def _failures(env: BuildEnvironment) -> dict[str, list[str]]:
    if not hasattr(env, "doc_runner_failures"):
        env.doc_runner_failures = {}  # type: ignore[attr-defined]
    return env.doc_runner_failures  # type: ignore[attr-defined]


def _report(env: BuildEnvironment, location: str | tuple[str, int], message: str) -> None:
    """Warn (an error under -W) and remember the failure so the build fails at its end."""
    logger.warning(message, location=location, type="doc_runner", subtype="execution")
    where = location if isinstance(location, str) else f"{location[0]}:{location[1]}"
    _failures(env).setdefault(env.docname, []).append(f"{where}: {message.splitlines()[0]}")


def _report_result(env: BuildEnvironment, block: Block, result: BlockResult, settings: Settings) -> None:
    if result.status is Status.FAILED:
        _report(env, result.location, failure_report(block, result, with_location=False))
    elif result.status is Status.XPASSED:
        logger.warning(
            f"the block at line {block.line} ran without an error, but it is inside TEST: XFAIL (expected to fail)",
            location=f"{result.path}:{block.line}",
            type="doc_runner",
            subtype="xpass",
        )
    elif stderr_policy(block, settings) == "warn" and stderr_text(result):
        logger.warning(
            f"the block at line {block.line} wrote to stderr:\n{stderr_text(result)}",
            location=f"{result.path}:{block.line}",
            type="doc_runner",
            subtype="stderr",
        )


def _resolve(path: str | Path) -> str:
    """``path`` resolved, remembered for the build (the extension asks several times per document)."""
    key = str(path)
    if key not in _RESOLVED:
        _RESOLVED[key] = str(Path(path).resolve())
    return _RESOLVED[key]


_RESOLVED: dict[str, str] = {}


def _display_path(srcdir: str | Path, path: Path) -> str:
    try:
        return Path(_resolve(path)).relative_to(_resolve(srcdir)).as_posix()
    except ValueError:
        return str(path)


#: The store's folder per source folder, set when the builder starts (parallel readers inherit it).
_CACHE_DIRECTORIES: dict[str, Path] = {}
#: Which guide: its file, its text and its blocks' lines (the docstrings of one module share the file and text).
GuideKey = tuple[str, str, tuple[int, ...]]
#: Guides queued ahead of reading (they run, several at once, while Sphinx reads), by :data:`GuideKey`: what
#: gives their outcome (their results, read when Sphinx reads the guide or autodoc its docstring).
_AHEAD: dict[GuideKey, Callable[[], Outcome]] = {}
#: Guides to queue as the earlier ones are read, or while reading waits for one (queueing a guide costs the
#: host about a millisecond: only the first _WINDOW are queued before reading starts).
_LATER: list[GuideRun] = []
_WINDOW = 16
#: Storing the results of guides run ahead, done when the build ends (each gives its warnings).
_UNSTORED: list[Callable[[], list[str]]] = []
#: The environment guides run in, per build and settings (asked once per build, in the background).
_ENVIRONMENTS: dict[str, Future[dict[str, str]]] = {}
#: What is installed (``doc_runner.environment.installed_distributions``), asked with the environment.
_INSTALLED: dict[str, Future[dict[str, Any]]] = {}
#: Set when the short-lived interpreter may read what is installed (see :func:`_release_installed`).
_RELEASES: dict[str, threading.Event] = {}
#: Per source folder: the builder's format and output folder (where notebooks are written).
_OUTPUTS: dict[str, tuple[str, Path]] = {}
_VALUE_ROLE = re.compile(r"(?<!`)\{doc-value\}`([^`\n]+)`")


@dataclass
class Outcome:
    """A guide's results in this build, and how they were obtained."""

    results: dict[int, BlockResult]
    values: dict[str, Any]
    reason: str
    cached: bool
    first_party: tuple[str, ...] = ()
    seconds: float = 0.0
    #: seconds of the guide's process, its start included (0: not executed)
    wall: float = 0.0
    #: what went wrong around the run (storing its results), for Sphinx's thread to warn about
    warnings: list[str] = field(default_factory=list)
    #: whether the guide's process wrote its notebook and script
    downloads: bool = False


def _guide_key(guide: Guide, file: str | Path) -> GuideKey:
    return _resolve(file), guide.source, tuple(b.line for b in guide.runnable_blocks)


def value_names(guide: Guide) -> list[str]:
    """The expressions of the ``{doc-value}`` roles in the guide's prose."""
    return sorted(
        {m.group(1).strip() for b in guide.blocks if b.kind is BlockKind.PROSE for m in _VALUE_ROLE.finditer(b.text)}
    )


def _environment_key(settings: Settings) -> str:
    return f"{execution_report.run_id()}:{settings.library_packages}"


def _describe(settings: Settings, hold: bool = False) -> Future[dict[str, str]]:
    """Start asking, once per build, what environment guides run in and what is installed (a short-lived
    interpreter, in the background); the environment's future, which is answered first. With ``hold``, what
    is installed is read only when :func:`_release_installed` says so."""
    key = _environment_key(settings)
    if key not in _ENVIRONMENTS:
        environment: Future[dict[str, str]] = Future()
        installed: Future[dict[str, Any]] = Future()
        _ENVIRONMENTS[key], _INSTALLED[key] = environment, installed
        release = _RELEASES[key] = threading.Event()
        if not hold:
            release.set()

        def ask() -> None:
            try:
                answers = describe_environment(tuple(settings.library_packages), release)
                environment.set_result(next(answers))
                installed.set_result(next(answers))
            except BaseException as exc:
                for future in (environment, installed):
                    if not future.done():
                        future.set_exception(exc)

        # A daemon thread: a build that ends before the answers (a no-change build needs only the first)
        # does not wait for them; the interpreter is ended at exit (worker_client.close_servers).
        threading.Thread(target=ask, name="doc_runner-environment", daemon=True).start()
    return _ENVIRONMENTS[key]


def _environment(settings: Settings) -> dict[str, str]:
    try:
        return _describe(settings).result()
    except WorkerError as exc:
        logger.warning(f"doc_runner: {exc}", type="doc_runner", subtype="execution")
        done: Future[dict[str, str]] = Future()
        _ENVIRONMENTS[_environment_key(settings)] = done
        done.set_result({})
        return {}


def _release_installed(settings: Settings) -> None:
    """Let the short-lived interpreter read what is installed (a first build holds it while Sphinx reads:
    the guides' processes need the cores then, and the list only when their results are stored)."""
    _describe(settings)
    _RELEASES[_environment_key(settings)].set()


def _know_installed(settings: Settings) -> None:
    """Before results are stored (their packages' versions): take what the short-lived interpreter found
    installed (else this process reads it itself)."""
    _release_installed(settings)
    try:
        remember_installed(_INSTALLED[_environment_key(settings)].result())
    except WorkerError:
        pass


def _outcome(run: GuideRun, settings: Settings, env: BuildEnvironment, why: str, store: bool = True) -> Outcome:
    """The outcome of a guide that ran (``run`` closed), its results stored when they all passed (now, or
    with ``store=False`` when the build ends: :func:`_store_results`); problems storing them now are the
    outcome's ``warnings``."""
    results = dict(run.results)
    for result in results.values():
        result.cache_reason = why
    seconds = sum(r.duration for r in results.values())
    first_party = tuple(run.report.first_party)
    cache = _store(env)

    def write() -> list[str]:
        _know_installed(settings)
        try:
            cache.store(run.guide, settings, _environment(settings), results, run.report, run.prose_values)
        except OSError as exc:
            return [f"could not store the results of {run.guide.path}: {exc}"]
        return []

    problems = write() if store else []
    if not store:
        _UNSTORED.append(write)
    written = run.report.downloads
    return Outcome(results, run.prose_values, why, False, first_party, seconds, run.wall, problems, written)


def _execute(
    guides: list[tuple[Guide, Path]], settings: Settings, env: BuildEnvironment, reason: dict[str, str]
) -> dict[str, Outcome]:
    """Run ``guides`` (with their files) now, several at once, each in its own process; store what passed."""
    root = Path(env.srcdir).resolve()
    runs = [GuideRun(guide, settings, file, root) for guide, file in guides]
    run_guides(runs, settings.jobs, value_names=lambda run: value_names(run.guide))
    return {run.file: _outcome(run, settings, env, reason.get(run.file, "")) for run in runs}


def _collect(run: GuideRun, settings: Settings, env: BuildEnvironment, why: str) -> Outcome:
    """The outcome of a guide queued ahead of reading: its results as its process sent them (waiting for
    what is still running); the next guide beyond the window is queued first."""
    if run in _LATER:
        _LATER.remove(run)
    if _LATER:
        later = _LATER.pop(0)
        later.queue(value_names(later.guide))
    while _LATER and not run.answered():  # waiting anyway: queue the next ones meanwhile
        later = _LATER.pop(0)
        later.queue(value_names(later.guide))
    try:
        run.run_all()
        run.finish()
    finally:
        run.close()
    return _outcome(run, settings, env, why, store=False)


def _lookup(guide: Guide, settings: Settings, env: BuildEnvironment) -> Lookup:
    if settings.execution_mode != "auto":
        return Lookup(None, "doc_runner_execution_mode is 'force'")
    lookup = _store(env).lookup(guide, settings, lambda: _environment(settings), value_names(guide))
    if lookup.damaged:
        where = f"{guide.path}:{guide.runnable_blocks[0].line}"  # a location without a line names a document
        logger.warning(lookup.reason, location=where, type="doc_runner", subtype="cache")
    return lookup


def _run(guide: Guide, settings: Settings, env: BuildEnvironment, file: Path | None = None, obj: str = "") -> Outcome:
    """The guide's results: executed ahead, stored ones when still valid (``auto``), else a fresh run."""
    if not guide.runnable_blocks:
        return Outcome({}, {}, "", False)
    if settings.execution_mode == "off":
        results = {
            b.line: BlockResult(guide.path, b.line, Status.NOT_RUN, code=b.shown_source) for b in guide.runnable_blocks
        }
        return Outcome(results, {}, "doc_runner_execution_mode is 'off'", False)
    file = file or Path(env.srcdir) / guide.path
    ahead = _AHEAD.pop(_guide_key(guide, file), None)
    outcome = ahead() if ahead is not None else None
    if outcome is None:
        lookup = _lookup(guide, settings, env)
        if lookup.results is not None:
            for result in lookup.results.values():
                result.cached, result.cache_reason = True, lookup.reason
            outcome = Outcome(lookup.results, lookup.values or {}, lookup.reason, True, lookup.first_party)
        else:
            key = str(Path(file).resolve())
            outcome = _execute([(guide, Path(file))], settings, env, {key: lookup.reason})[key]
    for message in outcome.warnings:
        logger.warning(message, type="doc_runner", subtype="cache")
    root = Path(env.srcdir).resolve()
    for relative in outcome.first_party:  # Sphinx reads the document again when one of them changes
        env.note_dependency(str(root / relative))
    entry = _store(env).entry_name(guide, value_names(guide))
    execution_report.record(env, guide, outcome.results, entry, obj, outcome.wall)
    what = (
        "stored results"
        if outcome.cached
        else f"executed in {outcome.seconds:.2f} s ({outcome.wall:.2f} s in its process)"
    )
    logger.info(f"doc_runner: {guide.path}: {what} ({outcome.reason})")
    return outcome


def _store(env: BuildEnvironment) -> GuideCache:
    directory = _CACHE_DIRECTORIES.get(str(env.srcdir), Path(env.doctreedir) / "doc_runner_cache")
    key = (str(directory), str(env.srcdir))
    if key not in _STORES:
        _STORES[key] = GuideCache(directory, env.srcdir)
    return _STORES[key]


_STORES: dict[tuple[str, str], GuideCache] = {}


#: Guides read ahead of execution, by file and text, so reading the document does not parse them again.
_READ: dict[tuple[str, bytes], Guide] = {}


def _read(env: BuildEnvironment, source: Path, settings: Settings) -> Guide:
    key = (f"{settings.marker_prefix}:{source}", source.read_bytes())
    if key in _READ:
        return _READ[key]
    guide = read_guide(
        source, settings.marker_prefix, _display_path(env.srcdir, source), getattr(env, "myst_config", None)
    )
    check_directives(guide)
    check_block_names(guide.path, (block.code for block in guide.runnable_blocks))
    _READ[key] = guide
    return guide


def _run_ahead(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """``env-before-read-docs``: queue the guides that are about to be read and have no valid stored
    results on the worker server, which runs them several at once (``doc_runner_jobs``) in the order Sphinx
    reads them, while Sphinx reads; reading a guide waits for its own results only. The documents without
    such a guide are read first. With ``-j`` (reading in forked processes) they are all done before reading."""
    settings = settings_from_config(app.config)
    if settings.execution_mode == "off":
        return
    todo: list[tuple[Guide, Path]] = []
    reasons: dict[GuideKey, str] = {}
    running: set[str] = set()

    def consider(guide: Guide, file: Path) -> bool:
        if not guide.runnable_blocks:
            return False
        lookup = _lookup(guide, settings, env)
        if lookup.results is None:
            todo.append((guide, file))
            reasons[_guide_key(guide, file)] = lookup.reason
        return lookup.results is None

    api = False  # whether a document read may document the library with autodoc
    documents: dict[str, str] = {}  # a guide's file: its document
    for docname in docnames:
        source = Path(env.doc2path(docname))
        if not source.is_file():
            continue
        if source.suffix != ".md":
            api = True
            continue
        try:
            guide = _read(env, source, settings)
        except GuideError:
            continue  # reported when the document is read
        api = api or "auto" in guide.source
        if consider(guide, source.resolve()):
            running.add(docname)
            documents[_resolve(source)] = docname
    if api and "sphinx.ext.autodoc" in app.extensions:  # its docstrings' examples run ahead too, after the guides
        for path, docstring in _library_docstrings(app, settings):
            consider(docstring, path)
    if not todo:
        return
    if app.parallel <= 1:
        docnames[:] = [d for d in docnames if d not in running] + [d for d in docnames if d in running]
    server_for(settings, settings.jobs or default_jobs())
    root = Path(env.srcdir).resolve()
    runs = [GuideRun(guide, settings, file, root) for guide, file in todo]
    builder_format, outdir = _OUTPUTS.get(str(env.srcdir), ("", Path()))
    for run in runs:
        if builder_format == "html" and run.file in documents:  # its process writes the downloads
            run.downloads = str(outdir / documents[run.file])
        key = _guide_key(run.guide, run.file)
        _AHEAD[key] = functools.partial(_collect, run, settings, env, reasons[key])
    _LATER[:] = runs[_WINDOW:]
    for run in runs[:_WINDOW]:
        run.queue(value_names(run.guide))
    if app.parallel > 1:  # forked readers cannot read their processes' answers: take them all now
        for run in runs:
            key = _guide_key(run.guide, run.file)
            _AHEAD[key] = functools.partial(lambda done: done, _AHEAD[key]())


def _library_docstrings(app: Sphinx, settings: Settings) -> list[tuple[Path, Guide]]:
    """The docstring examples in every module of the library packages (found, not imported), in file order."""
    found = []
    for package in settings.library_packages:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        folders = spec.submodule_search_locations or []  # a package: all its modules
        files = [p for folder in folders for p in sorted(Path(folder).rglob("*.py"))]
        if not folders and spec.origin and spec.origin.endswith(".py"):  # one module
            files = [Path(spec.origin)]
        for path in files:
            display = _display_path(app.srcdir, path)
            for docstring in _docstring_guides(str(path), display):
                found.append((path.resolve(), docstring.guide))
    return found


#: The docstring guides of a module, by file, display path and text (autodoc asks for each docstring).
_DOCSTRINGS: dict[tuple[str, str, bytes], list[DocstringGuide]] = {}


def _docstring_guides(path: str, display: str) -> list[DocstringGuide]:
    """:func:`read_docstring_guides`, once per version of the file; [] when it cannot be read."""
    try:
        key = (path, display, Path(path).read_bytes())
    except OSError:
        return []
    if key not in _DOCSTRINGS:
        try:
            _DOCSTRINGS[key] = read_docstring_guides(path, display)
        except (GuideError, SyntaxError, OSError, ValueError):
            _DOCSTRINGS[key] = []
    return _DOCSTRINGS[key]


def _not_run_reason(block: Block) -> str | None:
    if not block.is_python or block.verbatim:
        return None
    if block.ignored:
        return "Not executed: this block is under TEST: IGNORE, so it was neither run nor tested."
    if block.code is not None and block.code.get("no-eval") is not None:
        return "Not executed: this block is marked no-eval, so it was neither run nor tested."
    return None


class ExecuteGuide(SphinxTransform):
    """Runs a Markdown guide's blocks and places their output under MyST's code blocks."""

    default_priority = 500

    def _hide_directive_lines(self) -> None:
        """A guide that cannot be read is shown without running; its ``# doc:`` lines still stay off the page."""
        for block in list(self.document.findall(nodes.literal_block)):
            if block.get("language", "") in ("py", "python", "python3", "ipython3") and "# doc" in block.astext():
                text = without_directives(block.astext())
                block.replace_self(nodes.literal_block(text, text, **{k: block[k] for k in ("language", "classes")}))

    def apply(self, **kwargs: Any) -> None:
        source = Path(self.document.get("source", ""))
        if source.suffix != ".md" or not source.is_file():
            return
        settings = settings_from_config(self.config)
        try:
            guide = _read(self.env, source, settings)
        except GuideError as exc:
            _report(self.env, f"{exc.path}:{exc.line}", exc.message)
            self._hide_directive_lines()
            return
        report_warnings(guide)
        if not guide.code_blocks:
            return
        outcome = _run(guide, settings, self.env, source)
        results = outcome.results
        for block in guide.runnable_blocks:
            if block.line in results:
                _report_result(self.env, block, results[block.line], settings)
        self.images = ImageStore(Path(self.env.doctreedir) / "doc_runner_outputs", source.parent)
        placed = self._render(guide, results)
        self._insert_values(guide, outcome.values)
        if results and settings.execution_mode != "off":
            self._offer_downloads(guide, results, settings, source, outcome.downloads)
        for block in guide.runnable_blocks:
            if block.line not in placed:
                logger.warning(
                    f"the output of the block at line {block.line} has no place in the page "
                    "(MyST rendered the block differently); please report this doc_runner bug",
                    location=f"{guide.path}:{block.line}",
                    type="doc_runner",
                    subtype="render",
                )

    def _render(self, guide: Guide, results: dict[int, BlockResult]) -> set[int]:
        """Place results under their code blocks; return the lines of the blocks placed."""
        candidates = [b for b in guide.code_blocks if not b.language.startswith("{")]
        placed: set[int] = set()
        position = 0
        for node in list(self.document.findall(nodes.literal_block)):
            text = node.astext().rstrip("\n")
            match = next((j for j in range(position, len(candidates)) if candidates[j].text.rstrip("\n") == text), None)
            if match is None:
                continue
            position = match + 1
            block = candidates[match]
            self._render_block(node, block, results.get(block.line))
            placed.add(block.line)
        return placed

    def _render_block(self, node: nodes.literal_block, block: Block, result: BlockResult | None) -> None:
        if block.verbatim:
            return
        parent = node.parent
        index = parent.index(node)
        if block.is_expected_output or not block.shows_code:
            parent.remove(node)
        else:
            if block.code is not None:
                shown = block.shown_source.rstrip("\n")
                node.children = []
                node += nodes.Text(shown)
                node.rawsource = shown
            index += 1
        extra: list[nodes.Node] = []
        hide = lambda name: block.code is not None and block.code.get(name) is not None
        if hide("hide-input") and block.shows_code and not block.is_expected_output:
            parent.remove(node)
            parent.insert(index - 1, render.collapsed([node], "Show code", "input"))
        if result is not None:
            extra = render.result_nodes(result, self.images, hide("hide-output"))
        else:
            reason = _not_run_reason(block)
            if reason:
                extra = [render.not_run_node(reason)]
        for offset, new in enumerate(extra):
            parent.insert(index + offset, new)

    def _insert_values(self, guide: Guide, values: dict[str, Any]) -> None:
        """Replace each ``{doc-value}`` role by its value's text; an unknown name is an error at its line."""
        for node in list(self.document.findall(value_node)):
            expression = node["expression"]
            output = values.get(expression)
            line = _role_line(guide, node.line or 1, expression)
            if output is None or output["output_type"] == "error":
                why = (output or {}).get("traceback", ["it was not evaluated (did the guide run?)"])[-1]
                _report(
                    self.env, f"{guide.path}:{line}", f"the value {{doc-value}}`{expression}` cannot be shown: {why}"
                )
                node.replace_self(nodes.literal(expression, expression, classes=["doc-runner-value-error"]))
                continue
            text = out.plain_text(output["data"])
            node.replace_self(nodes.inline(text, text, classes=["doc-runner-value"]))

    def _offer_downloads(
        self, guide: Guide, results: dict[int, BlockResult], settings: Settings, source: Path, written: bool
    ) -> None:
        """Write the guide as ``.ipynb`` and ``.py`` next to its page (unless the guide's process has, when it
        finished) and link them at the top of the page."""
        builder_format, outdir = _OUTPUTS.get(str(self.env.srcdir), ("", Path()))
        if builder_format != "html":
            return
        target = outdir / self.env.docname
        if not written:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                nb = notebook.to_notebook(guide, results, settings, source.name)
            except Exception as exc:  # nbformat's validation: a doc_runner bug, not the author's
                logger.warning(f"doc_runner could not export {guide.path} as a notebook: {exc}", location=guide.path)
                return
            (target.parent / f"{target.name}.ipynb").write_text(notebook.write_notebook(nb), encoding="utf-8")
            (target.parent / f"{target.name}.py").write_text(
                notebook.to_script(guide, settings, source.name), encoding="utf-8"
            )
        name = html.escape(target.name)
        links = (
            f'<p class="doc-runner-downloads">Download this guide as a <a href="{name}.ipynb" download>notebook</a>'
            f' (with its outputs) or a <a href="{name}.py" download>script</a>.</p>'
        )
        section = next(iter(self.document.findall(nodes.section)), None)
        where = section if section is not None else self.document
        title = next((i for i, child in enumerate(where.children) if isinstance(child, nodes.title)), -1)
        where.insert(title + 1, nodes.raw("", links, format="html", classes=[render.NO_SEARCH]))


def _role_line(guide: Guide, near: int, expression: str) -> int:
    """The guide line of the role ``{doc-value}`expression``` (MyST gives its paragraph's first line)."""
    lines = guide.source.split("\n")
    for number in range(max(near, 1), len(lines) + 1):
        if f"`{expression}`" in lines[number - 1]:
            return number
    return near


class value_node(nodes.Inline, nodes.Element):  # noqa: N801 - docutils node naming
    """A ``{doc-value}`expression``` role, replaced by the value once the guide has run."""


def value_role(
    name: str, rawtext: str, text: str, lineno: int, inliner: Any, options: Any = None, content: Any = None
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    node = value_node(rawtext, expression=text.strip())
    node.line = lineno
    return [node], []


class ResultDirective(RstDirective):
    """``.. doc-runner-result:: KEY``: the rendered result of a docstring example (internal)."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        result = env.temp_data.get("doc_runner_results", {}).get(self.arguments[0])
        return render.result_nodes(result) if result is not None else []  # docstrings: text outputs, no images


def _source_file(obj: Any) -> str | None:
    target = obj.fget if isinstance(obj, property) else obj
    try:
        return inspect.getsourcefile(inspect.unwrap(target)) if callable(target) else None
    except (TypeError, ValueError):
        return None


def process_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """autodoc hook: run the ``.. code-block:: python`` examples of a docstring and render them."""
    if not any("code-block::" in line for line in lines):
        return
    env = app.env
    settings = settings_from_config(app.config)
    path = _source_file(obj)
    display = _display_path(app.srcdir, Path(path)) if path else f"<docstring of {name}>"
    try:
        in_lines = find_code_blocks(lines, 1, display)
    except GuideError as exc:
        _report(env, f"{display} (docstring of {name})", exc.message)
        return
    if not in_lines:
        return
    codes = tuple(b.text.strip("\n") for b in in_lines)
    guide = Guide(display, tuple(in_lines))
    if path:
        found = [d for d in _docstring_guides(path, display) if d.codes == codes]
        if found:
            guide = found[0].guide
    results = (
        list(_run(guide, settings, env, Path(path) if path else None, name).results.values())
        if guide.runnable_blocks
        else []
    )
    by_block = dict(zip([b.line for b in guide.runnable_blocks], results, strict=True))
    store: dict[str, BlockResult] = env.temp_data.setdefault("doc_runner_results", {})  # type: ignore[assignment]
    for shown, real in reversed(list(zip(in_lines, guide.code_blocks, strict=True))):
        start, body = shown.line - 1, shown.code_line - 1
        end = shown.end_line  # exclusive index
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        options_lines = [line for line in lines[start + 1 : body] if line.strip()]
        code = real.shown_source.rstrip("\n").splitlines() if real.shows_code else []
        new = [lines[start], *options_lines, ""] + [f"{indent}    {line}".rstrip() for line in code] + [""]
        result = by_block.get(real.line)
        if result is not None:
            _report_result(env, real, result, settings)
            key = f"r{next(_keys)}"
            store[key] = result
            new += [f"{indent}.. doc-runner-result:: {key}", ""]
        elif (reason := _not_run_reason(real)) is not None:
            new += [f"{indent}.. note:: {reason}", ""]
        lines[start:end] = new


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _failures(env).pop(docname, None)
    execution_report.purge(env, docname)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    for docname, messages in _failures(other).items():
        if docname in docnames:
            _failures(env)[docname] = messages
    execution_report.merge(env, docnames, other)


def _config_inited(app: Sphinx, config: Config) -> None:
    """As soon as the settings are known (before Sphinx loads its environment and builder): start the build's
    run, ask what environment guides run in, and on a first build start the worker server (and hold the
    list of what is installed until reading ends)."""
    directory = sphinx_start.store_directory(app)
    _CACHE_DIRECTORIES[str(app.srcdir)] = directory
    execution_report.start_run()
    _AHEAD.clear()  # a parallel build's readers used their copies; the main process keeps its own
    _DOCSTRINGS.clear()
    _RESOLVED.clear()
    _STORES.clear()
    _LATER.clear()
    _UNSTORED.clear()
    _READ.clear()
    settings = settings_from_config(config)
    if settings.execution_mode != "off":
        first = sphinx_start.first_build(directory)  # guides will run (the server may have started already)
        _describe(settings, hold=first)
        if first:
            server_for(settings, settings.jobs or default_jobs())


def _read_all(app: Sphinx, env: BuildEnvironment) -> None:
    """``env-updated``: reading is over (and with it the guides run ahead): what is installed may be read."""
    settings = settings_from_config(app.config)
    if settings.execution_mode != "off":
        _release_installed(settings)


def _builder_inited(app: Sphinx) -> None:
    _OUTPUTS[str(app.srcdir)] = (app.builder.format, Path(app.outdir))


def _store_results(app: Sphinx) -> None:
    """When the build ends: store the results of the guides run ahead of reading (by now the short-lived
    interpreter has said what is installed; waiting for it while reading ends would hold the build up)."""
    while _UNSTORED:
        for message in _UNSTORED.pop(0)():
            logger.warning(message, type="doc_runner", subtype="cache")


def _outdated(app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """Documents to read again although their files did not change: those whose guides failed last time
    (an unchanged failing guide fails again), and those whose stored results went stale for reasons
    outside the document (environment, packages, first-party modules, settings, a lost store entry)."""
    outdated = {d for d in _failures(env) if d in env.found_docs}
    settings = settings_from_config(app.config)
    if settings.execution_mode == "off":
        return sorted(outdated)
    store, environment = _store(env), None
    for docname, guides in execution_report.by_document(env).items():
        if docname in outdated or docname not in env.found_docs:
            continue
        for guide in guides:
            if not guide.get("store_entry"):
                continue
            environment = environment or _environment(settings)
            if store.check(guide["store_entry"], settings, environment) is not None:
                outdated.add(docname)
                break
    return sorted(outdated)


def _finished(app: Sphinx, exception: BaseException | None) -> None:
    """Store what ran ahead; write the execution report; fail the build (exit status 1) when a block failed,
    even without ``-W``."""
    _store_results(app)
    if WorkerServer.started:
        logger.info(f"doc_runner: {WorkerServer.started} worker server(s) started by this build")
    if exception is None and app.env is not None and app.builder.format == "html":
        path = execution_report.write_json(app.env, Path(app.outdir))
        logger.info(f"doc_runner execution report: {path} and {Path(app.outdir) / execution_report.PAGE}.html")
    if exception is None and app.env is not None and app.config.doc_runner_execution_mode != "off":
        # Entries of guides that no document runs any more (removed, renamed, or moved docstrings).
        keep = {g["store_entry"] for g in execution_report.guides(app.env) if g.get("store_entry")}
        _store(app.env).prune(keep)
    failures = _failures(app.env) if app.env is not None else {}
    if exception is None and failures:
        lines = [f"  {message}" for messages in failures.values() for message in messages]
        logger.info(f"{len(lines)} doc_runner block(s) failed:\n" + "\n".join(lines))
        app.statuscode = 1


def setup(app: Sphinx) -> dict[str, Any]:
    """Register settings, the guide transform, the docstring hook and the rendering nodes."""
    app.setup_extension("sphinx.ext.autodoc")
    sphinx_start.start(app)
    report_link.register(app)
    passthrough = (render.visit_passthrough, render.depart_passthrough)
    app.add_node(
        render.details,
        html=(render.visit_details_html, render.depart_details_html),
        latex=passthrough,
        text=passthrough,
        man=passthrough,
        texinfo=passthrough,
    )
    app.add_node(
        render.summary,
        html=(render.visit_summary_html, render.depart_summary_html),
        latex=passthrough,
        text=passthrough,
        man=passthrough,
        texinfo=passthrough,
    )
    app.add_transform(ExecuteGuide)
    app.add_directive("doc-runner-result", ResultDirective)
    app.add_role("doc-value", value_role)
    app.add_node(
        value_node,
        html=(render.visit_passthrough, render.depart_passthrough),
        latex=passthrough,
        text=passthrough,
        man=passthrough,
        texinfo=passthrough,
    )
    delegate = (render.visit_output_text_other, render.depart_output_text_other)
    app.add_node(
        render.output_text,
        html=(render.visit_output_text_html, render.depart_passthrough),
        latex=delegate,
        text=delegate,
        man=delegate,
        texinfo=delegate,
    )
    app.connect("env-before-read-docs", skip_undecodable, priority=400)  # before _run_ahead reads them
    app.connect("env-before-read-docs", _run_ahead)
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("config-inited", _config_inited, priority=600)  # after the settings are checked
    app.connect("builder-inited", _builder_inited)
    app.connect("html-collect-pages", execution_report.collect_page)
    app.add_css_file("doc_runner.css")
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-updated", _read_all)
    app.connect("build-finished", _finished)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
