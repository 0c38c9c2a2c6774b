"""Stored results of guides, so a guide whose code and environment are unchanged is not executed again.

Several JSON files per guide under the cache folder (one per version of its code, so undoing an edit finds
the earlier results again), written atomically (a temporary file, then a rename), with
a checksum over its contents so a damaged file is noticed and recomputed. What makes stored results
stale, each with a stated reason: the code that runs (per block: the code as executed, ``allow-exception``,
``TEST: XFAIL``, the expected output), the variables each block shows (printing evaluates lazy values), the
settings that change execution, the names of the values shown in prose, the environment (Python, platform,
the library's backend and device), the installed versions of the packages the guide's process loaded, and the
contents of the first-party modules it loaded (what :class:`~doc_runner.worker.WorkerReport` says: never what
Sphinx or pytest loaded) and of the data files it declares (``# doc: depends``, ``doc_runner_depends``).
Display-only edits (prose, ``omit`` lines, ``no-output``) are re-rendered from the store. Only guides whose
blocks all passed (or failed as expected) are stored; a failed run removes the entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doc_runner import depends, display
from doc_runner.directives import CodeLine, LineRole
from doc_runner.environment import dependency_versions, file_digest, installed_version
from doc_runner.reader import Block, Guide
from doc_runner.result import BlockResult, Status
from doc_runner.settings import Settings
from doc_runner.worker import WorkerReport

FORMAT = 3
_STORABLE = {Status.PASSED, Status.XFAILED}
#: Versions of one guide kept (the newest); older ones are deleted when a new one is stored.
VERSIONS_KEPT = 8


def _executed(block: Block) -> list[CodeLine]:
    assert block.code is not None
    return [line for line in block.code.lines if line.role in (LineRole.CODE, LineRole.OMIT)]


#: Signatures computed, by the block's identity (the block is kept, so its id is not reused): a build asks
#: for each block's when it looks the guide up, names its entry and stores it.
_SIGNATURES: dict[int, tuple[Block, list[str]]] = {}


def block_signature(block: Block) -> list[str]:
    """What decides a block's run, as two digests: the lines it executes with the directives that judge
    the run, and which variables it shows (printing a variable evaluates it, which a lazy library may do
    only then, so the choice can change what this block and later ones print)."""
    known = _SIGNATURES.get(id(block))
    if known is not None and known[0] is block:
        return list(known[1])
    if len(_SIGNATURES) > 20_000:
        _SIGNATURES.clear()
    signature = _block_signature(block)
    _SIGNATURES[id(block)] = (block, signature)
    return list(signature)


def _block_signature(block: Block) -> list[str]:
    assert block.code is not None

    def args(name: str) -> list[str] | None:
        directive = block.code.get(name) if block.code is not None else None
        return list(directive.args) if directive is not None else None

    code = [[line.text for line in _executed(block)], args("allow-exception"), block.xfail, block.expected_stdout]
    shown = [args("print-locals"), args("no-print-locals"), "DOC: NO_PRINT_LOCALS" in block.regions]
    return [hashlib.sha256(json.dumps(part).encode()).hexdigest() for part in (code, shown)]


def _line_numbers(guide: Guide) -> list[list[int]]:
    """The guide line of every executed line, block by block (what tracebacks and warnings quote)."""
    return [[line.line for line in _executed(block)] for block in guide.runnable_blocks]


def _settings_key(settings: Settings) -> dict[str, Any]:
    return {
        "pre_imports": dict(settings.pre_imports),
        "library_packages": list(settings.library_packages),
        "timeout": settings.timeout,
        "guide_timeout": settings.guide_timeout,
        "output_limit": settings.output_limit,
        "figure_format": settings.figure_format,
    }


def _version(guide: Guide, value_names: list[str]) -> str:
    """A digest of what decides the guide's run, apart from the environment: its blocks' signatures and
    the prose values it shows. Each version of a guide has an entry of its own."""
    parts = [block_signature(block) for block in guide.runnable_blocks], sorted(value_names)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


@dataclass
class Lookup:
    """The outcome of looking a guide up: its results (a hit) or why it must run (a miss)."""

    results: dict[int, BlockResult] | None
    reason: str
    #: on a hit, the first-party files (relative to the source tree) the stored run loaded
    first_party: tuple[str, ...] = ()
    #: on a hit, the prose values' outputs
    values: dict[str, Any] | None = None
    #: on a miss, whether the entry was there but damaged (a warning on the console)
    damaged: bool = False

    @property
    def hit(self) -> bool:
        return self.results is not None


class GuideCache:
    """The store in ``directory``; ``root`` is the source tree that first-party module paths are relative to."""

    def __init__(self, directory: Path, root: Path) -> None:
        self.directory = Path(directory)
        self.root = Path(root).resolve()

    def entry_name(self, guide: Guide, value_names: list[str] | tuple[str, ...] = ()) -> str:
        """The file name of the entry of ``guide`` as it is now."""
        return self._file(guide, list(value_names)).name

    def prune(self, keep: set[str]) -> list[str]:
        """Delete this source tree's entries not named in ``keep`` (guides gone or moved) and temporary
        files an interrupted write left over an hour ago; return the names deleted. Entries of other
        source trees sharing the folder are left alone."""
        gone = []
        try:
            candidates = list(self.directory.iterdir()) if self.directory.is_dir() else []
            guides = {name.partition("-")[0] for name in keep}
            for path in candidates:
                if path.name.endswith(".tmp"):
                    if time.time() - path.stat().st_mtime > 3600:
                        gone.append(path)
                elif path.suffix == ".json" and path.name.partition("-")[0] not in guides:
                    try:
                        if _read(path).get("source") == str(self.root):
                            gone.append(path)
                    except (ValueError, AttributeError):
                        continue
            for path in gone:
                path.unlink(missing_ok=True)
        except OSError:
            return []
        return sorted(p.name for p in gone)

    def _guide_id(self, guide: Guide) -> str:
        """A Python file holds one guide per docstring: its first block's line tells them apart (a Markdown
        guide is the whole file, so prose edits above its first block keep its entries)."""
        identity = f"{self.root}:{guide.path}"
        if not guide.path.endswith(".md") and guide.runnable_blocks:
            identity += f":{guide.runnable_blocks[0].line}"
        return hashlib.sha256(identity.encode()).hexdigest()[:32]

    def _file(self, guide: Guide, value_names: list[str]) -> Path:
        return self.directory / f"{self._guide_id(guide)}-{_version(guide, value_names)}.json"

    def _versions(self, guide: Guide) -> list[Path]:
        """The stored versions of ``guide``, newest first."""
        prefix = f"{self._guide_id(guide)}-"
        try:  # a listing and a test per name: pathlib's glob costs half a millisecond a call
            names = [n for n in os.listdir(self.directory) if n.startswith(prefix) and n.endswith(".json")]
            found = [self.directory / name for name in names]
            return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return []

    def lookup(
        self,
        guide: Guide,
        settings: Settings,
        environment: dict[str, str] | Callable[[], dict[str, str]],
        value_names: list[str] | tuple[str, ...] = (),
    ) -> Lookup:
        """Stored results for ``guide`` if still valid, re-displayed for its current directives.
        ``environment`` may be a function, called only when there is an entry to check."""
        path = self._file(guide, list(value_names))
        now = environment if callable(environment) else lambda: environment
        if not path.exists():
            return Lookup(None, self._why_new(guide, settings, now, list(value_names)))
        try:
            entry = _read(path)
            reason = self._stale(entry, guide, settings, now())
            if reason is not None:
                return Lookup(None, reason)
            stored = [BlockResult.from_dict(data) for data in entry["results"]]
            first_party = tuple(entry["first_party"])
            values = dict(entry["values"])
        except OtherFormat as exc:  # an upgrade, not damage: no warning (a -W build must not fail for it)
            return Lookup(None, f"the stored results were {exc}; running again")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return Lookup(None, f"the stored results are damaged ({_problem(exc)}); running again", damaged=True)
        results = {
            block.line: display.redisplay(block, result, guide.path, settings)
            for block, result in zip(guide.runnable_blocks, stored, strict=True)
        }
        return Lookup(results, "unchanged since the stored run", first_party, values)

    def _why_new(
        self, guide: Guide, settings: Settings, environment: Callable[[], dict[str, str]], names: list[str]
    ) -> str:
        """Why no stored version fits: the difference from the newest one."""
        for path in self._versions(guide)[:1]:
            try:
                entry = _read(path)
                if sorted(entry["value_names"]) != sorted(names):
                    return "the values shown in prose changed"
                return self._stale(entry, guide, settings, environment()) or "no stored results for this version"
            except (ValueError, KeyError, TypeError, AttributeError):
                break
        return "no stored results"

    def check(self, name: str, settings: Settings, environment: dict[str, str]) -> str | None:
        """Why the entry ``name`` is stale whatever its guide's text (settings, environment, packages,
        first-party modules), or None; a missing or damaged entry is stale too."""
        path = self.directory / name
        if not path.exists():
            return "no stored results"
        try:
            return self._stale_outside(_read(path), settings, environment)
        except OtherFormat as exc:
            return f"the stored results were {exc}"
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return f"the stored results are damaged ({_problem(exc)})"

    def forget(self, guide: Guide, value_names: list[str] | tuple[str, ...] = ()) -> None:
        """Delete the entry of this version of ``guide`` (its last run failed: the next build runs it again)."""
        try:
            self._file(guide, list(value_names)).unlink(missing_ok=True)
        except OSError:
            pass

    def _stale(
        self, entry: dict[str, Any], guide: Guide, settings: Settings, environment: dict[str, str]
    ) -> str | None:
        """Why ``entry`` cannot be used for ``guide`` now, or None."""
        blocks = guide.runnable_blocks
        signatures = entry["signatures"]
        if len(signatures) != len(blocks):
            return f"the guide now has {len(blocks)} runnable blocks, the stored run had {len(signatures)}"
        for block, (code, shown) in zip(blocks, signatures, strict=True):
            now_code, now_shown = block_signature(block)
            if now_code != code:
                return f"the code of the block at line {block.line} changed"
            if now_shown != shown:
                return f"the variables the block at line {block.line} shows changed (showing one evaluates it)"
        if entry.get("depends", {}).get("guide", []) != depends.guide_patterns(guide):
            return "the data files it depends on ('# doc: depends') changed"
        reason = self._stale_outside(entry, settings, environment)
        if reason is not None:
            return reason
        if entry["line_sensitive"] and entry["lines"] != _line_numbers(guide):
            return "the blocks moved and their stored output mentions guide line numbers"
        return None

    def _stale_outside(self, entry: dict[str, Any], settings: Settings, environment: dict[str, str]) -> str | None:
        """Why ``entry`` is stale for reasons outside its guide's text, or None."""
        if entry["settings"] != _settings_key(settings):
            changed = [k for k, v in _settings_key(settings).items() if entry["settings"].get(k) != v]
            return f"settings changed: {', '.join(changed)}"
        for key in sorted(set(entry["environment"]) | set(environment)):
            old, new = entry["environment"].get(key), environment.get(key)
            if old != new:
                return f"the environment changed: {key} {old} -> {new}"
        for dist, version in entry["dependencies"].items():
            now = installed_version(dist)
            if now != version:
                return f"the package {dist} changed: {version} -> {now or 'not installed'}"
        for relative, digest in entry["first_party"].items():
            file = self.root / relative
            if not file.is_file():
                return f"the first-party module {relative} is gone"
            if file_digest(file) != digest:
                return f"the first-party module {relative} changed"
        return depends.why_changed(entry.get("depends", {}), settings, self.root)

    def store(
        self,
        guide: Guide,
        settings: Settings,
        environment: dict[str, str],
        results: dict[int, BlockResult],
        report: WorkerReport | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """Store ``results`` if every block passed (or failed as expected); True if stored. ``report`` says
        what the guide's process loaded; ``values`` are the prose values' outputs."""
        values = values or {}
        names = sorted(values)
        ordered = [results.get(block.line) for block in guide.runnable_blocks]
        if not ordered or any(r is None or r.status not in _STORABLE for r in ordered):
            self.forget(guide, names)
            return False
        report = report or WorkerReport()
        data = [r.to_dict() for r in ordered if r is not None]
        entry = {
            "source": str(self.root),
            "guide": guide.path,
            "signatures": [block_signature(block) for block in guide.runnable_blocks],
            "value_names": names,
            "values": values,
            "settings": _settings_key(settings),
            "environment": environment,
            "dependencies": dependency_versions(
                {Path(p).parts[0].removesuffix(".py") for p in report.first_party}, report.modules
            ),
            "first_party": report.first_party,
            "depends": depends.data_key(guide, settings, self.root),
            "lines": _line_numbers(guide),
            "line_sensitive": any(guide.path in text for r in ordered if r is not None for text in _texts(r)),
            "results": data,
        }
        path = self._file(guide, names)
        _write(path, entry)
        for old in [p for p in self._versions(guide) if p != path][VERSIONS_KEPT - 1 :]:
            old.unlink(missing_ok=True)
        return True


def _problem(exc: Exception) -> str:
    """What is wrong with an entry: _read's message, or the unexpected shape an older version left."""
    return str(exc) if type(exc) is ValueError else f"{type(exc).__name__}: {exc}"


def _texts(result: BlockResult) -> list[str]:
    """The texts a result shows, which may quote guide line numbers (warnings, tracebacks)."""
    return [result.captured, result.error or "", *(v.text for v in result.variables)]  # outputs are in captured


#: An entry's file: ``{"format": 3, "sha256": "<digest of BODY>", "entry": BODY}``, BODY the entry as sorted JSON,
#: so reading checks the digest of the text as written (no encoding again) and parses it once.
_HEAD = f'{{"format": {FORMAT}, "sha256": "'
_MIDDLE = '", "entry": '


class OtherFormat(ValueError):
    """A store entry written by another version of doc_runner (another :data:`FORMAT`): not damaged, stale."""


def _read(path: Path) -> dict[str, Any]:
    """The entry in ``path``; ValueError (with what is wrong) when it is not a whole, valid entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"unreadable: {exc}") from exc
    start = len(_HEAD) + 64 + len(_MIDDLE)
    if text.startswith(_HEAD) and text[start - len(_MIDDLE) : start] == _MIDDLE and text.endswith("}"):
        body = text[start:-1]
        if hashlib.sha256(body.encode()).hexdigest() != text[len(_HEAD) : len(_HEAD) + 64]:
            raise ValueError("checksum mismatch")
        try:
            entry = json.loads(body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"unreadable: {exc}") from exc
        if not isinstance(entry, dict):
            raise ValueError("not a doc_runner cache entry")
        return entry
    try:  # laid out otherwise (written by hand, or damaged): check it the long way
        wrapper = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"unreadable: {exc}") from exc
    if isinstance(wrapper, dict) and "entry" in wrapper and wrapper.get("format") != FORMAT:
        raise OtherFormat(f"written by another version of doc_runner (format {wrapper.get('format')})")
    if not isinstance(wrapper, dict) or "entry" not in wrapper:
        raise ValueError("not a doc_runner cache entry")
    body = json.dumps(wrapper["entry"], sort_keys=True)
    if hashlib.sha256(body.encode()).hexdigest() != wrapper.get("sha256"):
        raise ValueError("checksum mismatch")
    return wrapper["entry"]


def _write(path: Path, entry: dict[str, Any]) -> None:
    """Write ``entry`` to ``path`` atomically: readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(entry, sort_keys=True)
    text = f"{_HEAD}{hashlib.sha256(body.encode()).hexdigest()}{_MIDDLE}{body}}}"
    fd, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
