"""``tp.InstanceNorm``: each channel of each sample normalised over its positions, then scaled and shifted."""

from __future__ import annotations

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.export import public
from tripy.frontend.modules.batchnorm import channel_view, check_channels
from tripy.frontend.modules.groupnorm import normalize
from tripy.frontend.modules.module import Module
from tripy.frontend.modules.parameter import placeholder
from tripy.frontend.ops.cast import cast
from tripy.tensor import Tensor


@public
class InstanceNorm(Module):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` with the mean and (biased) variance taken over the
    spatial dimensions of each sample and channel; the input is ``(N, num_channels, *spatial)``. Computed in
    float32 and rounded once to the input's dtype.

    .. code-block:: python

        norm = tp.InstanceNorm(1)
        norm.weight = tp.ones((1,))
        norm.bias = tp.zeros((1,))
        out = norm(tp.Tensor([[[1.0, 3.0]]]))
        assert [round(v, 3) for v in out.tolist()[0][0]] == [-1.0, 1.0]
    """

    def __init__(self, num_channels: int, dtype: DataType = dtypes.float32, eps: float = 1e-5) -> None:
        self.num_channels = num_channels
        self.dtype = dtype
        self.eps = eps
        self.weight = placeholder((num_channels,), dtype)
        self.bias = placeholder((num_channels,), dtype)

    def _settings(self) -> dict:
        return {"num_channels": self.num_channels, "dtype": self.dtype, "eps": self.eps}

    def forward(self, x: Tensor) -> Tensor:
        check_channels(x, self.num_channels, "InstanceNorm", min_rank=3)
        normed = normalize(cast(x, dtypes.float32), tuple(range(2, x.rank)), self.eps)
        return cast(normed * channel_view(self.weight, x.rank) + channel_view(self.bias, x.rank), x.dtype)
