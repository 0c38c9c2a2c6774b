"""Argument checks and sliding windows shared by convolution and pooling (NCHW layouts, 1-3 spatial dims).

A window op over an input of shape ``(N, C, *spatial)`` sees one strided slice of the (padded) input per
kernel offset; each slice has the output's spatial shape. Stacking or summing those slices is how
convolution (im2col) and pooling are composed from slicing alone.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Sequence

from tripy.errors import raise_error
from tripy.tensor import Tensor


def created_at(t: Tensor, name: str = "input") -> list:
    """The ``details`` of an error about tensor ``t``: where the user made it."""
    return [(f"`{name}` was created at", t.where)]


def check_spatial_input(input: Tensor, op: str) -> int:
    """The number of spatial dimensions of an ``(N, C, *spatial)`` input (1 to 3), or an error."""
    if not isinstance(input, Tensor):
        raise_error(f"{op}: `input` must be a tp.Tensor, not {type(input).__name__}.")
    if not 3 <= input.rank <= 5:
        raise_error(
            f"{op}: `input` must have shape (N, C, *spatial) with 1 to 3 spatial dimensions, but its shape is "
            f"{input.shape}.",
            created_at(input),
        )
    return input.rank - 2


def int_tuple(value: int | Sequence[int] | None, rank: int, name: str, op: str, default: int, low: int) -> tuple:
    """``value`` as ``rank`` ints, each at least ``low``; None gives ``default`` for every dimension."""
    if value is None:
        return (default,) * rank
    items = (
        [value] * rank if isinstance(value, numbers.Integral) else list(value) if isinstance(value, Sequence) else []
    )
    if (not items and rank) or not all(isinstance(v, numbers.Integral) for v in items):
        raise_error(f"{op}: `{name}` must be a sequence of {rank} ints, not {value!r}.")
    values = tuple(int(v) for v in items)
    if len(values) != rank:
        raise_error(
            f"{op}: `{name}` must have one value per spatial dimension ({rank}), but it is {values} "
            f"({len(values)} values)."
        )
    if any(v < low for v in values):
        raise_error(f"{op}: `{name}` must hold ints >= {low}, but it is {values}.")
    return values


def padding_pairs(padding: Sequence[Sequence[int]] | None, rank: int, op: str) -> tuple[tuple[int, int], ...]:
    """``padding`` as ``rank`` (before, after) pairs of non-negative ints; None is no padding."""
    if padding is None:
        return ((0, 0),) * rank
    pairs: list[tuple[int, int]] = []
    try:
        for pair in padding:
            before, after = pair
            if not isinstance(before, numbers.Integral) or not isinstance(after, numbers.Integral):
                raise TypeError
            pairs.append((int(before), int(after)))
    except (TypeError, ValueError):
        raise_error(f"{op}: `padding` must be a sequence of (before, after) pairs of ints, not {padding!r}.")
    if len(pairs) != rank:
        raise_error(
            f"{op}: `padding` must have one (before, after) pair per spatial dimension ({rank}), but it has "
            f"{len(pairs)}: {tuple(pairs)}."
        )
    if any(b < 0 or a < 0 for b, a in pairs):
        raise_error(f"{op}: `padding` must not be negative, but it is {tuple(pairs)}.")
    return tuple(pairs)


def output_shape(
    input: Tensor,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
    op: str,
) -> tuple[int, ...]:
    """The spatial output shape: ``(n + before + after - dilation * (k - 1) - 1) // stride + 1`` per dimension."""
    out = []
    for n, k, s, d, (b, a) in zip(input.shape[2:], kernel, stride, dilation, padding, strict=True):
        span = d * (k - 1) + 1
        if n + b + a < span:
            raise_error(
                f"{op}: the window (kernel_dims={kernel}, dilation={dilation}) spans more than the padded input: "
                f"`input` has spatial shape {input.shape[2:]} and padding {padding}.",
                created_at(input),
            )
        out.append((n + b + a - span) // s + 1)
    return tuple(out)


def windows(
    padded: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...], out: tuple[int, ...]
) -> list[Tensor]:
    """One strided slice of ``padded`` per kernel offset (row-major over the kernel), each ``(N, C, *out)``."""
    slices = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        key = [slice(None), slice(None)]
        for o, s, d, n in zip(offset, stride, dilation, out, strict=True):
            start = o * d
            key.append(slice(start, start + s * (n - 1) + 1, s))
        slices.append(padded[tuple(key)])
    return slices
