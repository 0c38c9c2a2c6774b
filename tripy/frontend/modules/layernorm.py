"""``tp.LayerNorm``: normalisation over the last dimensions, with a learned scale and shift."""

from __future__ import annotations

from collections.abc import Sequence

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.modules.module import Module
from tripy.frontend.modules.parameter import placeholder
from tripy.frontend.ops.cast import cast
from tripy.frontend.ops.elementwise import rsqrt
from tripy.frontend.ops.normalization import layer_norm
from tripy.frontend.ops.reduce import mean
from tripy.tensor import Tensor


@public
class LayerNorm(Module):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last ``len(normalized_shape)`` dimensions.

    .. code-block:: python

        norm = tp.LayerNorm(2)
        norm.weight = tp.Parameter([1.0, 1.0])
        norm.bias = tp.Parameter([0.0, 0.0])
        assert norm(tp.Tensor([[1.0, 3.0]])).tolist()[0][1] > 0.99
    """

    def __init__(self, normalized_shape: int | Sequence[int], dtype: DataType = dtypes.float32, eps: float = 1e-5):
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.dtype = dtype
        self.eps = eps
        self.weight = placeholder(self.normalized_shape, dtype)
        self.bias = placeholder(self.normalized_shape, dtype)

    def _settings(self) -> dict:
        return {"normalized_shape": self.normalized_shape, "dtype": self.dtype, "eps": self.eps}

    def forward(self, x: Tensor) -> Tensor:
        n = len(self.normalized_shape)
        if x.shape[-n:] != self.normalized_shape:
            raise_error(
                f"LayerNorm: the input's last dimensions must be {self.normalized_shape}, but the input has "
                f"shape {x.shape}.",
                [("the input was created at", x.where)],
            )
        if x.dtype == self.dtype:  # one primitive: the composite below, one kernel on the GPU
            return layer_norm(x, self.weight, self.bias, self.eps)
        dims = tuple(range(x.rank - n, x.rank))
        # Normalised in float32 (as PyTorch does for float16/bfloat16): squares of float16 activations
        # above 256 would overflow.
        wide = cast(x, dtypes.float32)
        centred = wide - mean(wide, dims, keepdim=True)
        variance = mean(centred * centred, dims, keepdim=True)
        return cast(centred * rsqrt(variance + self.eps), x.dtype) * self.weight + self.bias
