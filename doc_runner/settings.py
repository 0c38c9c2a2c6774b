"""Every doc_runner setting, declared once with its type, default and meaning.

Sphinx reads them as ``doc_runner_<name>`` from ``conf.py``; pytest as
``doc_runner_<name>`` ini options. Both validate through :meth:`Settings.from_values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EXECUTION_MODES = ("auto", "force", "off")
STDERR_POLICIES = ("show", "remove", "warn", "error")
FIGURE_FORMATS = ("png", "svg")


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
    #: Seconds a whole guide may run (0: no limit); past it the guide's process is ended.
    guide_timeout: float = 1800.0
    #: Characters of printed output kept per block; past it the output is cut with a visible note.
    output_limit: int = 4_000_000
    #: What happens to what a block writes to stderr: ``show`` it (marked as stderr), ``remove`` it,
    #: ``warn`` (shown, and a warning at the block's line) or ``error`` (the block fails).
    #: A block may choose for itself with ``# doc: output-stderr POLICY``.
    output_stderr: str = "show"
    #: The format of matplotlib figures: ``png`` or ``svg``.
    figure_format: str = "png"
    #: Guides executed at once, each in its own process (Sphinx; 0: one per CPU core).
    jobs: int = 0
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
            if name in ("timeout", "guide_timeout"):
                value = float(value)
                if value < 0:
                    raise ValueError(f"doc_runner_{name} must be >= 0 seconds, got {value:g}")
            elif name in ("output_limit", "jobs"):
                value = int(value)
                if value < 0:
                    raise ValueError(f"doc_runner_{name} must be >= 0, got {value}")
            elif name == "output_stderr" and value not in STDERR_POLICIES:
                raise ValueError(f"doc_runner_output_stderr must be one of {', '.join(STDERR_POLICIES)}, not {value!r}")
            elif name == "figure_format" and value not in FIGURE_FORMATS:
                raise ValueError(f"doc_runner_figure_format must be one of {', '.join(FIGURE_FORMATS)}, not {value!r}")
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
