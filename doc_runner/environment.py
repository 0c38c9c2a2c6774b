"""Where a guide ran (provenance) and what its results depend on (the cache's environment).

The functions that look at loaded modules are called in a guide's own process (:mod:`doc_runner.worker`), so
the store keys on what the guide loaded, never on what Sphinx or pytest loaded.

A library package may describe its execution environment by defining ``__doc_runner_environment__()`` at
its top level, returning a ``{str: str}`` mapping; tripy returns its backend and device. doc_runner adds
the Python version and platform, shows ``backend``/``device`` under every output, and re-executes a guide
whose environment differs from the one its stored results came from.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import platform
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

#: Folders below the source tree whose modules are not first-party (installed or generated code).
_NOT_FIRST_PARTY = {".venv", "venv", "_build", "site-packages", "dist-packages", ".tox", ".nox", "build"}
#: doc_runner's own modules run every guide; a change there (its rendering, say) re-runs nothing.
_ENGINE = Path(__file__).resolve().parent


def describe(packages: Iterable[str]) -> dict[str, str]:
    """The environment guides run in: Python, platform, and what each library package reports."""
    env = {"python": platform.python_version(), "platform": f"{sys.platform}-{platform.machine()}"}
    for name in packages:
        try:
            module = importlib.import_module(name)
            hook = getattr(module, "__doc_runner_environment__", None)
            if hook is not None:
                env.update({str(k): str(v) for k, v in hook().items()})
        except Exception as exc:  # a library that cannot describe itself is still documented
            env[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
    return env


def provenance(env: dict[str, str]) -> str:
    """One line for the page: ``Ran on the numpy backend (cpu)``, or the Python version without a backend."""
    if "backend" in env:
        device = f" ({env['device']})" if env.get("device") else ""
        return f"Ran on the {env['backend']} backend{device}"
    return f"Ran on Python {env.get('python', platform.python_version())}"


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_SEEN: dict[str, str] = {}


def seen_digest(path: Path) -> str:
    """The digest ``path`` had when this process first looked (a module edited since then was loaded as
    its old text); :func:`remember_first_party` looks at the modules loaded when a build starts."""
    key = str(path)
    if key not in _SEEN:
        _SEEN[key] = file_digest(path)
    return _SEEN[key]


def remember_loaded_files() -> None:
    """Note the digests of every loaded module outside the interpreter's own folders (the worker server
    calls it after its imports, so the guides forked from it read none of those files again)."""
    prefixes = {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    prefixes.add(str(_ENGINE))  # doc_runner's own modules are never first-party
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or not filename.endswith(".py"):
            continue
        resolved = str(_resolved(filename))
        if not any(resolved.startswith(prefix + os.sep) for prefix in prefixes) and os.path.isfile(resolved):
            seen_digest(Path(resolved))


@cache
def _resolved(filename: str) -> Path:
    """A module's file as an absolute path without links (remembered: the server works it out for every
    module it loaded, once, and the guides forked from it inherit the answers). Its folder is resolved once
    for all the modules in it."""
    folder, name = os.path.split(os.path.abspath(filename))
    path = _resolved_folder(folder) / name
    return path.resolve() if path.is_symlink() else path


@cache
def _resolved_folder(folder: str) -> Path:
    return Path(folder).resolve()


def remember_first_party(root: Path) -> None:
    """Note the digests of the first-party modules loaded now (call when a build starts)."""
    root = Path(root).resolve()
    for relative in first_party_modules(root):
        seen_digest(root / relative)


@cache
def _first_party(filename: str, root: Path) -> str | None:
    """``filename`` relative to ``root`` when it is a first-party module there, else None."""
    if not filename.endswith(".py"):
        return None
    path = _resolved(filename)
    if not str(path).startswith(f"{root}{os.sep}"):
        return None
    relative = path.relative_to(root)
    if _NOT_FIRST_PARTY.intersection(relative.parts) or _ENGINE in path.parents:
        return None
    return relative.as_posix()


class _ImportRecorder:
    """First on ``sys.meta_path`` of the worker server and the guides' processes forked from it: finds
    nothing, notes each module name imported (so a guide's process lists what it loaded without going
    through every module the server loaded: touching them would copy their memory pages)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        self.names.append(name)


_RECORDER = _ImportRecorder()
#: What the worker server had loaded when it started forking (``tops``, ``files``: one string each, so a
#: guide's process reads them without touching the server's objects one by one)
_AT_FORK: dict[str, str] = {}


def snapshot_modules() -> None:
    """In the worker server, after its imports: note what is loaded and record later imports."""
    tops, files = set(), set()
    for name, module in list(sys.modules.items()):
        tops.add(name.partition(".")[0])
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and filename.endswith(".py"):
            files.add(str(_resolved(filename)))
    _AT_FORK.update(tops="\n".join(sorted(tops)), files="\n".join(sorted(files)))
    if _RECORDER not in sys.meta_path:
        sys.meta_path.insert(0, _RECORDER)


def _recorded() -> bool:
    return bool(_AT_FORK) and _RECORDER in sys.meta_path


def _imported_files() -> list[str]:
    """Resolved ``.py`` files of the modules imported since the snapshot (and still loaded)."""
    found = []
    for name in _RECORDER.names:
        filename = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(filename, str) and filename.endswith(".py"):
            found.append(str(_resolved(filename)))
    return found


def _first_party_path(resolved: str, root: str) -> str | None:
    """The resolved module file ``resolved`` relative to ``root`` when it is first-party there, else None."""
    if not resolved.startswith(root + os.sep):
        return None
    parts = resolved[len(root) + 1 :].split(os.sep)
    if _NOT_FIRST_PARTY.intersection(parts) or resolved.startswith(f"{_ENGINE}{os.sep}"):
        return None
    return "/".join(parts)


