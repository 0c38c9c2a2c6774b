"""``tp.logger``: how much tripy says about what it does, set globally or for a block of code."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator

#: Named verbosities from quiet to chatty; each one shows its own messages and those of the ones before it.
#: tripy writes no "timing" or "ir" messages yet; those names are accepted so that nvtripy code runs.
LEVELS = ("error", "warning", "info", "verbose", "timing", "ir")


class Logger:
    """tripy's logger. ``verbosity`` is one of ``"error"``, ``"warning"`` (the default), ``"info"``,
    ``"verbose"``, ``"timing"`` or ``"ir"``, each showing its own messages and the more severe ones, or a set of
    those names to show exactly those. Messages go to standard error, prefixed by their kind (``[W]`` for a
    warning).

    .. code-block:: python

        tp.logger.verbosity = "info"
        assert tp.logger.enabled("info") and not tp.logger.enabled("verbose")
        with tp.logger.use_verbosity("error"):
            assert not tp.logger.enabled("warning")
        assert tp.logger.verbosity == "info"
        tp.logger.verbosity = "warning"
    """

    def __init__(self) -> None:
        self._verbosity: str | frozenset[str] = "warning"
        self._enabled: frozenset[str] = frozenset(LEVELS[:2])

    @property
    def verbosity(self) -> str | frozenset[str]:
        """The current verbosity: a level name, or the set of kinds of message shown."""
        return self._verbosity

    @verbosity.setter
    def verbosity(self, value: str | Iterable[str]) -> None:
        self._verbosity, self._enabled = _parse(value)

    @contextlib.contextmanager
    def use_verbosity(self, verbosity: str | Iterable[str]) -> Iterator[None]:
        """Use ``verbosity`` inside the ``with`` block and restore the previous one after it."""
        previous = self._verbosity
        self.verbosity = verbosity
        try:
            yield
        finally:
            self.verbosity = previous

    def enabled(self, kind: str) -> bool:
        """Whether messages of ``kind`` (one of the level names) are shown."""
        return kind in self._enabled

    def log(self, kind: str, message: str) -> None:
        """Write ``message`` to standard error if ``kind`` is enabled."""
        if kind not in LEVELS:
            _bad(kind, "kind")
        if kind in self._enabled:
            print(f"[{kind[0].upper()}] {message}", file=sys.stderr)

    def error(self, message: str) -> None:
        self.log("error", message)

    def warning(self, message: str) -> None:
        self.log("warning", message)

    def info(self, message: str) -> None:
        self.log("info", message)

    def verbose(self, message: str) -> None:
        self.log("verbose", message)

    def __repr__(self) -> str:
        return f"Logger(verbosity={self._verbosity!r})"


def _bad(value: object, name: str) -> None:
    from tripy.errors import raise_error

    raise_error(f"logger: `{name}` must be one of {', '.join(map(repr, LEVELS))} (or a set of them), not {value!r}.")


def _parse(value: str | Iterable[str]) -> tuple[str | frozenset[str], frozenset[str]]:
    if isinstance(value, str):
        if value not in LEVELS:
            _bad(value, "verbosity")
        return value, frozenset(LEVELS[: LEVELS.index(value) + 1])
    try:
        kinds = frozenset(value)
    except TypeError:
        _bad(value, "verbosity")
        raise
    if not all(isinstance(k, str) and k in LEVELS for k in kinds):
        _bad(value, "verbosity")
    return kinds, kinds


#: The one logger of the library.
logger = Logger()
