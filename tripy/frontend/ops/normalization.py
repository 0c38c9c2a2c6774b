"""``tp.layer_norm``: layer normalisation as one operation (one kernel on the GPU)."""

from __future__ import annotations

from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.utils import as_tensor, check_dtype
from tripy.tensor import Tensor
from tripy.trace.primitives import LayerNorm


@public
def layer_norm(input: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5, dtype: DataType | None = None) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last ``weight.rank`` dimensions of ``input``.

    The mean and variance are computed in float32 whatever ``input``'s dtype (squares of float16 activations
    overflow); the scale and shift are applied in the dtype of ``weight`` and ``bias``; the result has
    ``dtype`` (by default ``input``'s). :class:`tripy.LayerNorm` is this with its parameters.

    .. code-block:: python

        x = tp.Tensor([[1.0, 3.0]], dtype=tp.float16)
        out = tp.layer_norm(x, tp.ones((2,)), tp.zeros((2,)))
        assert out.dtype == tp.float16 and abs(out.tolist()[0][1] - 1.0) < 1e-2
    """
    op = "layer_norm"
    input, weight, bias = as_tensor(input, "input", op), as_tensor(weight, "weight", op), as_tensor(bias, "bias", op)
    for t, name in ((input, "input"), (weight, "weight"), (bias, "bias")):
        check_dtype(t, name, op, float_only=True)
    dims = weight.rank
    if dims == 0 or input.shape[input.rank - dims :] != weight.shape or bias.shape != weight.shape:
        raise_error(
            f"{op}: `weight` {weight.shape} and `bias` {bias.shape} must both have the shape of the last "
            f"dimensions of `input` {input.shape}.",
            [("`input` was created at", input.where), ("`weight` was created at", weight.where)],
        )
    if bias.dtype != weight.dtype:
        raise_error(
            f"{op}: `weight` and `bias` must have one dtype, but they have {weight.dtype} and {bias.dtype}.",
            [("`bias` was created at", bias.where)],
        )
    out_dtype = input.dtype if dtype is None else dtype
    if not isinstance(out_dtype, DataType) or not out_dtype.is_float:
        raise_error(f"{op}: `dtype` must be a float tp.DataType, not {out_dtype!r}.")
    return Tensor.from_primitive(LayerNorm(dims, float(eps), out_dtype), (input, weight, bias))
