"""Data files a guide reads, declared with ``# doc: depends PATHS`` (globs relative to the guide) and the
``doc_runner_depends`` setting (globs relative to the source folder). The store keeps their digests with a
guide's results, so changing, adding or removing one of them runs the guide again."""

from __future__ import annotations

import glob
import posixpath
from pathlib import Path
from typing import Any

from doc_runner.environment import file_digest
from doc_runner.reader import Guide
from doc_runner.settings import Settings


def guide_patterns(guide: Guide) -> list[str]:
    """The guide's ``# doc: depends`` globs, made relative to the source folder (as ``guide.path`` is)."""
    folder = glob.escape(posixpath.dirname(guide.path))
    patterns = []
    for block in guide.runnable_blocks:
        directive = block.code.get("depends") if block.code is not None else None
        if directive is not None:
            patterns += [posixpath.join(folder, pattern) if folder else pattern for pattern in directive.args]
    return patterns


def digests(patterns: list[str], root: Path) -> dict[str, str]:
    """The digest of every file the globs ``patterns`` (relative to ``root``) match, by its path."""
    found: dict[str, str] = {}
    for pattern in patterns:
        for name in glob.glob(pattern, root_dir=root, recursive=True):
            path = root / name
            if path.is_file():
                found[posixpath.normpath(Path(name).as_posix())] = file_digest(path)
    return dict(sorted(found.items()))


def data_key(guide: Guide, settings: Settings, root: Path) -> dict[str, Any]:
    """What the store records about the guide's data files: the globs and the files' digests."""
    patterns = {"guide": guide_patterns(guide), "setting": list(settings.depends)}
    return {**patterns, "files": digests(patterns["guide"] + patterns["setting"], root)}


def why_changed(stored: dict[str, Any], settings: Settings, root: Path) -> str | None:
    """Why the data files recorded in ``stored`` (:func:`data_key`) are no longer what they were, or None."""
    if stored.get("setting", []) != list(settings.depends):
        return "doc_runner_depends changed"
    before = stored.get("files", {})
    now = digests(stored.get("guide", []) + list(settings.depends), root)
    for name in sorted(set(before) | set(now)):
        if name not in now:
            return f"the data file {name} is gone"
        if name not in before:
            return f"the data file {name} is new"
        if before[name] != now[name]:
            return f"the data file {name} changed"
    return None
