"""What the Sphinx extension reports about a guide's source itself: a source that is not valid UTF-8
(Sphinx would crash reading it) and the reader's near-miss warnings, each at its ``file:line``."""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

from doc_runner.errors import GuideEncodingError
from doc_runner.reader import Guide, decode_guide

logger = logging.getLogger(__name__)

#: ``source_encoding`` values under which Sphinx decodes a source as UTF-8.
UTF8 = {"utf-8", "utf-8-sig", "utf8"}


def _shown(srcdir: str | Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(Path(srcdir).resolve()).as_posix()
    except ValueError:
        return str(path)


def skip_undecodable(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """``env-before-read-docs``: a source that is not valid UTF-8 is an error at its ``file:line`` and is not
    read (nor written), instead of Sphinx's crash on ``UnicodeDecodeError``; the build exits 1."""
    if str(app.config.source_encoding).lower() not in UTF8:
        return
    for docname in list(docnames):
        path = Path(env.doc2path(docname))
        try:
            decode_guide(path.read_bytes(), _shown(env.srcdir, path))
        except GuideEncodingError as error:
            docnames.remove(docname)
            env.found_docs.discard(docname)
            logger.error(error.message, location=f"{error.path}:{error.line}", type="doc_runner", subtype="encoding")
            app.statuscode = 1
        except OSError:
            continue  # Sphinx reports a file it cannot open


def report_warnings(guide: Guide) -> None:
    """Log the guide's near-miss directives and markers as Sphinx warnings at their lines."""
    for warning in guide.warnings:
        logger.warning(
            warning.message, location=f"{warning.path}:{warning.line}", type="doc_runner", subtype="near_miss"
        )
