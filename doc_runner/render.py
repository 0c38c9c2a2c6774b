"""Docutils nodes for what runs produced: "Output", collapsible "Local Variables", "not executed".

The Sphinx extension puts them under guide blocks and under docstring examples alike.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes

from doc_runner.environment import provenance
from doc_runner.result import BlockResult, Status


class details(nodes.General, nodes.Element):  # noqa: N801 - docutils node naming
    """A collapsible section (HTML ``<details>``), closed by default."""


class summary(nodes.TextElement):  # noqa: N801 - docutils node naming
    """The always-visible title of a :class:`details` node."""


def visit_details_html(self: Any, node: details) -> None:
    self.body.append(self.starttag(node, "details", CLASS=" ".join(node["classes"])))


def depart_details_html(self: Any, node: details) -> None:
    self.body.append("</details>\n")


def visit_summary_html(self: Any, node: summary) -> None:
    self.body.append(self.starttag(node, "summary", ""))


def depart_summary_html(self: Any, node: summary) -> None:
    self.body.append("</summary>\n")


def visit_passthrough(self: Any, node: nodes.Node) -> None:
    """Other builders: render the children as plain content."""


def depart_passthrough(self: Any, node: nodes.Node) -> None:
    pass


def _literal(text: str, language: str) -> nodes.literal_block:
    text = text.rstrip("\n")
    block = nodes.literal_block(text, text, language=language)
    block["classes"].append("doc-runner-literal")
    return block


def output_node(text: str, title: str = "Output") -> nodes.container:
    """An always-visible "Output" block."""
    box = nodes.container(classes=["doc-runner-output"])
    box += nodes.paragraph(title, title, classes=["doc-runner-title"])
    box += _literal(text, "text")
    return box


def locals_node(text: str) -> details:
    """A collapsed "Local Variables" section with ``>>> name`` and each value's printout."""
    section = details(classes=["doc-runner-locals"])
    section += summary("Local Variables", "Local Variables")
    section += _literal(text, "text")
    return section


def not_run_node(reason: str) -> nodes.container:
    """A visible note that a block was not executed, and why."""
    box = nodes.container(classes=["doc-runner-not-run"])
    box += nodes.paragraph(reason, reason)
    return box


def result_nodes(result: BlockResult) -> list[nodes.Node]:
    """The nodes to place under an executed block."""
    out: list[nodes.Node] = []
    if result.status is Status.NOT_RUN:
        return out
    if result.status is Status.XFAILED:
        out.append(output_node(result.output, "Output (expected to fail)"))
    elif result.status is Status.FAILED:
        out.append(output_node(result.output + (result.error or ""), "Error"))
    elif result.output:
        out.append(output_node(result.output))
    if result.variables:
        out.append(locals_node(result.locals_text))
    if out and result.environment:
        out.append(provenance_node(provenance(result.environment)))
    return out


def provenance_node(text: str) -> nodes.paragraph:
    """Where the block ran (backend and device), under what it produced."""
    return nodes.paragraph(text, text, classes=["doc-runner-provenance"])
