"""``flip``: reverse the order of elements along some dimensions."""

from __future__ import annotations

from collections.abc import Sequence

from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.ops.windows import created_at
from tripy.frontend.utils import normalize_dim
from tripy.tensor import Tensor


@public
def flip(input: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """``input`` with the order of its elements reversed along ``dim`` (every dimension by default).

    .. code-block:: python

        x = tp.Tensor([[1, 2, 3], [4, 5, 6]])
        assert tp.flip(x, dim=1).tolist() == [[3, 2, 1], [6, 5, 4]]
        assert tp.flip(x).tolist() == [[6, 5, 4], [3, 2, 1]]
    """
    if not isinstance(input, Tensor):
        raise_error(f"flip: `input` must be a tp.Tensor, not {type(input).__name__}.")
    dims = range(input.rank) if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    axes = [normalize_dim(d, input.rank, "flip") for d in dims]
    if len(set(axes)) != len(axes):
        raise_error(f"flip: `dim` {tuple(dims)} names a dimension more than once.", created_at(input))
    if not axes or input.rank == 0:
        return input
    key = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(input.rank))
    return input[key]
