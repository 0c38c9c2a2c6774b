"""``maxpool`` and ``avgpool`` over the spatial dimensions of ``(N, C, *spatial)`` inputs (1 to 3 of them)."""

from __future__ import annotations

from collections.abc import Sequence

from tripy import dtypes
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.ops import reduce
from tripy.frontend.ops.pad import pad
from tripy.frontend.ops.shape import stack
from tripy.frontend.ops.windows import check_spatial_input, created_at, int_tuple, output_shape, padding_pairs, windows
from tripy.tensor import Tensor


def _pooled(
    input: Tensor,
    kernel_dims: Sequence[int],
    stride: Sequence[int] | None,
    padding: Sequence[Sequence[int]] | None,
    fill: float | int,
    op: str,
) -> Tensor:
    """The windows of ``input`` (padded with ``fill``) stacked along a new leading dimension."""
    rank = check_spatial_input(input, op)
    if input.dtype == dtypes.bool:
        raise_error(f"{op}: `input` must hold numbers, not bool.", created_at(input))
    kernel = int_tuple(kernel_dims, rank, "kernel_dims", op, 1, 1)
    stride_ = int_tuple(stride, rank, "stride", op, 1, 1)
    pads = padding_pairs(padding, rank, op)
    ones = (1,) * rank
    out = output_shape(input, kernel, stride_, ones, pads, op)
    x = pad(input, ((0, 0), (0, 0), *pads), value=fill) if any(b or a for b, a in pads) else input
    return stack(windows(x, kernel, stride_, ones, out), 0)


@public
def maxpool(
    input: Tensor,
    kernel_dims: Sequence[int],
    stride: Sequence[int] | None = None,
    padding: Sequence[Sequence[int]] | None = None,
) -> Tensor:
    """The maximum over each window of ``kernel_dims`` sliding over the spatial dimensions of ``input``.

    ``input`` is ``(N, C, *spatial)`` with 1 to 3 spatial dimensions; ``stride`` (1 by default) and
    ``padding`` (``(before, after)`` pairs, none by default) have one entry per spatial dimension. Padding
    never wins the maximum. Each output size is ``(n + before + after - k) // stride + 1``.

    .. code-block:: python

        x = tp.reshape(tp.arange(16), (1, 1, 4, 4))
        out = tp.maxpool(x, kernel_dims=(2, 2), stride=(2, 2))
        assert out.tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    check_spatial_input(input, "maxpool")
    return reduce.max(_pooled(input, kernel_dims, stride, padding, dtypes.lowest(input.dtype), "maxpool"), 0)


@public
def avgpool(
    input: Tensor,
    kernel_dims: Sequence[int],
    stride: Sequence[int] | None = None,
    padding: Sequence[Sequence[int]] | None = None,
) -> Tensor:
    """The mean over each window of ``kernel_dims`` sliding over the spatial dimensions of ``input``.

    Arguments as in :func:`maxpool`; ``input`` must be a float tensor. Padded positions count as zeros in
    the mean (every window divides by ``prod(kernel_dims)``).

    .. code-block:: python

        x = tp.reshape(tp.arange(16), (1, 1, 4, 4))
        out = tp.avgpool(x, kernel_dims=(2, 2), stride=(2, 2))
        assert out.tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    if isinstance(input, Tensor) and not input.dtype.is_float:
        raise_error(f"avgpool: `input` must have a floating-point dtype, but it is {input.dtype}.", created_at(input))
    stacked = _pooled(input, kernel_dims, stride, padding, 0.0, "avgpool")
    return reduce.mean(stacked, 0)
