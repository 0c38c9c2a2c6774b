"""``cumsum``: running sums along a dimension, as a log-step scan of shifted copies (exact for integers)."""

from __future__ import annotations

from tripy import dtypes
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.ops.cast import cast
from tripy.frontend.ops.creation import zeros
from tripy.frontend.ops.shape import concatenate
from tripy.frontend.utils import normalize_dim
from tripy.tensor import Tensor

#: Float types whose partial sums are kept in float32 and rounded once at the end.
_WIDENED = (dtypes.float16, dtypes.bfloat16, dtypes.float8)


@public
def cumsum(input: Tensor, dim: int) -> Tensor:
    """The cumulative sum along ``dim``: ``out[..., i, ...] = input[..., 0, ...] + ... + input[..., i, ...]``.

    Computed in ``ceil(log2(n))`` steps, each adding a copy shifted by 1, 2, 4... positions, so integer sums
    are exact (wrapping on overflow, as in NumPy); float16 and bfloat16 sums are kept in float32. Booleans
    count as int32.

    .. code-block:: python

        assert tp.cumsum(tp.Tensor([1, 2, 3, 4]), dim=0).tolist() == [1, 3, 6, 10]
        assert tp.cumsum(tp.Tensor([[1.0, 1.0], [2.0, 2.0]]), dim=1).tolist() == [[1.0, 2.0], [2.0, 4.0]]
    """
    if not isinstance(input, Tensor):
        raise_error(f"cumsum: `input` must be a tp.Tensor, not {type(input).__name__}.")
    d = normalize_dim(dim, input.rank, "cumsum")
    if input.rank == 0:
        return input
    x = cast(input, dtypes.int32 if input.dtype == dtypes.bool else dtypes.float32)
    if input.dtype != dtypes.bool and input.dtype not in _WIDENED:
        x = input
    n = x.shape[d]
    shift = 1
    while shift < n:
        head = zeros(x.shape[:d] + (shift,) + x.shape[d + 1 :], x.dtype)
        key = tuple(slice(0, n - shift) if i == d else slice(None) for i in range(x.rank))
        x = x + concatenate([head, x[key]], d)
        shift *= 2
    return x if input.dtype == dtypes.bool else cast(x, input.dtype)
