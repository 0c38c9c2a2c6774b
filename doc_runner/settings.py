"""Every doc_runner setting, declared once with its type, default and meaning.

Sphinx reads them as ``doc_runner_<name>`` from ``conf.py``; pytest as
``doc_runner_<name>`` ini options. Both validate through :meth:`Settings.from_values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EXECUTION_MODES = ("auto", "force", "off")


@dataclass(frozen=True)
class Settings:
    """How guides are executed. Field docs are the settings' documentation."""

    #: ``auto``: render a guide's stored results when its code and environment are unchanged, else
    #: execute it (and store the results); ``force``: execute every guide; ``off``: render code only.
    #: pytest always executes.
    execution_mode: str = "auto"
    #: Seconds a block may run before it is stopped and reported at its ``file:line``
    #: (0 disables the limit).
    timeout: float = 60.0
    #: Names bound in every guide's namespace before its first block: alias -> module.
    #: A module that fails to import only errors when a block uses its alias.
    pre_imports: Mapping[str, str] = field(default_factory=lambda: {"tp": "tripy", "np": "numpy"})
    #: The word that opens region markers: ``<!-- Tripy: TEST: IGNORE Start -->``.
    marker_prefix: str = "Tripy"
    #: Top-level packages whose objects count as library objects under "Local Variables".
    library_packages: tuple[str, ...] = ("tripy",)
    #: Folder of stored results (Sphinx only): relative to conf.py's folder; empty means
    #: ``doc_runner_cache`` in Sphinx's doctree folder.
    cache_dir: str = ""

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Settings:
        """Build settings from raw values (strings from ini files are converted), validating each."""
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            if name == "timeout":
                value = float(value)
                if value < 0:
                    raise ValueError("doc_runner_timeout must be >= 0 seconds")
            elif name == "pre_imports":
                value = parse_pre_imports(value)
            elif name == "library_packages":
                value = tuple(value.split()) if isinstance(value, str) else tuple(value)
            elif name == "execution_mode" and value not in EXECUTION_MODES:
                raise ValueError(
                    f"doc_runner_execution_mode must be one of {', '.join(EXECUTION_MODES)}, not {value!r}"
                )
            kwargs[name] = value
        return cls(**kwargs)


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
