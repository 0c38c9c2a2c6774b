"""``matmul`` (the ``@`` operator): matrix products with batch broadcasting, as in NumPy."""

from __future__ import annotations

from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.utils import as_tensor, broadcast_shapes, with_rank
from tripy.tensor import Tensor


@public
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """The matrix product of the last two dimensions, broadcasting the leading (batch) dimensions.

    A 1-D operand is treated as a row (``input``) or a column (``other``) vector, as in NumPy.

    .. code-block:: python

        a = tp.iota((2, 3), dim=1)
        b = tp.ones((3, 1))
        assert (a @ b).tolist() == [[3.0], [3.0]]
    """
    a, b = as_tensor(input, "input", "matmul"), as_tensor(other, "other", "matmul")
    details = [("`input` was created at", a.where), ("`other` was created at", b.where)]
    if a.rank == 0 or b.rank == 0:
        raise_error(f"matmul: operands must have rank >= 1, but the shapes are {a.shape} and {b.shape}.", details)
    if a.dtype != b.dtype:
        raise_error(f"matmul: `input` is {a.dtype} but `other` is {b.dtype}; use tp.cast to make them match.", details)
    from tripy.frontend.ops.shape import reshape

    squeeze_rows, squeeze_cols = a.rank == 1, b.rank == 1
    if squeeze_rows:
        a = reshape(a, (1, a.shape[0]))
    if squeeze_cols:
        b = reshape(b, (b.shape[0], 1))
    if a.shape[-1] != b.shape[-2]:
        raise_error(
            f"matmul: the inner dimensions do not match: `input` has shape {input.shape} and `other` "
            f"has shape {other.shape} ({a.shape[-1]} != {b.shape[-2]}).",
            details,
        )
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if batch is None:
        raise_error(f"matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} cannot be broadcast.", details)
    rank = len(batch) + 2
    shape = (*batch, a.shape[-2], b.shape[-1])
    out = Tensor._from_node("matmul", (with_rank(a, rank), with_rank(b, rank)), {}, shape, a.dtype)
    if squeeze_rows or squeeze_cols:
        keep = shape[:-2] + (() if squeeze_rows else (shape[-2],)) + (() if squeeze_cols else (shape[-1],))
        out = reshape(out, keep)
    return out


Tensor.__matmul__ = lambda self, other: matmul(self, other)
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)
