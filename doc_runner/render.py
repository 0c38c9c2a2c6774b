"""Docutils nodes for what runs produced: outputs (text, stderr, images, HTML, math...), collapsible
"Local Variables", "not executed".

The Sphinx extension puts them under guide blocks and under docstring examples alike. Images are written
as files by an :class:`ImageStore` (into the build folder) and referenced, never inlined.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from pathlib import Path
from typing import Any

from docutils import nodes

from doc_runner import outputs as out
from doc_runner.environment import provenance
from doc_runner.result import BlockResult, LocalVariable, Status

#: Sphinx's search index skips what has this class: the words doc_runner puts on every page ("Output", "Local
#: Variables", "Ran on ...") would make every guide a match, and stemming them costs each page a millisecond.
#: What the blocks printed stays searchable.
NO_SEARCH = "no-search"


class ImageStore:
    """Writes images into ``folder`` (named by their digest) and gives the URI that a document in
    ``document_folder`` uses for them."""

    def __init__(self, folder: Path, document_folder: Path) -> None:
        self.folder = Path(folder)
        self.document_folder = Path(document_folder)

    def uri(self, mime: str, data: str) -> str:
        raw = data.encode() if mime == "image/svg+xml" else base64.b64decode(data)
        path = self.folder / f"{hashlib.sha256(raw).hexdigest()[:24]}{out.IMAGE_TYPES[mime]}"
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw)
        return Path(os.path.relpath(path, self.document_folder)).as_posix()


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


class output_text(nodes.literal_block):  # noqa: N801 - docutils node naming
    """Text a block printed: shown as it is, never highlighted (Pygments would cost a millisecond a block)."""


def visit_output_text_html(self: Any, node: output_text) -> None:
    self.body.append(
        '<div class="highlight-text notranslate"><div class="highlight"><pre>'
        + html.escape(node.astext() + "\n", quote=False)
        + "</pre></div></div>\n"
    )
    raise nodes.SkipNode


def visit_output_text_other(self: Any, node: output_text) -> None:
    self.visit_literal_block(node)


def depart_output_text_other(self: Any, node: output_text) -> None:
    self.depart_literal_block(node)


def _literal(text: str, language: str) -> nodes.literal_block:
    text = text.rstrip("\n")
    block = output_text(text, text) if language == "text" else nodes.literal_block(text, text, language=language)
    block["classes"].append("doc-runner-literal")
    return block


def output_node(text: str, title: str = "Output") -> nodes.container:
    """An always-visible "Output" block."""
    box = nodes.container(classes=["doc-runner-output"])
    box += nodes.paragraph(title, title, classes=["doc-runner-title", NO_SEARCH])
    box += _literal(text, "text")
    return box


def locals_node(variables: list[LocalVariable], images: ImageStore | None = None) -> details:
    """A collapsed "Local Variables" section with ``>>> name`` and each value's display."""
    section = details(classes=["doc-runner-locals"])
    section += summary("Local Variables", "Local Variables", classes=[NO_SEARCH])
    if not any(_rich_type(v.data) for v in variables):
        section += _literal("\n\n".join(v.text for v in variables), "text")
        return section
    for variable in variables:
        if _rich_type(variable.data):
            section += _literal(f">>> {variable.name}", "text")
            section += bundle_nodes(variable.data, images)
        else:
            section += _literal(variable.text, "text")
    return section


def _rich_type(data: dict[str, Any]) -> str | None:
    mime = out.preferred_type(data)
    return mime if mime not in (None, "text/plain") else None


def _latex(text: str) -> str:
    text = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")):
        if text.startswith(left) and text.endswith(right) and len(text) > len(left) + len(right):
            return text[len(left) : -len(right)].strip()
    return text


