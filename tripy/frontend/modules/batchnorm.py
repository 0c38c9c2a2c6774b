"""``tp.BatchNorm``: per-channel normalisation with stored running statistics (inference form)."""

from __future__ import annotations

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.modules.module import Module
from tripy.frontend.modules.parameter import placeholder
from tripy.frontend.ops.cast import cast
from tripy.frontend.ops.elementwise import rsqrt
from tripy.frontend.ops.shape import reshape
from tripy.tensor import Tensor


def channel_view(p: Tensor, rank: int) -> Tensor:
    """A per-channel vector shaped to broadcast over dimension 1 of a rank-``rank`` input, in float32."""
    return reshape(cast(p, dtypes.float32), (1, p.shape[0]) + (1,) * (rank - 2))


def check_channels(x: Tensor, channels: int, name: str, min_rank: int = 2) -> None:
    """The input must be ``(N, channels, ...)`` with at least ``min_rank`` dimensions."""
    if not isinstance(x, Tensor):
        raise_error(f"{name}: the input must be a tp.Tensor, not {type(x).__name__}.")
    if x.rank < min_rank or x.shape[1] != channels:
        raise_error(
            f"{name}: the input must have shape (N, {channels}, ...) with at least {min_rank} dimensions, but its "
            f"shape is {x.shape}.",
            [("the input was created at", x.where)],
        )
    if not x.dtype.is_float:
        raise_error(
            f"{name}: the input must have a floating-point dtype, but it is {x.dtype}.",
            [("the input was created at", x.where)],
        )


@public
class BatchNorm(Module):
    """``(x - running_mean) / sqrt(running_var + eps) * weight + bias`` per channel (dimension 1).

    ``weight``, ``bias``, ``running_mean`` and ``running_var`` have shape ``(num_features,)``; the input is
    ``(N, num_features, ...)``. Computed in float32 and rounded once to the input's dtype.

    .. code-block:: python

        norm = tp.BatchNorm(2)
        norm.weight = tp.Tensor([1.0, 2.0])
        norm.bias = tp.Tensor([0.0, 1.0])
        norm.running_mean = tp.Tensor([1.0, 0.0])
        norm.running_var = tp.Tensor([4.0, 1.0])
        norm.eps = 0.0
        out = norm(tp.Tensor([[[3.0], [0.5]]]))
        assert out.tolist() == [[[1.0], [2.0]]]
    """

    def __init__(self, num_features: int, dtype: DataType = dtypes.float32, eps: float = 1e-5) -> None:
        self.num_features = num_features
        self.dtype = dtype
        self.eps = eps
        self.weight = placeholder((num_features,), dtype)
        self.bias = placeholder((num_features,), dtype)
        self.running_mean = placeholder((num_features,), dtype)
        self.running_var = placeholder((num_features,), dtype)

    def _settings(self) -> dict:
        return {"num_features": self.num_features, "dtype": self.dtype, "eps": self.eps}

    def forward(self, x: Tensor) -> Tensor:
        check_channels(x, self.num_features, "BatchNorm")
        r = x.rank
        wide = cast(x, dtypes.float32)
        normed = (wide - channel_view(self.running_mean, r)) * rsqrt(channel_view(self.running_var, r) + self.eps)
        return cast(normed * channel_view(self.weight, r) + channel_view(self.bias, r), x.dtype)
