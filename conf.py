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


def setup(app):
    app.connect("doctree-read", _keep_inline_contents)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
