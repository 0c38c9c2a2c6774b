"""``topk``: the ``k`` largest values along a dimension and where they are."""

from __future__ import annotations

import numbers

from tripy import dtypes
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.ops.cast import cast
from tripy.frontend.ops.creation import full, iota
from tripy.frontend.ops.elementwise import where
from tripy.frontend.ops.reduce import argmax
from tripy.frontend.ops.reduce import max as reduce_max
from tripy.frontend.ops.shape import concatenate
from tripy.frontend.ops.windows import created_at
from tripy.frontend.utils import normalize_dim
from tripy.tensor import Tensor


@public
def topk(input: Tensor, k: int, dim: int) -> tuple[Tensor, Tensor]:
    """The ``k`` largest values of ``input`` along ``dim``, largest first, and their indices (int32).

    Equal values come in index order; NaN counts as the largest value. Each of the ``k`` steps takes the
    maximum of the values not yet taken and the first index that holds it.

    .. code-block:: python

        values, indices = tp.topk(tp.Tensor([[3.0, 1.0, 4.0, 1.0, 5.0]]), k=2, dim=1)
        assert values.tolist() == [[5.0, 4.0]]
        assert indices.tolist() == [[4, 2]]
    """
    if not isinstance(input, Tensor):
        raise_error(f"topk: `input` must be a tp.Tensor, not {type(input).__name__}.")
    if input.dtype == dtypes.bool:
        raise_error("topk: `input` must hold numbers, not bool; tp.cast it to int32 first.", created_at(input))
    if input.rank == 0:
        raise_error("topk: `input` must have at least one dimension, but it is a scalar.", created_at(input))
    d = normalize_dim(dim, input.rank, "topk")
    n = input.shape[d]
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= n:
        raise_error(
            f"topk: `k`={k!r} is out of range: it must be an int from 1 to the size of dimension {d} of `input` "
            f"({n}, shape {input.shape}).",
            created_at(input),
        )
    positions = iota(input.shape, d, dtypes.int32)
    taken = full(input.shape, False, dtypes.bool)
    is_nan = input != input
    lowest = full(input.shape, dtypes.lowest(input.dtype), input.dtype)
    values, indices = [], []
    for _ in range(int(k)):
        best = reduce_max(where(taken, lowest, input), d, keepdim=True)
        # x == best misses NaN (NaN != NaN); a NaN maximum is matched by the NaN test instead.
        hit = ((input == best) | (is_nan & (best != best))) & ~taken
        index = argmax(cast(hit, dtypes.int32), d, keepdim=True)
        taken = taken | (positions == index)
        values.append(best)
        indices.append(index)
    return concatenate(values, d), concatenate(indices, d)
