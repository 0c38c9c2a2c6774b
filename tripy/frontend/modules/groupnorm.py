"""``tp.GroupNorm``: normalisation over groups of channels, with a learned per-channel scale and shift."""

from __future__ import annotations

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.modules.batchnorm import channel_view, check_channels
from tripy.frontend.modules.module import Module
from tripy.frontend.modules.parameter import placeholder
from tripy.frontend.ops.cast import cast
from tripy.frontend.ops.elementwise import rsqrt
from tripy.frontend.ops.reduce import mean
from tripy.frontend.ops.shape import reshape
from tripy.tensor import Tensor


def normalize(x: Tensor, dims: tuple[int, ...], eps: float) -> Tensor:
    """``(x - mean) / sqrt(var + eps)`` over ``dims`` (biased variance), in float32."""
    centred = x - mean(x, dims, keepdim=True)
    return centred * rsqrt(mean(centred * centred, dims, keepdim=True) + eps)


@public
class GroupNorm(Module):
    """The channels (dimension 1) split into ``num_groups`` groups, each normalised over its channels and all
    the positions of one sample, then scaled by ``weight`` and shifted by ``bias`` (shape ``(num_channels,)``).
    Computed in float32 and rounded once to the input's dtype.

    .. code-block:: python

        norm = tp.GroupNorm(2, 4)
        norm.weight = tp.ones((4,))
        norm.bias = tp.zeros((4,))
        out = norm(tp.Tensor([[[1.0], [3.0], [5.0], [5.0]]]))
        assert [round(v[0], 3) for v in out.tolist()[0]] == [-1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, num_groups: int, num_channels: int, dtype: DataType = dtypes.float32, eps: float = 1e-5):
        if not isinstance(num_groups, int) or num_groups < 1 or num_channels % num_groups:
            raise_error(
                f"GroupNorm: `num_groups`={num_groups!r} must be a positive int dividing `num_channels`={num_channels}."
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.dtype = dtype
        self.eps = eps
        self.weight = placeholder((num_channels,), dtype)
        self.bias = placeholder((num_channels,), dtype)

    def _settings(self) -> dict:
        return {"num_groups": self.num_groups, "num_channels": self.num_channels, "dtype": self.dtype, "eps": self.eps}

    def forward(self, x: Tensor) -> Tensor:
        check_channels(x, self.num_channels, "GroupNorm")
        grouped = reshape(cast(x, dtypes.float32), (x.shape[0], self.num_groups, -1))
        normed = reshape(normalize(grouped, (2,), self.eps), x.shape)
        return cast(normed * channel_view(self.weight, x.rank) + channel_view(self.bias, x.rank), x.dtype)
