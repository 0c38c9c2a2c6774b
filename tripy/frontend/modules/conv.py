"""``tp.Conv`` and ``tp.ConvTranspose``: learned convolutions over ``(N, C, *spatial)`` inputs.

A quantized ``Conv`` with an ``input_scale`` runs as an integer convolution: both operands are quantized,
their products summed exactly in int32, and the sums scaled once by ``input_scale * weight_scale``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.modules.module import Module
from tripy.frontend.modules.parameter import Parameter, placeholder
from tripy.frontend.ops.cast import cast
from tripy.frontend.ops.conv import conv_transpose, convolution
from tripy.frontend.ops.quantize import QUANTIZED, dequantize, quantize
from tripy.frontend.ops.shape import reshape
from tripy.frontend.ops.windows import int_tuple, padding_pairs
from tripy.tensor import Tensor


class _ConvBase(Module):
    """Settings shared by Conv and ConvTranspose, checked when the layer is made."""

    def _configure(
        self,
        name: str,
        in_channels: int,
        out_channels: int,
        kernel_dims: Sequence[int],
        padding: Sequence[Sequence[int]] | None,
        stride: Sequence[int] | None,
        groups: int | None,
        dilation: Sequence[int] | None,
        dtype: DataType,
    ) -> None:
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise_error(f"{name}: `{arg}` must be a positive int, not {value!r}.")
        if not isinstance(kernel_dims, Sequence) or not 1 <= len(kernel_dims) <= 3:
            raise_error(f"{name}: `kernel_dims` must be a sequence of 1 to 3 positive ints, not {kernel_dims!r}.")
        rank = len(kernel_dims)
        self.kernel_dims = int_tuple(kernel_dims, rank, "kernel_dims", name, 1, 1)
        self.padding = padding_pairs(padding, rank, name)
        self.stride = int_tuple(stride, rank, "stride", name, 1, 1)
        self.dilation = int_tuple(dilation, rank, "dilation", name, 1, 1)
        groups = 1 if groups is None else groups
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise_error(f"{name}: `groups` must be a positive int, not {groups!r}.")
        if in_channels % groups or out_channels % groups:
            raise_error(
                f"{name}: `groups`={groups} must divide both `in_channels`={in_channels} and "
                f"`out_channels`={out_channels}."
            )
        if not isinstance(dtype, DataType) or not dtype.is_float or dtype.is_quantized:
            raise_error(f"{name}: `dtype` must be float32, float16 or bfloat16, not {dtype!r}.")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.groups = groups
        self.dtype = dtype

    def _check_input(self, x: Tensor, name: str) -> None:
        if not isinstance(x, Tensor):
            raise_error(f"{name}: the input must be a tp.Tensor, not {type(x).__name__}.")
        rank = len(self.kernel_dims)
        if x.rank != rank + 2 or x.shape[1] != self.in_channels:
            raise_error(
                f"{name}: the input must have shape (N, {self.in_channels}, ...) with {rank} spatial dimension(s), "
                f"but its shape is {x.shape}.",
                [("the input was created at", x.where)],
            )
        if x.dtype != self.dtype:
            raise_error(
                f"{name}: the input is {x.dtype} but the layer is {self.dtype}; tp.cast the input.",
                [("the input was created at", x.where)],
            )

    def _settings(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_dims": self.kernel_dims,
            "padding": self.padding,
            "stride": self.stride,
            "groups": self.groups,
            "dilation": self.dilation,
            "dtype": self.dtype,
        }


@public
class Conv(_ConvBase):
    """A convolution (cross-correlation, as in PyTorch) over 1 to 3 spatial dimensions, NCHW layout.

    ``weight`` has shape ``(out_channels, in_channels // groups, *kernel_dims)`` and ``bias``
    ``(out_channels,)``. ``padding`` is zeros, one ``(before, after)`` pair per spatial dimension; ``stride``
    and ``dilation`` have one int per spatial dimension (1 by default). Each output size is
    ``(n + before + after - dilation * (k - 1) - 1) // stride + 1``.

    With ``quant_dtype`` (int8, int4 or float8) the layer also has ``weight_scale`` (required; a scalar, or
    one value per output channel with ``weight_quant_dim=0``) and ``input_scale`` (optional, a scalar). With
    both set and an integer ``quant_dtype``, the convolution sums int8 (or int4) products exactly in int32
    and scales the sums by ``input_scale * weight_scale``; otherwise the weight is quantized and dequantized.

    .. code-block:: python

        conv = tp.Conv(1, 1, (2, 2), stride=(2, 2), bias=False)
        conv.weight = tp.ones((1, 1, 2, 2))
        out = conv(tp.reshape(tp.arange(16), (1, 1, 4, 4)))
        assert out.tolist() == [[[[10.0, 18.0], [42.0, 50.0]]]]

        qconv = tp.Conv(1, 2, (1, 1), bias=False, quant_dtype=tp.int8, weight_quant_dim=0)
        qconv.weight = tp.Tensor([[[[1.0]]], [[[-2.0]]]])
        qconv.weight_scale = tp.Tensor([0.01, 0.02])
        qconv.input_scale = tp.Tensor(0.5)
        assert qconv(tp.full((1, 1, 1, 1), 3.0)).tolist() == [[[[3.0]], [[-6.0]]]]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_dims: Sequence[int],
        padding: Sequence[Sequence[int]] | None = None,
        stride: Sequence[int] | None = None,
        groups: int | None = None,
        dilation: Sequence[int] | None = None,
        bias: bool = True,
        dtype: DataType = dtypes.float32,
        quant_dtype: DataType | None = None,
        weight_quant_dim: int | None = None,
    ) -> None:
        self._configure("Conv", in_channels, out_channels, kernel_dims, padding, stride, groups, dilation, dtype)
        if quant_dtype is not None and quant_dtype not in QUANTIZED:
            raise_error(f"Conv: `quant_dtype` must be int8, int4, float8 or None, not {quant_dtype}.")
        if weight_quant_dim not in (None, 0):
            raise_error(
                f"Conv: `weight_quant_dim` must be None (per-tensor) or 0 (per output channel), not "
                f"{weight_quant_dim!r}."
            )
        self.quant_dtype = quant_dtype
        self.weight_quant_dim = weight_quant_dim
        self.weight = placeholder((out_channels, in_channels // self.groups, *self.kernel_dims), dtype)
        self.bias = placeholder((out_channels,), dtype) if bias else None
        if quant_dtype is not None:
            self.weight_scale: Parameter | None = None
            self.input_scale: Parameter | None = None

    def _settings(self) -> dict:
        settings = super()._settings()
        if self.quant_dtype is not None:
            settings.update(quant_dtype=self.quant_dtype, weight_quant_dim=self.weight_quant_dim)
        return settings

    def _optional_parameters(self) -> tuple[str, ...]:
        return ("weight_scale", "input_scale") if self.quant_dtype is not None else ()

    def _convolve(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        return convolution(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x, "Conv")
        if self.quant_dtype is None:
            return self._convolve(x, self.weight, self.bias)
        weight_scale, input_scale = self.weight_scale, self.input_scale
        if weight_scale is None:
            raise_error(
                "Conv: this quantized Conv has no `weight_scale`: set it before calling the module (for example "
                "`conv.weight_scale = tp.Parameter(1.0)`)."
            )
        assert weight_scale is not None  # raise_error raised
        if input_scale is not None and input_scale.rank != 0:
            raise_error(
                f"Conv: `input_scale` must be a scalar (per-tensor quantization of the input), but it has shape "
                f"{input_scale.shape}.",
                [("`input_scale` was created at", input_scale.where)],
            )
        q_weight = quantize(self.weight, weight_scale, self.quant_dtype, self.weight_quant_dim)
        if input_scale is not None and self.quant_dtype in (dtypes.int8, dtypes.int4):
            q_input = quantize(x, input_scale, self.quant_dtype)
            sums = cast(self._convolve(q_input, q_weight, None), dtypes.float32)
            scale = cast(input_scale, dtypes.float32) * cast(weight_scale, dtypes.float32)
            if scale.rank == 1:
                scale = reshape(scale, (1, self.out_channels) + (1,) * len(self.kernel_dims))
            out = cast(sums * scale, self.dtype)
            return out if self.bias is None else out + reshape(self.bias, (1, -1) + (1,) * len(self.kernel_dims))
        if input_scale is not None:
            x = dequantize(quantize(x, input_scale, self.quant_dtype), input_scale, x.dtype)
        weight = dequantize(q_weight, weight_scale, self.dtype, self.weight_quant_dim)
        return self._convolve(x, weight, self.bias)


@public
class ConvTranspose(_ConvBase):
    """A transposed convolution (the gradient of :class:`Conv` with respect to its input), NCHW layout.

    ``weight`` has shape ``(in_channels, out_channels // groups, *kernel_dims)``, as in PyTorch. Each output
    size is ``(n - 1) * stride - before - after + dilation * (k - 1) + 1``: ``padding`` removes positions
    from the ends of the full result.

    .. code-block:: python

        up = tp.ConvTranspose(1, 1, (2, 2), stride=(2, 2), bias=False)
        up.weight = tp.ones((1, 1, 2, 2))
        out = up(tp.Tensor([[[[1.0, 2.0]]]]))
        assert out.tolist() == [[[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]]]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_dims: Sequence[int],
        padding: Sequence[Sequence[int]] | None = None,
        stride: Sequence[int] | None = None,
        groups: int | None = None,
        dilation: Sequence[int] | None = None,
        bias: bool = True,
        dtype: DataType = dtypes.float32,
    ) -> None:
        self._configure(
            "ConvTranspose", in_channels, out_channels, kernel_dims, padding, stride, groups, dilation, dtype
        )
        self.weight = placeholder((in_channels, out_channels // self.groups, *self.kernel_dims), dtype)
        self.bias = placeholder((out_channels,), dtype) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x, "ConvTranspose")
        return conv_transpose(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
