"""Sphinx configuration for the tripy docs. Sphinx reads only ``docs/``; the build goes to ``_build/``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

project = "tripy"
author = "tripy contributors"
copyright = "2026, tripy contributors"

extensions = [
    "myst_parser",
    "doc_runner",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_copybutton",
]

# Only the docs folder is a source: not README.md, examples/, tests/, .venv/ or _build/.
root_doc = "docs/index"
include_patterns = ["docs/**"]
exclude_patterns = ["_build", ".venv", "**/.ipynb_checkpoints"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}

# Every reference to tripy's API must resolve; references to other libraries may stay plain text.
nitpicky = True
# Internal types named in signatures (tripy.<module>.<Name>) are not part of the public API.
nitpick_ignore_regex = [(r"py:.*", r"(?!tripy\b).*"), (r"py:.*", r"tripy\.[a-z_0-9]+\..+")]

# --- doc_runner -------------------------------------------------------------------------------
doc_runner_execution_mode = os.environ.get("DOC_RUNNER_EXECUTION_MODE", "auto")
doc_runner_timeout = 60.0
doc_runner_pre_imports = {"tp": "tripy", "np": "numpy"}
doc_runner_marker_prefix = "Tripy"

# --- MyST ---------------------------------------------------------------------------------------
myst_heading_anchors = 3
# `source:/path` links point at a file of this repository. Set TRIPY_SOURCE_URL to the
# repository's browsable root (e.g. ".../blob/main") when publishing; by default they
# point at the checkout the docs were built from.
SOURCE_URL = os.environ.get("TRIPY_SOURCE_URL", ROOT.as_uri()).rstrip("/")
myst_url_schemes = {
    "http": None,
    "https": None,
    "mailto": None,
    "source": {"url": SOURCE_URL + "{{path}}", "title": "{{path}}", "classes": ["source-link"]},
}

# --- autodoc ------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"show-inheritance": False}

# --- HTML ---------------------------------------------------------------------------------------
html_theme = "furo"
html_title = "tripy"
# The copy button copies exactly the code on the page: strip no prompts, hide nothing but line numbers.
copybutton_exclude = ".linenos"
copybutton_prompt_text = ""
copybutton_only_copy_prompt_lines = False
copybutton_remove_prompts = False


# --- guides written for other themes ------------------------------------------------------------
FURO_CONTENTS_CLASS = "this-will-duplicate-information-and-it-is-still-useful-here"


def _keep_inline_contents(app, doctree):
    """Furo paints an inline ``{contents}`` red; a guide that asks for one (the seed guide does) gets it."""
    from docutils import nodes

    for topic in doctree.findall(nodes.topic):
        if "contents" in topic["classes"] and FURO_CONTENTS_CLASS not in topic["classes"]:
            topic["classes"].append(FURO_CONTENTS_CLASS)


# --- the API reference, derived from tripy.__all__ ----------------------------------------------
API_KINDS = ("tensors", "dtypes", "operations", "modules", "compiler", "other")


def api_kind(obj):
    """Which reference page documents a public tripy object."""
    import inspect

    import tripy

    module = getattr(obj, "__module__", "") or ""
    if isinstance(obj, tripy.DataType) or obj is tripy.DataType:
        return "dtypes"
    if module.startswith("tripy.compiler"):
        return "compiler"
    if inspect.isclass(obj) and issubclass(obj, tripy.Tensor):
        return "tensors"
    if inspect.isclass(obj) and issubclass(obj, tripy.Module):
        return "modules"
    if inspect.isfunction(obj):
        return "operations"
    return "other"


def api_rst(kind):
    """autodoc directives for every public object of one kind, in ``tripy.__all__`` order."""
    import inspect

    import tripy

    lines, seen = [], set()
    for name in tripy.__all__:
        obj = getattr(tripy, name)
        if id(obj) in seen or api_kind(obj) != kind:
            continue  # aliases (tp.dtype is tp.DataType) are documented once
        seen.add(id(obj))
        if inspect.isclass(obj):
            lines += [f".. autoclass:: tripy.{name}", "   :members:", ""]
        elif inspect.isfunction(obj):
            lines += [f".. autofunction:: tripy.{name}", ""]
        else:
            lines += [f".. autodata:: tripy.{name}", "   :no-value:", ""]
    return lines


def _api_directive():
    from docutils import nodes
    from docutils.parsers.rst import Directive, directives
    from docutils.statemachine import StringList

    class TripyApi(Directive):
        """``.. tripy-api:: KIND``: document every public tripy object of that kind."""

        required_arguments = 1

        def run(self):
            kind = directives.choice(self.arguments[0], API_KINDS)
            container = nodes.container()
            self.state.nested_parse(StringList(api_rst(kind), source="tripy.__all__"), self.content_offset, container)
            return container.children

    return TripyApi


def setup(app):
    app.connect("doctree-read", _keep_inline_contents)
    app.add_directive("tripy-api", _api_directive())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