def first_party_modules(root: Path) -> list[str]:
    """Paths, relative to ``root``, of the loaded modules whose files are in the source tree (not in
    virtual environments or build folders): all that a guide may have run, an over-approximation."""
    root = Path(root).resolve()
    found = set()
    if _recorded():  # a guide's process: what the server had loaded, and what was imported since
        where = str(root)
        loaded = [f for f in _AT_FORK["files"].split("\n") if f.startswith(where)]
        for resolved in [*loaded, *_imported_files()]:
            relative = _first_party_path(resolved, where)
            if relative is not None:
                found.add(relative)
        return sorted(found)
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        relative = _first_party(filename, root) if isinstance(filename, str) else None
        if relative is not None:
            found.add(relative)
    return sorted(found)


def first_party_files(root: Path) -> dict[str, str]:
    """``{path relative to root: sha256}`` of :func:`first_party_modules`, each as it was when first seen
    by this process (the text that was loaded)."""
    root = Path(root).resolve()
    found = {}
    for relative in first_party_modules(root):
        path = root / relative
        if path.is_file():
            found[relative] = seen_digest(path)
    return found


#: ``{top-level name: [distribution, ...]}`` and ``{distribution: version}`` of what is installed, once known
_INSTALLED: dict[str, Any] = {}


def _distributions_of() -> dict[str, list[str]]:
    if "distributions" not in _INSTALLED:
        _read_installed()
    return _INSTALLED["distributions"]


def installed_distributions() -> dict[str, Any]:
    """What is installed on ``sys.path``, as :func:`remember_installed` takes it: the distributions of each
    top-level name (as ``importlib.metadata.packages_distributions()`` gives them) and each distribution's
    version (the Sphinx extension has the short-lived interpreter that describes the environment read them)."""
    if "distributions" not in _INSTALLED or "versions" not in _INSTALLED:
        _read_installed()
    return {"distributions": _INSTALLED["distributions"], "versions": _INSTALLED["versions"]}


def _read_installed() -> None:
    """Read every installed distribution's name, version and top-level names once (about 40 ms for 140
    distributions; ``importlib.metadata`` parses a whole metadata file as an email for each field it gives,
    and makes a path object of every file it lists: about 0.3 s)."""
    import importlib.metadata  # here: guides' processes never need it (20 ms to import)

    tops: dict[str, list[str]] = {}
    versions: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name, version = _name_and_version(dist)
        if name and name not in versions:
            versions[name] = version
        for top in _top_level_names(dist):
            tops.setdefault(top, []).append(name)
    _INSTALLED.setdefault("distributions", tops)
    _INSTALLED.setdefault("versions", versions)


def _name_and_version(dist: Any) -> tuple[Any, Any]:
    """The ``Name`` and ``Version`` headers of a distribution's metadata (the first of each, before the body)."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if not text:
        return dist.metadata["Name"], dist.version
    found: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, colon, value = line.partition(":")
        key = key.lower()
        if colon and key in ("name", "version") and key not in found:
            found[key] = value.strip()
    return found.get("name"), found.get("version")


def _top_level_names(dist: Any) -> list[str]:
    """The top-level names a distribution installs: its ``top_level.txt``, else those of the ``.py`` files its
    ``RECORD`` lists (what ``importlib.metadata.packages_distributions`` takes, by Python 3.11's rules)."""
    import csv

    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:
        return declared
    record = dist.read_text("RECORD")
    if record:
        paths = [row[0] for row in csv.reader(record.splitlines()) if row]
    else:  # an egg's file list
        paths = [str(path) for path in dist.files or ()]
    found = []
    for path in paths:
        parts = [part for part in path.split("/") if part and part != "."]  # as a PurePosixPath's parts
        if path.startswith("/"):
            parts.insert(0, "/")
        if parts and parts[-1].endswith(".py") and parts[-1] != ".py":
            top = parts[0] if len(parts) > 1 else parts[-1][:-3]
            if top not in found:
                found.append(top)
    return found


def remember_installed(installed: dict[str, Any]) -> None:
    """Take what :func:`installed_distributions` found in another interpreter with this ``sys.path``."""
    _INSTALLED.setdefault("distributions", dict(installed["distributions"]))
    _INSTALLED.setdefault("versions", dict(installed["versions"]))


@cache
def installed_version(dist: str) -> str | None:
    """The installed version of one distribution, or None (what the store checks a stored version against)."""
    known = _INSTALLED.get("versions", {})
    if dist in known:
        return known[dist]
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def loaded_packages() -> list[str]:
    """The top-level names of the modules loaded in this process."""
    if _recorded():
        tops = set(_AT_FORK["tops"].split("\n"))
        tops.update(name.partition(".")[0] for name in _RECORDER.names if name in sys.modules)
        return sorted(tops)
    return sorted({name.partition(".")[0] for name in list(sys.modules)})


def dependency_versions(first_party: Iterable[str] = (), modules: Iterable[str] | None = None) -> dict[str, str]:
    """``{distribution: version}`` of the installed packages among ``modules`` (top-level names; default:
    those loaded here), stdlib and first-party excluded. Distributions are those installed on this
    process's ``sys.path``: folders a package adds to ``sys.path`` at run time (setuptools' vendored
    packages) are not installations."""
    skip = set(sys.stdlib_module_names) | set(first_party)
    tops = set(modules) if modules is not None else set(loaded_packages())
    versions: dict[str, str] = {}
    dists = _distributions_of()
    for top in sorted(tops - skip):
        for dist in dists.get(top, []):
            version = installed_version(dist)
            if version is not None:
                versions[dist] = version
    return dict(sorted(versions.items()))
