"""A block's outputs as Jupyter records: nbformat 4's output dicts, in the order the block made them.

``{"output_type": "stream", "name": "stdout" | "stderr", "text": ...}``,
``{"output_type": "display_data", "data": {mime: value}, "metadata": {...}}`` (``display()``, figures) and
``{"output_type": "execute_result", ...}`` (a block's last expression). Binary MIME values (PNG, JPEG) are
base64 text, as in a notebook file. The page, "Local Variables", the store, prose values, the exported
notebook and pytest all read these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

Output = dict[str, Any]
Bundle = dict[str, Any]

#: MIME types the HTML page can show, most preferred first.
HTML_PRIORITY = (
    "text/html",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/markdown",
    "text/latex",
    "application/json",
    "text/plain",
)
IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/svg+xml": ".svg"}
STDERR_POLICIES = ("show", "remove", "warn", "error")

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CARRIAGE = re.compile(r"[^\n]*\r(?!\n)")


def strip_ansi(text: str) -> str:
    """Remove terminal colour and cursor escape sequences."""
    return _ANSI.sub("", text)


def collapse_carriage_returns(text: str) -> str:
    """What a terminal finally shows: text before a lone ``\\r`` on a line is overwritten (progress bars)."""
    text = text.replace("\r\n", "\n")
    return _CARRIAGE.sub("", text)


def stream(name: str, text: str) -> Output:
    return {"output_type": "stream", "name": name, "text": text}


def display_data(data: Bundle, metadata: dict[str, Any] | None = None) -> Output:
    return {"output_type": "display_data", "data": data, "metadata": metadata or {}}


def execute_result(data: Bundle, metadata: dict[str, Any] | None = None, count: int | None = None) -> Output:
    return {"output_type": "execute_result", "data": data, "metadata": metadata or {}, "execution_count": count}


def error(ename: str, evalue: str, text: str) -> Output:
    """An exception shown as output (``allow-exception``, ``TEST: XFAIL``): its message, as text lines."""
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": text.rstrip("\n").split("\n")}


def error_text(output: Output) -> str:
    return "\n".join(output["traceback"]) + "\n"


def tidy_streams(outputs: Iterable[Output]) -> list[Output]:
    """Merge consecutive writes to the same stream, collapse ``\\r`` and remove ANSI codes; drop empty ones."""
    merged: list[Output] = []
    for output in outputs:
        if output["output_type"] == "stream":
            if merged and merged[-1]["output_type"] == "stream" and merged[-1]["name"] == output["name"]:
                merged[-1] = stream(output["name"], merged[-1]["text"] + output["text"])
                continue
            merged.append(stream(output["name"], output["text"]))
        else:
            merged.append(output)
    tidy = []
    for output in merged:
        if output["output_type"] == "stream":
            output = stream(output["name"], strip_ansi(collapse_carriage_returns(output["text"])))
            if not output["text"]:
                continue
        tidy.append(output)
    return tidy


def text_of(outputs: Iterable[Output], streams: tuple[str, ...] = ("stdout", "stderr")) -> str:
    """What the block printed to ``streams``, in order (what ``TEST: EXPECTED_STDOUT`` compares), and the
    message of an exception shown as output."""
    parts = []
    for o in outputs:
        if o["output_type"] == "stream" and o["name"] in streams:
            parts.append(o["text"])
        elif o["output_type"] == "error":
            parts.append(error_text(o))
    return "".join(parts)


def rich(outputs: Iterable[Output]) -> list[Output]:
    """The outputs that are not streams (displays and the last expression's value)."""
    return [o for o in outputs if o["output_type"] != "stream"]


def preferred_type(data: Bundle) -> str | None:
    """The MIME type of ``data`` an HTML page shows."""
    return next((mime for mime in HTML_PRIORITY if mime in data), None)


def plain_text(data: Bundle) -> str:
    """The ``text/plain`` of a bundle ("" when it has none)."""
    value = data.get("text/plain", "")
    return "".join(value) if isinstance(value, list) else str(value)


def without_stderr(outputs: Iterable[Output]) -> list[Output]:
    return [o for o in outputs if not (o["output_type"] == "stream" and o["name"] == "stderr")]
