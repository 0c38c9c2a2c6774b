"""How tensors print: values, then dtype, device and shape, in the style of Tripy and PyTorch."""

from __future__ import annotations

import ml_dtypes
import numpy as np

#: Tensors with more elements than this are summarised; each long dimension keeps ``EDGE_ITEMS`` per side.
THRESHOLD = 1000
EDGE_ITEMS = 3


def _element_formatter(values: np.ndarray):
    if values.dtype == np.bool_:
        return str
    if values.dtype.kind in "iu":
        return lambda v: str(int(v))
    finite = values[np.isfinite(values)]
    finite = finite.astype(np.float64)  # comparing float16 with 1e8 would overflow
    big = finite.size and np.abs(finite).max() >= 1e8
    tiny = finite.size and 0 < np.abs(finite[finite != 0]).min(initial=1.0) < 1e-4
    if big or tiny:
        return lambda v: f"{float(v):.4e}"
    return lambda v: f"{float(v):.4f}"


def _summarised_index(shape: tuple[int, ...], summarise: bool) -> list[list[int | None]]:
    """For each dimension the indices to show, with None where '...' stands."""
    out = []
    for n in shape:
        if summarise and n > 2 * EDGE_ITEMS:
            out.append([*range(EDGE_ITEMS), None, *range(n - EDGE_ITEMS, n)])
        else:
            out.append(list(range(n)))
    return out


def format_values(values: np.ndarray) -> str:
    """The nested-list text of an array, summarised with '...' when it is large."""
    if values.dtype.kind not in "biuf":  # ml_dtypes types: int4 prints as an integer, the others as floats
        values = values.astype(np.int32 if values.dtype == ml_dtypes.int4 else np.float32)
    if values.ndim == 0:
        return _element_formatter(values)(values[()])
    summarise = values.size > THRESHOLD
    index = _summarised_index(values.shape, summarise)
    fmt = _element_formatter(values)

    # Format the shown elements first so that every column gets one width.
    shown = values[np.ix_(*[[i for i in idx if i is not None] for idx in index])]
    texts = np.vectorize(fmt, otypes=[object])(shown) if shown.size else shown.astype(object)
    width = max((len(t) for t in texts.flat), default=0)

    def render(level: int, position: tuple[int, ...]) -> str:
        parts = []
        k = 0
        for i in index[level]:
            if i is None:
                parts.append("...")
                continue
            if level == values.ndim - 1:
                parts.append(texts[(*position, k)].rjust(width))
            else:
                parts.append(render(level + 1, (*position, k)))
            k += 1
        if level == values.ndim - 1:
            return "[" + ", ".join(parts) + "]"
        sep = "," + "\n" * (values.ndim - 1 - level) + " " * (level + 1)
        return "[" + sep.join(parts) + "]"

    return render(0, ())


def format_tensor(values: np.ndarray, dtype, device: str, shape: tuple[int, ...]) -> str:
    body = format_values(values)
    meta = f"dtype={dtype}, loc={device}, shape={tuple(shape)}"
    if len(shape) >= 2:
        first, *rest = body.split("\n")
        body = "\n".join([first, *(f"    {line}" if line else "" for line in rest)])  # no trailing spaces
        return f"tensor(\n    {body},\n    {meta})"
    return f"tensor({body}, {meta})"
