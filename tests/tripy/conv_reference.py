"""NumPy references of convolution and transposed convolution (float64 or int64), and their error bounds."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Unit roundoff of float32: one rounding moves a value by at most this fraction of it.
U32 = 2.0**-24


def ref_conv(x, w, b=None, stride=None, padding=None, dilation=None, groups=1) -> np.ndarray:
    """Cross-correlation by sliding windows and one einsum per group, in x's dtype (use float64 or int64)."""
    r = x.ndim - 2
    stride, dilation = stride or (1,) * r, dilation or (1,) * r
    x = np.pad(x, [(0, 0), (0, 0), *(padding or [(0, 0)] * r)])
    kernel = w.shape[2:]
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True)]
    win = sliding_window_view(x, spans, axis=tuple(range(2, 2 + r)))  # (N, C, *positions, *spans)
    win = win[(Ellipsis, *(slice(None, None, d) for d in dilation))]
    win = win[(slice(None), slice(None), *(slice(None, None, s) for s in stride))]
    n, c = x.shape[:2]
    o = w.shape[0]
    win = win.reshape(n, groups, c // groups, *win.shape[2:])
    wg = w.reshape(groups, o // groups, c // groups, *kernel)
    pos, ker = "pqr"[:r], "xyz"[:r]
    out = np.einsum(f"Ngc{pos}{ker},goc{ker}->Ngo{pos}", win, wg)
    out = out.reshape(n, o, *out.shape[3:])
    if b is not None:
        out = out + b.reshape((1, o) + (1,) * r)
    return out


def ref_conv_transpose(x, w, b=None, stride=None, padding=None, dilation=None, groups=1) -> np.ndarray:
    """Transposed convolution by scattering: input position i and kernel offset k add to ``i*s + k*d - before``."""
    r = x.ndim - 2
    stride, dilation = stride or (1,) * r, dilation or (1,) * r
    padding = padding or [(0, 0)] * r
    n, c = x.shape[:2]
    og, kernel = w.shape[1], w.shape[2:]
    full = [(i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(x.shape[2:], stride, dilation, kernel, strict=True)]
    out = np.zeros((n, og * groups, *full), dtype=x.dtype)
    cg = c // groups
    for g in range(groups):
        for ci in range(cg):
            for oi in range(og):
                for k in np.ndindex(*kernel):
                    target = tuple(
                        slice(kk * d, kk * d + (i - 1) * s + 1, s)
                        for kk, d, s, i in zip(k, dilation, stride, x.shape[2:], strict=True)
                    )
                    out[(slice(None), g * og + oi, *target)] += x[:, g * cg + ci] * w[(g * cg + ci, oi, *k)]
    out = out[(slice(None), slice(None), *(slice(bf, f - af) for (bf, af), f in zip(padding, full, strict=True)))]
    if b is not None:
        out = out + b.reshape((1, -1) + (1,) * r)
    return out


def float_bound(x, w, b, reduction: int, **conv) -> np.ndarray:
    """Worst-case error of a float32 convolution with ``reduction`` products per output, whatever the order of
    its sums: ``(reduction + 2) * u * (|x| * |w| + |b|)`` (each product and partial sum rounds once, the
    bias add once more)."""
    absolute = ref_conv(np.abs(x), np.abs(w), None if b is None else np.abs(b), **conv)
    return (reduction + 2) * U32 * absolute


def reduction_length(w, groups: int = 1) -> int:
    """Products summed per output of a convolution with weight ``w``: channels per group times kernel size."""
    return w.shape[1] * math.prod(w.shape[2:])
