"""Every doc_runner setting, declared once: its name, type, default, where it applies, and its help.

Sphinx reads them as ``doc_runner_<name>`` from ``conf.py``, pytest as ``doc_runner_<name>`` ini options,
the CLI from ``conf.py``, and the docs' settings table is generated from :func:`declarations`. All of them
convert and validate through :meth:`Settings.from_values`: a wrong value is a :class:`SettingError`
whose message is one line naming the setting.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

EXECUTION_MODES = ("auto", "force", "off")
STDERR_POLICIES = ("show", "remove", "warn", "error")
FIGURE_FORMATS = ("png", "svg")
PREFIX = "doc_runner_"
SPHINX, PYTEST = "sphinx", "pytest"


class SettingError(ValueError):
    """A setting has a value it cannot take; the message is one line naming it."""


Check = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Declaration:
    """One setting as the docs, Sphinx, pytest and the CLI see it."""

    name: str  #: without the ``doc_runner_`` prefix
    default: Any
    type: str  #: what a value is, in words (the docs' table)
    help: str
    check: Check = field(repr=False)
    #: ``sphinx`` (``conf.py``) and/or ``pytest`` (ini options)
    where: frozenset[str] = frozenset({SPHINX, PYTEST})
    #: whether changing it makes Sphinx read every document again
    rebuilds: bool = True
    #: pytest's ini type: ``string`` (one value) or ``args`` (words)
    ini_type: Literal["string", "args"] = "string"

    @property
    def key(self) -> str:
        return PREFIX + self.name


def _number(name: str, value: Any) -> float:
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise SettingError(f"{PREFIX}{name} must be a positive number or 0 (no limit), got {value!r}")
    return number


def _count(name: str, value: Any) -> int:
    try:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise SettingError(f"{PREFIX}{name} must be a whole number >= 0, got {value!r}")
    return count


def _choice(options: tuple[str, ...]) -> Check:
    def check(name: str, value: Any) -> str:
        if value not in options:
            raise SettingError(f"{PREFIX}{name} must be one of {', '.join(options)}, got {value!r}")
        return str(value)

    return check


def _word(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value.split()) != 1 or value != value.strip():
        raise SettingError(f"{PREFIX}{name} must be one word, got {value!r}")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingError(f"{PREFIX}{name} must be a string, got {value!r}")
    return value


def _words(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _packages(name: str, value: Any) -> tuple[str, ...]:
    words = _words(value)
    if words is None or not all(all(p.isidentifier() for p in w.split(".")) for w in words):
        raise SettingError(f"{PREFIX}{name} must be a list of package names, got {value!r}")
    return words


def _globs(name: str, value: Any) -> tuple[str, ...]:
    words = _words(value)
    if words is None:
        raise SettingError(f"{PREFIX}{name} must be a list of relative path globs, got {value!r}")
    for word in words:
        if os.path.isabs(word):
            raise SettingError(f"{PREFIX}{name} takes relative path globs, got the absolute path {word!r}")
    return words


def _pre_imports(name: str, value: Any) -> dict[str, str]:
    try:
        imports = parse_pre_imports(value)
    except (ValueError, TypeError, AttributeError):
        raise SettingError(
            f"{PREFIX}{name} must map aliases to modules, e.g. {{'np': 'numpy'}}, got {value!r}"
        ) from None
    for alias, module in imports.items():
        if not (isinstance(alias, str) and alias.isidentifier()):
            raise SettingError(f"{PREFIX}{name}: the alias {alias!r} is not a Python name")
        if not (isinstance(module, str) and all(p.isidentifier() for p in module.split("."))):
            raise SettingError(f"{PREFIX}{name}: {module!r} (for {alias!r}) is not a module name")
    return imports


def setting(
    default: Any,
    type: str,
    help: str,
    check: Check,
    *,
    where: Iterable[str] = (SPHINX, PYTEST),
    rebuilds: bool = True,
    ini_type: Literal["string", "args"] = "string",
) -> Any:
    """A :class:`Settings` field that declares its setting (see :class:`Declaration`)."""
    meta = {"type": type, "help": help, "check": check, "where": frozenset(where), "rebuilds": rebuilds}
    meta["ini_type"] = ini_type
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """How guides are read, executed and collected; each field declares its setting."""

    execution_mode: str = setting(
        "auto",
        "``auto``, ``force`` or ``off``",
        "``auto``: render a guide's stored results when nothing it depends on changed, else execute it (and "
        "store the results); ``force``: execute every guide; ``off``: render code only. pytest always executes.",
        _choice(EXECUTION_MODES),
        where=(SPHINX,),
    )
    timeout: float = setting(
        60.0,
        "seconds",
        "Seconds a block may run before it is stopped and reported at its ``file:line`` (0: no limit); "
        "``# doc: timeout N`` sets one block's. pytest: also ``--doc-runner-timeout``.",
        _number,
    )
    pre_imports: Mapping[str, str] = setting(
        {"tp": "tripy", "np": "numpy"},
        "alias to module (ini: ``alias=module`` words)",
        "Names bound in every guide's namespace before its first block. A module that fails to import is an "
        "error only where a block uses its alias.",
        _pre_imports,
        ini_type="args",
    )
    marker_prefix: str = setting(
        "Tripy",
        "a word",
        "The word that opens region markers: ``<!-- Tripy: TEST: IGNORE Start -->``.",
        _word,
    )
    library_packages: tuple[str, ...] = setting(
        ("tripy",),
        "package names",
        'Top-level packages whose objects are listed under "Local Variables" by default.',
        _packages,
        ini_type="args",
    )
    guide_timeout: float = setting(
        1800.0,
        "seconds",
        "Seconds a whole guide may run (0: no limit); past it the guide's process is ended.",
        _number,
    )
    output_limit: int = setting(
        4_000_000,
        "characters",
        "Characters of output kept per block; past it the output is cut with a visible note.",
        _count,
    )
    output_stderr: str = setting(
        "show",
        "``show``, ``remove``, ``warn`` or ``error``",
        "What a block's stderr output does: shown (marked as stderr), removed, shown with a warning at the "
        "block's line, or the block fails. ``# doc: output-stderr POLICY`` decides for one block.",
        _choice(STDERR_POLICIES),
    )
    figure_format: str = setting(
        "png", "``png`` or ``svg``", "The format of matplotlib figures.", _choice(FIGURE_FORMATS)
    )
    jobs: int = setting(
        0,
        "a count",
        "Guides executed at once, each in its own process (0: one per CPU core).",
        _count,
        where=(SPHINX,),
        rebuilds=False,
    )
    cache_dir: str = setting(
        "",
        "a folder",
        "Folder of stored results, relative to ``conf.py``'s folder; empty: ``doc_runner_cache`` in Sphinx's "
        "doctree folder.",
        _text,
        where=(SPHINX,),
        rebuilds=False,
    )
    depends: tuple[str, ...] = setting(
        (),
        "path globs",
        "Data files every guide reads, as globs relative to the source folder: when one changes, the guides "
        "run again. One guide declares its own with ``# doc: depends data/*.npy`` (relative to the guide).",
        _globs,
        where=(SPHINX,),
    )
    guides: tuple[str, ...] = setting(
        (),
        "path globs",
        "Markdown guides a plain ``pytest`` collects, relative to the rootdir (a guide named on the command "
        "line is always collected). None by default: a project opts in.",
        _globs,
        where=(PYTEST,),
        ini_type="args",
    )
    docstrings: tuple[str, ...] = setting(
        (),
        "path globs",
        "Python files whose docstring examples pytest collects, relative to the rootdir. None by default.",
        _globs,
        where=(PYTEST,),
        ini_type="args",
    )

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from raw values by name (ini strings are converted), each validated; None keeps the
        default. A wrong value or an unknown name is a :class:`SettingError`."""
        known = {d.name: d for d in declarations()}
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise SettingError(f"{PREFIX}{name} is not a doc_runner setting{did_you_mean(PREFIX + name)}")
            if value is not None:
                kwargs[name] = known[name].check(name, value)
        return cls(**kwargs)


