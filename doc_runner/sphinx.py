"""The Sphinx extension: run each guide while Sphinx reads it and render what it produced.

Enable with ``extensions = ["myst_parser", "doc_runner"]``. Settings (all optional):

``doc_runner_execution_mode``
    ``"auto"`` (default): render a guide's stored results when its code and environment are unchanged,
    else execute it and store the results; ``"force"``: execute every guide; ``"off"``: render code only.
``doc_runner_cache_dir``
    Folder of stored results, relative to ``conf.py``'s folder (default: ``doc_runner_cache`` in Sphinx's
    doctree folder).
``doc_runner_timeout``
    Seconds one block may run before it is stopped and reported (default 60; 0: none).
``doc_runner_pre_imports``
    ``{alias: module}`` bound in every guide's namespace (default ``{"tp": "tripy", "np": "numpy"}``).
``doc_runner_marker_prefix``
    The word opening region markers, as in ``<!-- Tripy: TEST: IGNORE Start -->`` (default ``"Tripy"``).
``doc_runner_library_packages``
    Packages whose objects are shown under "Local Variables" by default (default ``("tripy",)``).

A failing block is reported as a warning at ``guide.md:LINE`` (an error under ``-W``)
with its code and a traceback through the guide's lines, and the build fails at its end.

Every output says where it ran (backend and device). The build ends with an execution report, per guide
and block (time, stored or executed and why, device, failures), as the page ``doc_runner_report.html``
and as ``doc_runner_report.json`` in the output folder.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive as RstDirective
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.errors import ExtensionError
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

from doc_runner import execution_report, render
from doc_runner.cache import GuideCache, Lookup
from doc_runner.docstrings import find_code_blocks, read_docstring_guides
from doc_runner.environment import describe, first_party_modules, remember_first_party
from doc_runner.errors import GuideError
from doc_runner.execute import GuideRun
from doc_runner.reader import Block, Guide, read_guide
from doc_runner.report import failure_report
from doc_runner.result import BlockResult, Status
from doc_runner.settings import Settings

logger = logging.getLogger(__name__)
_keys = itertools.count()


def settings_from_config(config: Config) -> Settings:
    """The :class:`Settings` named ``doc_runner_*`` in ``conf.py``."""
    try:
        return Settings.from_values(
            {f.name: getattr(config, f"doc_runner_{f.name}") for f in dataclasses.fields(Settings)}
        )
    except ValueError as exc:
        raise ExtensionError(str(exc)) from exc


def _failures(env: BuildEnvironment) -> dict[str, list[str]]:
    if not hasattr(env, "doc_runner_failures"):
        env.doc_runner_failures = {}  # type: ignore[attr-defined]
    return env.doc_runner_failures  # type: ignore[attr-defined,no-any-return]


def _report(env: BuildEnvironment, location: str | tuple[str, int], message: str) -> None:
    """Warn (an error under -W) and remember the failure so the build fails at its end."""
    logger.warning(message, location=location, type="doc_runner", subtype="execution")
    where = location if isinstance(location, str) else f"{location[0]}:{location[1]}"
    _failures(env).setdefault(env.docname, []).append(f"{where}: {message.splitlines()[0]}")


def _report_result(env: BuildEnvironment, block: Block, result: BlockResult) -> None:
    if result.status is Status.FAILED:
        _report(env, result.location, failure_report(block, result, with_location=False))


def _display_path(srcdir: str | Path, path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(srcdir).resolve()).as_posix()
    except ValueError:
        return str(path)


#: The store's folder per source folder, set when the builder starts (parallel readers inherit it).
_CACHE_DIRECTORIES: dict[str, Path] = {}


def _run(guide: Guide, settings: Settings, env: BuildEnvironment) -> dict[int, BlockResult]:
    """The guide's results: stored ones when still valid (``auto``), else a fresh run (then stored)."""
    if not guide.runnable_blocks:
        return {}
    if settings.execution_mode == "off":
        with GuideRun(guide, settings) as run:
            return {block.line: run.run(block) for block in guide.runnable_blocks}
    environment = describe(settings.library_packages)
    store = _store(env)
    if settings.execution_mode == "auto":
        lookup = store.lookup(guide, settings, environment)
    else:
        lookup = Lookup(None, "doc_runner_execution_mode is 'force'")
    if lookup.results is not None:
        results = lookup.results
        for result in results.values():
            result.cached, result.cache_reason = True, lookup.reason
        root = Path(env.srcdir).resolve()
        for relative in lookup.first_party:  # nothing ran, but these still decide the page
            env.note_dependency(str(root / relative))
    else:
        with GuideRun(guide, settings, lambda: describe(settings.library_packages)) as run:
            results = {block.line: run.run(block) for block in guide.runnable_blocks}
        for result in results.values():
            result.cache_reason = lookup.reason
        try:
            store.store(guide, settings, environment, results)
        except OSError as exc:
            logger.warning(f"could not store the results of {guide.path}: {exc}", type="doc_runner", subtype="cache")
    _note_first_party_dependencies(env)
    execution_report.record(env, guide, results, store.entry_name(guide))
    return results


def _store(env: BuildEnvironment) -> GuideCache:
    return GuideCache(_CACHE_DIRECTORIES.get(str(env.srcdir), Path(env.doctreedir) / "doc_runner_cache"), env.srcdir)


