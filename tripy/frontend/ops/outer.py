"""``outer``: the outer product of two vectors."""

from __future__ import annotations

from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.ops.shape import reshape
from tripy.frontend.ops.windows import created_at
from tripy.tensor import Tensor


@public
def outer(vec1: Tensor, vec2: Tensor) -> Tensor:
    """The outer product ``out[i, j] = vec1[i] * vec2[j]`` of two 1-D tensors of one dtype.

    .. code-block:: python

        out = tp.outer(tp.Tensor([1.0, 2.0]), tp.Tensor([3.0, 4.0, 5.0]))
        assert out.tolist() == [[3.0, 4.0, 5.0], [6.0, 8.0, 10.0]]
    """
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if not isinstance(v, Tensor):
            raise_error(f"outer: `{name}` must be a tp.Tensor, not {type(v).__name__}.")
        if v.rank != 1:
            raise_error(f"outer: `{name}` must be 1-D, but its shape is {v.shape}.", created_at(v, name))
    return reshape(vec1, (vec1.shape[0], 1)) * reshape(vec2, (1, vec2.shape[0]))
