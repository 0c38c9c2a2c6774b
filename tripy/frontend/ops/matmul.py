"""``matmul`` (the ``@`` operator): matrix products with batch broadcasting, as in NumPy."""

from __future__ import annotations

from tripy.export import public
from tripy.frontend import tensor_operators as operators
from tripy.frontend.utils import as_tensor
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
    return operators.matmul(as_tensor(input, "input", "matmul"), as_tensor(other, "other", "matmul"))
