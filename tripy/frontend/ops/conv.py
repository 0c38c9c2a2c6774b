"""Convolution and transposed convolution over ``(N, C, *spatial)`` inputs, composed as im2col + matmul.

Each kernel offset contributes one strided slice of the padded input (``windows``); stacked, they form the
column matrix that one batched matrix product with the reshaped weight turns into the output. int8 and int4
operands are multiplied as int32, so their sums are exact integers. These functions back :class:`tripy.Conv`
and :class:`tripy.ConvTranspose`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tripy import dtypes
from tripy.errors import raise_error
from tripy.frontend.ops.cast import cast
from tripy.frontend.ops.creation import zeros
from tripy.frontend.ops.flip import flip
from tripy.frontend.ops.pad import pad
from tripy.frontend.ops.shape import concatenate, permute, reshape, stack, unsqueeze
from tripy.frontend.ops.windows import (
    check_spatial_input,
    created_at,
    int_tuple,
    output_shape,
    padding_pairs,
    windows,
)
from tripy.tensor import Tensor

#: Operand types multiplied as int32 (exact sums; the result is int32).
_NARROW_INT = (dtypes.int8, dtypes.int4)


def _check_operands(input: Tensor, weight: Tensor, bias: Tensor | None, op: str) -> int:
    rank = check_spatial_input(input, op)
    details = created_at(input) + created_at(weight, "weight")
    if weight.rank != input.rank:
        raise_error(
            f"{op}: `weight` must have rank {input.rank} like `input` (shape {input.shape}), but its shape is "
            f"{weight.shape}.",
            details,
        )
    if weight.dtype != input.dtype:
        raise_error(f"{op}: `input` is {input.dtype} but `weight` is {weight.dtype}; they must match.", details)
    if input.dtype == dtypes.bool:
        raise_error(f"{op}: `input` must hold numbers, not bool.", details)
    if bias is not None and bias.rank != 1:
        raise_error(f"{op}: `bias` must be 1-D, but its shape is {bias.shape}.", created_at(bias, "bias"))
    return rank


def _check_groups(groups: int | None, op: str) -> int:
    if groups is None:
        return 1
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise_error(f"{op}: `groups` must be a positive int, not {groups!r}.")
    return groups


def _add_bias(out: Tensor, bias: Tensor | None, op: str) -> Tensor:
    if bias is None:
        return out
    if bias.shape != (out.shape[1],):
        raise_error(
            f"{op}: `bias` must have shape ({out.shape[1]},), one value per output channel, but it has shape "
            f"{bias.shape}.",
            created_at(bias, "bias"),
        )
    if bias.dtype != out.dtype:
        raise_error(f"{op}: `bias` is {bias.dtype} but the output is {out.dtype}.", created_at(bias, "bias"))
    return out + reshape(bias, (1, out.shape[1]) + (1,) * (out.rank - 2))


def convolution(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Sequence[int] | None = None,
    padding: Sequence[Sequence[int]] | None = None,
    dilation: Sequence[int] | None = None,
    groups: int | None = None,
) -> Tensor:
    """The cross-correlation of ``input`` ``(N, C, *spatial)`` with ``weight`` ``(O, C / groups, *kernel)``.

    ``padding`` is zeros, one ``(before, after)`` pair per spatial dimension. int8/int4 operands give an int32
    result, summed exactly.
    """
    op = "convolution"
    rank = _check_operands(input, weight, bias, op)
    groups = _check_groups(groups, op)
    kernel = weight.shape[2:]
    stride_ = int_tuple(stride, rank, "stride", op, 1, 1)
    dilation_ = int_tuple(dilation, rank, "dilation", op, 1, 1)
    pads = padding_pairs(padding, rank, op)
    n, c = input.shape[:2]
    o, cg = weight.shape[:2]
    details = created_at(input) + created_at(weight, "weight")
    if c % groups or o % groups:
        raise_error(
            f"{op}: `groups`={groups} must divide the input channels ({c}) and the output channels ({o}).", details
        )
    if cg * groups != c:
        raise_error(
            f"{op}: `weight` of shape {weight.shape} expects {cg * groups} input channels ({cg} per group, "
            f"groups={groups}), but `input` of shape {input.shape} has {c}.",
            details,
        )
    if 0 in kernel:
        raise_error(f"{op}: the kernel dimensions {kernel} must be positive.", details)
    out = output_shape(input, kernel, stride_, dilation_, pads, op)
    x, w = input, weight
    if input.dtype in _NARROW_INT:
        x, w = cast(x, dtypes.int32), cast(w, dtypes.int32)
    if any(b or a for b, a in pads):
        x = pad(x, ((0, 0), (0, 0)) + pads)
    k = math.prod(kernel)
    cols = stack(windows(x, kernel, stride_, dilation_, out), 2)  # (N, C, K, *out)
    cols = reshape(cols, (n, groups, cg * k, math.prod(out)))
    w = reshape(w, (groups, o // groups, cg * k))
    result = reshape(w @ cols, (n, o) + out)  # (G, O/G, CgK) @ (N, G, CgK, L) -> (N, G, O/G, L)
    return _add_bias(result, bias, op)


def _dilate(x: Tensor, dim: int, stride: int) -> Tensor:
    """``x`` with ``stride - 1`` zeros between neighbours along ``dim``."""
    if stride == 1 or x.shape[dim] <= 1:
        return x
    n = x.shape[dim]
    spread = unsqueeze(x, dim + 1)
    gaps = zeros(spread.shape[: dim + 1] + (stride - 1,) + spread.shape[dim + 2 :], x.dtype)
    spread = reshape(concatenate([spread, gaps], dim + 1), x.shape[:dim] + (n * stride,) + x.shape[dim + 1 :])
    key = tuple(slice(0, (n - 1) * stride + 1) if i == dim else slice(None) for i in range(x.rank))
    return spread[key]


def conv_transpose(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Sequence[int] | None = None,
    padding: Sequence[Sequence[int]] | None = None,
    dilation: Sequence[int] | None = None,
    groups: int | None = None,
) -> Tensor:
    """The transposed convolution (the gradient of :func:`convolution` with respect to its input) of ``input``
    ``(N, C, *spatial)`` with ``weight`` ``(C, O / groups, *kernel)``.

    Each spatial output size is ``(n - 1) * stride - before - after + dilation * (k - 1) + 1``: ``padding``
    removes that many positions from each end of the full result.
    """
    op = "conv_transpose"
    rank = _check_operands(input, weight, bias, op)
    groups = _check_groups(groups, op)
    kernel = weight.shape[2:]
    stride_ = int_tuple(stride, rank, "stride", op, 1, 1)
    dilation_ = int_tuple(dilation, rank, "dilation", op, 1, 1)
    pads = padding_pairs(padding, rank, op)
    c, og = weight.shape[:2]
    if c % groups or input.shape[1] != c:
        raise_error(
            f"{op}: `weight` of shape {weight.shape} expects {c} input channels in groups of {groups}, but `input` "
            f"of shape {input.shape} has {input.shape[1]}.",
            created_at(input) + created_at(weight, "weight"),
        )
    if 0 in kernel:
        raise_error(f"{op}: the kernel dimensions {kernel} must be positive.", created_at(weight, "weight"))
    x = input
    for i, s in enumerate(stride_):
        x = _dilate(x, 2 + i, s)
    grow, crop = [], []
    for i, (k, d, (b, a)) in enumerate(zip(kernel, dilation_, pads, strict=True)):
        full = d * (k - 1)  # the full result reaches this far past the input at each end
        if x.shape[2 + i] + full - b - a < 1:
            raise_error(
                f"{op}: `padding`={pads} removes all of the output in spatial dimension {i} (`input` of shape "
                f"{input.shape}, kernel {kernel}, stride {stride_}, dilation {dilation_}).",
                created_at(input),
            )
        grow.append((max(full - b, 0), max(full - a, 0)))
        crop.append((max(b - full, 0), max(a - full, 0)))
    x = pad(x, ((0, 0), (0, 0), *grow))
    if any(b or a for b, a in crop):
        x = x[(slice(None), slice(None)) + tuple(slice(b, n - a) for (b, a), n in zip(crop, x.shape[2:], strict=True))]
    # The equivalent convolution: per group, input and output channels swapped, the kernel reversed.
    w = reshape(weight, (groups, c // groups, og) + kernel)
    w = permute(w, (0, 2, 1) + tuple(range(3, 3 + rank)))
    w = flip(reshape(w, (groups * og, c // groups) + kernel), tuple(range(2, 2 + rank)))
    return convolution(x, w, bias, None, None, dilation_, groups)