def _note_first_party_dependencies(env: BuildEnvironment) -> None:
    """Make Sphinx re-read the document when a first-party module it may have run changes."""
    root = Path(env.srcdir).resolve()
    for relative in first_party_modules(root):
        env.note_dependency(str(root / relative))


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

    def apply(self, **kwargs: Any) -> None:
        source = Path(self.document.get("source", ""))
        if source.suffix != ".md" or not source.is_file():
            return
        settings = settings_from_config(self.config)
        try:
            guide = read_guide(
                source,
                settings.marker_prefix,
                _display_path(self.env.srcdir, source),
                getattr(self.env, "myst_config", None),
            )
        except GuideError as exc:
            _report(self.env, f"{exc.path}:{exc.line}", exc.message)
            return
        if not guide.code_blocks:
            return
        results = _run(guide, settings, self.env)
        for block in guide.runnable_blocks:
            if block.line in results:
                _report_result(self.env, block, results[block.line])
        placed = self._render(guide, results)
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
        if result is not None:
            extra = render.result_nodes(result)
        else:
            reason = _not_run_reason(block)
            if reason:
                extra = [render.not_run_node(reason)]
        for offset, new in enumerate(extra):
            parent.insert(index + offset, new)


class ResultDirective(RstDirective):
    """``.. doc-runner-result:: KEY``: the rendered result of a docstring example (internal)."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        result = env.temp_data.get("doc_runner_results", {}).get(self.arguments[0])
        return render.result_nodes(result) if result is not None else []


def _source_file(obj: Any) -> str | None:
    target = obj.fget if isinstance(obj, property) else obj
    try:
        return inspect.getsourcefile(inspect.unwrap(target))
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
        try:
            found = [d for d in read_docstring_guides(path, display) if d.codes == codes]
        except (GuideError, SyntaxError, OSError):
            found = []
        if found:
            guide = found[0].guide
    results = list(_run(guide, settings, env).values()) if guide.runnable_blocks else []
    by_block = dict(zip([b.line for b in guide.runnable_blocks], results, strict=True))
    store = env.temp_data.setdefault("doc_runner_results", {})
    for shown, real in reversed(list(zip(in_lines, guide.code_blocks, strict=True))):
        start, body = shown.line - 1, shown.code_line - 1
        end = shown.end_line  # exclusive index
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        options_lines = [line for line in lines[start + 1 : body] if line.strip()]
        code = real.shown_source.rstrip("\n").splitlines() if real.shows_code else []
        new = [lines[start], *options_lines, ""] + [f"{indent}    {line}".rstrip() for line in code] + [""]
        result = by_block.get(real.line)
        if result is not None:
            _report_result(env, real, result)
            key = f"r{next(_keys)}"
            store[key] = result
            new += [f"{indent}.. doc-runner-result:: {key}", ""]
        elif (reason := _not_run_reason(real)) is not None:
            new += [f"{indent}.. note:: {reason}", ""]
        lines[start:end] = new


def _add_static(app: Sphinx) -> None:
    static = str(Path(__file__).parent / "static")
    if static not in app.config.html_static_path:
        app.config.html_static_path.append(static)


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _failures(env).pop(docname, None)
    execution_report.purge(env, docname)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    for docname, messages in _failures(other).items():
        if docname in docnames:
            _failures(env)[docname] = messages
    execution_report.merge(env, docnames, other)


def _builder_inited(app: Sphinx) -> None:
    _add_static(app)
    configured = app.config.doc_runner_cache_dir
    directory = Path(app.confdir) / configured if configured else Path(app.doctreedir) / "doc_runner_cache"
    _CACHE_DIRECTORIES[str(app.srcdir)] = directory
    remember_first_party(Path(app.srcdir))
    execution_report.start_run()


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
            environment = environment or describe(settings.library_packages)
            if store.check(guide["store_entry"], settings, environment) is not None:
                outdated.add(docname)
                break
    return sorted(outdated)


def _finished(app: Sphinx, exception: BaseException | None) -> None:
    """Write the execution report; fail the build (exit status 1) when a block failed, even without ``-W``."""
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
    defaults = Settings()
    app.add_config_value("doc_runner_execution_mode", defaults.execution_mode, "env", str)
    app.add_config_value("doc_runner_timeout", defaults.timeout, "env", (int, float))
    app.add_config_value("doc_runner_pre_imports", dict(defaults.pre_imports), "env", dict)
    app.add_config_value("doc_runner_marker_prefix", defaults.marker_prefix, "env", str)
    app.add_config_value("doc_runner_library_packages", defaults.library_packages, "env", (tuple, list))
    app.add_config_value("doc_runner_cache_dir", defaults.cache_dir, "", str)
    passthrough = (render.visit_passthrough, render.depart_passthrough)
    others = {name: passthrough for name in ("latex", "text", "man", "texinfo")}
    app.add_node(render.details, html=(render.visit_details_html, render.depart_details_html), **others)
    app.add_node(render.summary, html=(render.visit_summary_html, render.depart_summary_html), **others)
    app.add_transform(ExecuteGuide)
    app.add_directive("doc-runner-result", ResultDirective)
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("builder-inited", _builder_inited)
    app.connect("html-collect-pages", execution_report.collect_page)
    app.add_css_file("doc_runner.css")
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("build-finished", _finished)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
