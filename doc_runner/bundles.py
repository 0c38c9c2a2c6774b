"""MIME bundles from IPython's own formatters, and what ``display()`` and matplotlib publish.

Runs in the worker server and the guide processes forked from it (never in Sphinx or pytest). One
``InteractiveShell`` is made there, not to run code but for its display machinery: its
``DisplayFormatter`` turns a value into ``{mime: data}`` (``_repr_html_``, ``_repr_png_``, DataFrames...),
``IPython.display.display`` publishes through it, and matplotlib's inline backend (``matplotlib-inline``)
shows figures through it after each block, as in Jupyter.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from typing import Any

from doc_runner import outputs as out

#: The matplotlib backend of guide processes: figures become displays (PNG or SVG), never windows.
MATPLOTLIB_BACKEND = "module://matplotlib_inline.backend_inline"


class DisplayError(Exception):
    """A value could not be displayed (its ``__repr__`` or a ``_repr_*_`` method raised)."""


class Displays:
    """IPython's formatters and display publisher, writing into the running block's outputs."""

    def __init__(self, figure_format: str = "png") -> None:
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False
        config.InlineBackend.figure_formats = {figure_format}
        self.shell = InteractiveShell.instance(config=config)
        self.sink: Callable[[out.Output], None] = lambda output: None
        self._errors: list[BaseException] = []
        displays = self

        class Publisher(DisplayPublisher):
            def publish(self, data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> None:
                displays.sink(out.display_data(_jsonable(data), _jsonable(metadata or {})))

            def clear_output(self, wait: bool = False) -> None:
                pass

        self.shell.display_pub = Publisher(shell=self.shell)
        # A formatter that raises is reported through showtraceback; make it the block's failure instead.
        self.shell.showtraceback = self._formatter_failed  # type: ignore[method-assign]

    def _formatter_failed(self, exc_tuple: Any = None, *args: Any, **kwargs: Any) -> None:
        error = exc_tuple[1] if exc_tuple else sys.exc_info()[1]
        if error is not None:
            self._errors.append(error)

    def raise_failures(self) -> None:
        """Raise the first error a formatter met since the last call (``display()`` of a bad value)."""
        errors, self._errors = self._errors, []
        if errors:
            raise DisplayError(f"displaying a value raised {type(errors[0]).__name__}: {errors[0]}") from errors[0]

    def bundle(self, value: Any) -> tuple[out.Bundle, dict[str, Any]]:
        """``value``'s MIME bundle and metadata; :class:`DisplayError` if a formatter raised."""
        formatter = self.shell.display_formatter
        assert formatter is not None
        data, metadata = formatter.format(value)
        self.raise_failures()
        return _jsonable(data), _jsonable(metadata)

    def after_block(self) -> None:
        """Show the matplotlib figures a block left open (the inline backend's hook), as Jupyter does."""
        self.shell.events.trigger("post_execute")
        self.raise_failures()


def _jsonable(value: Any) -> Any:
    """Bytes (PNG, JPEG) as base64 text, as nbformat stores them."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
