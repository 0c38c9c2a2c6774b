"""``cast``: change a tensor's data type."""

from __future__ import annotations

from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.tensor import Tensor
from tripy.trace.primitives import Cast


@public
def cast(input: Tensor, dtype: DataType) -> Tensor:
    """``input`` converted to ``dtype``. Floats become integers by truncation; int8, int4 and float8
    saturate at their limits rather than wrapping (use :func:`quantize` to scale and round).

    .. code-block:: python

        out = tp.cast(tp.Tensor([1.7, -2.5]), tp.int32)
        assert out.tolist() == [1, -2]
    """
    if not isinstance(dtype, DataType):
        raise_error(f"cast: `dtype` must be a tripy data type such as tp.float16, not {dtype!r}.")
    if input.dtype == dtype:
        return input
    return Tensor.from_primitive(Cast.of(dtype), (input,))