_DECLARATIONS: list[Declaration] = []


def declarations(where: str | None = None) -> list[Declaration]:
    """Every setting, in declaration order; only those that apply to ``where`` (``sphinx``, ``pytest``)."""
    if not _DECLARATIONS:
        for f in dataclasses.fields(Settings):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            meta = dict(f.metadata)
            _DECLARATIONS.append(Declaration(f.name, default, **meta))
    return [d for d in _DECLARATIONS if where is None or where in d.where]


def did_you_mean(key: str, where: str | None = None) -> str:
    """``"; did you mean 'doc_runner_x'?"`` for the declared name nearest to ``key``, or ``""``."""
    near = difflib.get_close_matches(key, [d.key for d in declarations(where)], n=1, cutoff=0.6)
    return f"; did you mean '{near[0]}'?" if near else ""


def unknown_names(keys: Iterable[str], where: str) -> list[str]:
    """One message per ``doc_runner_*`` name of ``keys`` that is no setting of ``where``, with the nearest."""
    valid = {d.key: d for d in declarations()}
    messages = []
    for key in keys:
        if not key.startswith(PREFIX) or (key in valid and where in valid[key].where):
            continue
        if key in valid:
            other = " and ".join(sorted(valid[key].where))
            messages.append(f"'{key}' is a setting of {other} only; it does nothing here")
        else:
            messages.append(f"'{key}' is not a doc_runner setting{did_you_mean(key, where)}")
    return messages


def parse_pre_imports(value: Mapping[str, str] | str | list[str]) -> dict[str, str]:
    """Accept a mapping, or ``alias=module`` words (ini files), or ``[alias=module, ...]``."""
    if isinstance(value, Mapping):
        return dict(value)
    words = value.split() if isinstance(value, str) else list(value)
    result = {}
    for word in words:
        alias, sep, module = word.partition("=")
        if not sep or not alias or not module:
            raise ValueError(f"doc_runner_pre_imports entries are 'alias=module', not {word!r}")
        result[alias] = module
    return result