def bundle_nodes(data: dict[str, Any], images: ImageStore | None = None) -> list[nodes.Node]:
    """One MIME bundle as the page shows it: the type it prefers (HTML, image, Markdown, math, JSON, text)."""
    mime = out.preferred_type(data)
    value = data.get(mime, "") if mime else ""
    if isinstance(value, list) and mime != "application/json":
        value = "".join(value)
    if mime == "text/html":
        return [nodes.raw("", value, format="html", classes=["doc-runner-html"])]
    if mime in out.IMAGE_TYPES and images is not None:
        return [nodes.image(uri=images.uri(mime, value), alt=out.plain_text(data)[:200], classes=["doc-runner-image"])]
    if mime == "text/markdown":
        from markdown_it import MarkdownIt

        return [nodes.raw("", MarkdownIt("commonmark").render(value), format="html", classes=["doc-runner-html"])]
    if mime == "text/latex":
        return [math_node(_latex(value))]
    if mime == "application/json":
        return [_literal(json.dumps(value, indent=2), "json")]
    text = out.plain_text(data)
    return [_literal(text, "text")] if text else []


def math_node(latex: str) -> nodes.Node:
    """LaTeX as MathML, which browsers typeset without a script or a network (``latex2mathml``); the
    source as text where it cannot be converted."""
    from latex2mathml.converter import convert

    latex = latex.replace("\\displaystyle", "").strip()
    try:
        mathml = convert(latex, display="block")
    except Exception:  # a construct latex2mathml does not know: show the source
        return _literal(latex, "latex")
    return nodes.raw("", f'<div class="doc-runner-math">{mathml}</div>', format="html")


def outputs_nodes(outputs: list[dict[str, Any]], images: ImageStore | None = None) -> list[nodes.Node]:
    """A block's outputs in order: streams as text blocks (stderr marked), displays by their MIME type."""
    found: list[nodes.Node] = []
    for output in outputs:
        kind = output["output_type"]
        if kind == "stream":
            stderr = output["name"] == "stderr"
            box = output_node(output["text"], "stderr" if stderr else "Output")
            if stderr:
                box["classes"].append("doc-runner-stderr")
            found.append(box)
        elif kind == "error":
            found.append(output_node(out.error_text(output), "Output"))
        else:
            box = nodes.container(classes=["doc-runner-output", "doc-runner-display"])
            box += bundle_nodes(output.get("data", {}), images)
            found.append(box)
    return found


def collapsed(children: list[nodes.Node], title: str, kind: str) -> details:
    """``children`` behind a click (``hide-input`` / ``hide-output``)."""
    section = details(classes=["doc-runner-collapsed", f"doc-runner-{kind}"])
    section += summary(title, title, classes=[NO_SEARCH])
    for child in children:
        section += child
    return section


def not_run_node(reason: str) -> nodes.container:
    """A visible note that a block was not executed, and why."""
    box = nodes.container(classes=["doc-runner-not-run", NO_SEARCH])
    box += nodes.paragraph(reason, reason)
    return box


def result_nodes(result: BlockResult, images: ImageStore | None = None, hide_output: bool = False) -> list[nodes.Node]:
    """The nodes to place under an executed block."""
    found: list[nodes.Node] = []
    if result.status is Status.NOT_RUN:
        return found
    if result.status is Status.SKIPPED:  # an earlier block failed: say so where the output would be
        return [not_run_node(result.error or "skipped: an earlier block failed")]
    if result.status is Status.XFAILED:
        found.append(output_node(result.output, "Output (expected to fail)"))
    elif result.status is Status.FAILED:
        found.append(output_node(result.output + (result.error or ""), "Error"))
    elif result.outputs:
        shown = outputs_nodes(result.outputs, images)
        found += [collapsed(shown, "Show output", "output")] if hide_output else shown
    if result.variables:
        found.append(locals_node(result.variables, images))
    if found and result.environment:
        found.append(provenance_node(provenance(result.environment)))
    return found


def provenance_node(text: str) -> nodes.paragraph:
    """Where the block ran (backend and device), under what it produced."""
    return nodes.paragraph(text, text, classes=["doc-runner-provenance", NO_SEARCH])
