"""The execution report of a Sphinx build: per guide and block, time, stored or executed (and why),
where it ran, and failures. Kept in the build environment (so parallel reads merge it and unchanged
documents keep theirs), written at the end as ``doc_runner_report.json`` and the page
``doc_runner_report.html``."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

from doc_runner.environment import provenance
from doc_runner.reader import Guide
from doc_runner.result import BlockResult, Status

PAGE = "doc_runner_report"
#: Identifies the build that read a document (documents an incremental build did not read keep theirs).
_RUN = {"id": ""}


def start_run() -> None:
    _RUN["id"] = f"{time.time():.6f}"
    _RUN["changed"] = ""


def run_id() -> str:
    """Identifies the build now running."""
    return _RUN["id"]


def _entries(env: BuildEnvironment) -> dict[str, list[dict[str, Any]]]:
    if not hasattr(env, "doc_runner_report"):
        env.doc_runner_report = {}  # type: ignore[attr-defined]
    return env.doc_runner_report  # type: ignore[attr-defined]


def error_summary(result: BlockResult) -> str | None:
    """The line a report shows for a block's error: the exception's first line (not the code a traceback
    quotes, nor the end of a multi-line message), else the error's first line."""
    if not result.error:  # passed (an allowed exception's message is output, not an error)
        return None
    shown = [o for o in result.made if o.get("output_type") == "error"]
    if shown and result.status is Status.XFAILED:
        message = str(shown[-1].get("evalue", "")).strip().splitlines()
        return f"{shown[-1].get('ename', 'Error')}: {message[0]}" if message else str(shown[-1].get("ename"))
    lines = (result.error or "").strip().splitlines()
    if not lines:
        return None
    if lines[0].startswith("Traceback"):
        return next((line for line in lines[1:] if line and not line.startswith(" ")), lines[-1])
    return lines[0]


def record(
    env: BuildEnvironment,
    guide: Guide,
    results: dict[int, BlockResult],
    store_entry: str = "",
    obj: str = "",
    wall: float = 0.0,
) -> None:
    """Add one guide's run (or its stored results) to the report of the document being read;
    ``store_entry`` names its entry in the result store, ``obj`` the object of a docstring's examples,
    ``wall`` the seconds its process took, its start included (0 when it was not executed)."""
    ordered = [results[block.line] for block in guide.runnable_blocks if block.line in results]
    if not ordered:
        return
    first = ordered[0]
    _entries(env).setdefault(env.docname, []).append(
        {
            "guide": guide.path,
            "object": obj,
            "document": env.docname,
            "cached": first.cached,
            "reason": first.cache_reason,
            "ran_on": provenance(first.environment) if first.environment else "",
            "seconds": round(sum(r.duration for r in ordered), 4),
            "process_seconds": round(wall, 4),
            "store_entry": store_entry,
            "run": _RUN["id"],
            "blocks": [
                {
                    "line": r.line,
                    "status": r.status.value,
                    "seconds": round(r.duration, 4),
                    "ran_on": provenance(r.environment) if r.environment else "",
                    "error": error_summary(r),
                }
                for r in ordered
            ],
        }
    )


def purge(env: BuildEnvironment, docname: str) -> None:
    if _entries(env).pop(docname, None) is not None:
        _RUN["changed"] = "yes"


def merge(env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    for docname, guides in _entries(other).items():
        if docname in docnames:
            _entries(env)[docname] = guides


def by_document(env: BuildEnvironment) -> dict[str, list[dict[str, Any]]]:
    return _entries(env)


def guides(env: BuildEnvironment) -> list[dict[str, Any]]:
    """Every guide's record, in document order; ``this_build`` says whether this build read it."""
    records = [guide for docname in sorted(_entries(env)) for guide in _entries(env)[docname]]
    return [{**g, "this_build": g.get("run") == _RUN["id"]} for g in records]


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    blocks = [b for g in records for b in g["blocks"]]
    return {
        "guides": len(records),
        "guides_from_store": sum(g["cached"] for g in records),
        "blocks": len(blocks),
        "failed": sum(b["status"] == "failed" for b in blocks),
        "guides_from_earlier_builds": sum(not g["this_build"] for g in records),
        "seconds_executed": round(sum(g["seconds"] for g in records if not g["cached"] and g["this_build"]), 3),
    }


def write_json(env: BuildEnvironment, outdir: Path) -> Path:
    records = guides(env)
    path = outdir / f"{PAGE}.json"
    path.write_text(json.dumps({"summary": summary(records), "guides": records}, indent=1), encoding="utf-8")
    return path


def page_html(records: list[dict[str, Any]]) -> str:
    """The report as an HTML fragment: a summary line, then per guide a heading row (how its results
    were obtained) and one row per block."""
    esc = html.escape
    total = summary(records)
    parts = [
        "<h1>Execution report</h1>",
        f"<p>{total['guides']} guides ({total['guides_from_store']} from stored results, "
        f"{total['guides_from_earlier_builds']} in documents this build did not read again), {total['blocks']} "
        f"blocks, {total['failed']} failed; {total['seconds_executed']} s executing.</p>",
        '<table class="docutils align-default doc-runner-report"><thead><tr><th>block</th>'
        "<th>status</th><th>seconds</th><th>ran on</th></tr></thead>",
    ]
    for guide in records:
        where = ("stored results" if guide["cached"] else f"executed in {guide['seconds']:.2f} s") + (
            "" if guide["this_build"] else ", earlier build"
        )
        name = esc(guide["guide"]) + (f" ({esc(guide['object'])})" if guide.get("object") else "")
        parts.append(
            f'<tbody><tr class="doc-runner-report-guide"><th colspan="4">{name}: {where} '
            f"({esc(guide['reason'])})</th></tr>"
        )
        for block in guide["blocks"]:
            status = esc(block["status"]) + (f": {esc(block['error'])}" if block["error"] else "")
            parts.append(
                f"<tr><td>line {block['line']}</td><td>{status}</td><td>{block['seconds']:.3f}</td>"
                f"<td>{esc(block['ran_on'])}</td></tr>"
            )
        parts.append("</tbody>")
    parts.append("</table>")
    return "\n".join(parts)


def collect_page(app: Sphinx) -> Iterator[tuple[str, dict[str, Any], str]]:
    """``html-collect-pages``: the report as a page of the site, in its theme. A build that read no
    document with a guide leaves the page the last one wrote: every guide's results were obtained as it
    says, and none was removed (rendering the page, its theme's navigation included, is most of what such a
    build spends here)."""
    records = guides(app.env)
    page = Path(app.outdir) / f"{PAGE}{getattr(app.builder, 'out_suffix', '.html')}"
    if not _RUN.get("changed") and not any(g["this_build"] for g in records) and page.is_file():
        return
    yield PAGE, {"title": "Execution report", "body": page_html(records)}, "page.html"
