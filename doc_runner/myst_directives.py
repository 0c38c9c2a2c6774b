"""Which ``{name}`` fences MyST renders with a Markdown body, decided as MyST decides it.

MyST looks the directive up in docutils' registry (which, during a Sphinx build, holds Sphinx's and
every extension's directives), parses its arguments and options with
:func:`myst_parser.parsers.directives.parse_directive_text`, and renders nothing of an unknown
directive or of one whose arguments or options are in error. Only what it renders may run.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

#: Directives whose body is not Markdown (code, raw text, rST, tables of data, file lists): MyST never
#: renders a code fence from their body.
NON_MARKDOWN_DIRECTIVES = frozenset(
    {
        "code-block", "code", "sourcecode", "code-cell", "literalinclude", "eval-rst", "raw", "math",
        "csv-table", "toctree", "contents", "include", "mermaid", "graphviz", "doctest", "testcode",
        "testoutput", "highlight", "productionlist", "automodule", "autoclass", "autofunction",
        "automethod", "autoattribute", "autodata", "autoexception", "autosummary", "parsed-literal",
        "line-block", "glossary", "tabularcolumns",
    }
)  # fmt: skip

#: Sphinx's own directives with a Markdown body (name -> modules that may define it, class), for reading
#: a guide outside a Sphinx build (pytest): there docutils' registry holds only docutils' directives.
_CHANGESET = (("sphinx.domains.changeset",), "VersionChange")
SPHINX_DIRECTIVES: dict[str, tuple[tuple[str, ...], str]] = {
    "seealso": (("sphinx.directives.admonitions", "sphinx.directives.other"), "SeeAlso"),
    "only": (("sphinx.directives.other",), "Only"),
    "hlist": (("sphinx.directives.other",), "HList"),
    **{
        name: _CHANGESET
        for name in ("versionadded", "versionchanged", "versionremoved", "deprecated")
        + ("version-added", "version-changed", "version-removed", "version-deprecated")
    },
}


@cache
def _lookup_document() -> Any:
    """A silent docutils document for the registry's messages (a lookup reports misses to one)."""
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    settings = get_default_settings(Parser)
    settings.report_level = 5
    return new_document("<doc_runner directive lookup>", settings)


def directive_class(name: str) -> Any:
    """The class MyST would use for directive ``name``, or None when MyST would call it unknown."""
    from docutils.parsers.rst import directives, languages

    # Looked up at call time: during a Sphinx read, Sphinx replaces this function with one that
    # also knows its domains' directives.
    found, _ = directives.directive(name, languages.get_language("en"), _lookup_document())
    if found is None and name in SPHINX_DIRECTIVES:
        modules, attribute = SPHINX_DIRECTIVES[name]
        for module in modules:
            try:
                found = getattr(importlib.import_module(module), attribute, None)
            except ImportError:
                return None
            if found is not None:
                break
    return found


def _is_pseudo_section(cls: Any) -> bool:
    """Topic and sidebar: allowed only where a section could be (docutils' ``BasePseudoSection``)."""
    from docutils.parsers.rst.directives.body import BasePseudoSection

    return isinstance(cls, type) and issubclass(cls, BasePseudoSection)


#: Directives in whose body a topic or a sidebar may stand (their node is no body element); in a sidebar,
#: only a topic may.
SECTION_LIKE_BODIES = frozenset({"only"} | {name for name, found in SPHINX_DIRECTIVES.items() if found == _CHANGESET})


def _pseudo_section_allowed(name: str, container: str) -> bool:
    """Whether topic or sidebar ``name`` may stand in ``container`` (see :func:`markdown_body`)."""
    if container == "":
        return True
    if container == "sidebar":
        return name == "topic"
    return container in SECTION_LIKE_BODIES


def markdown_body(
    name: str, argument: str, content: str, fence_line: int, container: str = "", classes: dict[str, Any] | None = None
) -> tuple[str, int] | None:
    """The Markdown that MyST renders from directive ``name`` (``argument`` on its fence line, at
    ``fence_line``, then ``content``).

    Returns ``(text, offset)``: the body, split into lines as MyST splits it (``str.splitlines``), and
    the index of its first line in ``content.splitlines()`` (-1: the fence line's argument is the
    body's first line). None when MyST renders no Markdown from it: a directive whose body is not
    Markdown, an unknown directive, one whose arguments or options are in error (MyST shows only
    the error), or a topic or sidebar where docutils refuses one: ``container`` is what the fence
    stands in, ``""`` for the document itself, ``"list"`` for a list item or block quote, else the
    name of the directive whose body it is. ``classes`` caches :func:`directive_class` for one document.
    """
    if name in NON_MARKDOWN_DIRECTIVES:
        return None
    try:
        from myst_parser.parsers.directives import MarkupError, parse_directive_text
    except ImportError:  # pragma: no cover - myst-parser comes with the docs extra
        return None
    if classes is None:
        cls = directive_class(name)
    elif name in classes:
        cls = classes[name]
    else:
        cls = classes[name] = directive_class(name)
    if cls is None or not getattr(cls, "has_content", False):
        return None
    if _is_pseudo_section(cls) and not _pseudo_section_allowed(name, container):
        return None
    try:
        parsed = parse_directive_text(cls, argument, content, line=fence_line - 1)
    except MarkupError:
        return None
    if not parsed.body:
        return None
    return "\n".join(parsed.body) + "\n", parsed.body_offset
