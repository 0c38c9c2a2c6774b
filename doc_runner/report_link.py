"""The ``{doc-runner-report}`` role: a link to the build's execution report page, which is generated (not
a document), so its address is only known once the builder writes the page that links it."""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

from doc_runner.execution_report import PAGE


class report_link(nodes.Inline, nodes.TextElement):  # noqa: N801 - docutils node naming
    """A link to the execution report, resolved when the document is written."""


def report_role(
    name: str, rawtext: str, text: str, lineno: int, inliner: Any, options: Any = None, content: Any = None
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    return [report_link(rawtext, text or "Execution report")], []


def _resolve(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(report_link)):
        text = node.astext()
        if app.builder.format == "html":
            uri = app.builder.get_relative_uri(docname, PAGE)
            node.replace_self(nodes.reference(text, text, refuri=uri, classes=["doc-runner-report-link"]))
        else:
            node.replace_self(nodes.Text(text))


def register(app: Sphinx) -> None:
    app.add_role("doc-runner-report", report_role)
    app.add_node(report_link)
    app.connect("doctree-resolved", _resolve)
