"""``tp.Linear``: ``x @ weight.T + bias``, optionally with int8, int4 or float8 quantization."""

from __future__ import annotations

import weakref

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.modules.module import Module
from tripy.frontend.modules.parameter import Parameter, placeholder
from tripy.frontend.ops.quantize import QUANTIZED, check_scale, dequantize, quantize
from tripy.frontend.ops.shape import transpose
from tripy.tensor import Tensor
from tripy.trace.fusions import float_linear, int8_linear
from tripy.trace.primitives import Primitive


@public
class Linear(Module):
    """A fully connected layer: ``out = x @ weight.T + bias``, with ``weight`` of shape ``(out, in)``.

    With ``quant_dtype`` (int8, int4 or float8) the layer also has ``weight_scale``, which must be set
    before use, and ``input_scale``, which is optional and per-tensor only. The forward pass quantizes
    and dequantizes the input (when ``input_scale`` is set) and the weight (per-tensor, per-channel along
    ``weight_quant_dim``, or block-wise with a 2-D scale for int4), then multiplies. A backend may run
    this as an integer matrix product; the result is the same.

    .. code-block:: python

        linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=0)
        linear.weight_scale = tp.Parameter([1.0, 1.0])
        out = linear(tp.iota((3, 4)))
        assert out.tolist() == [[0.0, 1.0], [6.0, 23.0], [12.0, 45.0]]
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: DataType = dtypes.float32,
        quant_dtype: DataType | None = None,
        weight_quant_dim: int | None = None,
    ) -> None:
        if quant_dtype is not None and quant_dtype not in QUANTIZED:
            raise_error(f"Linear: `quant_dtype` must be int8, int4, float8 or None, not {quant_dtype}.")
        if weight_quant_dim not in (None, 0, 1, -1, -2):
            raise_error(f"Linear: `weight_quant_dim` must be None, 0 or 1, not {weight_quant_dim!r}.")
        self.in_features = in_features
        self.out_features = out_features
        self.dtype = dtype
        self.quant_dtype = quant_dtype
        self.weight_quant_dim = weight_quant_dim
        self.weight = placeholder((out_features, in_features), dtype)
        self.bias = placeholder((out_features,), dtype) if bias else None
        if quant_dtype is not None:
            self.weight_scale: Parameter | None = None
            self.input_scale: Parameter | None = None

    def _settings(self) -> dict:
        settings = {"in_features": self.in_features, "out_features": self.out_features, "dtype": self.dtype}
        if self.quant_dtype is not None:
            settings.update(quant_dtype=self.quant_dtype, weight_quant_dim=self.weight_quant_dim)
        return settings

    def _optional_parameters(self) -> tuple[str, ...]:
        return ("weight_scale", "input_scale") if self.quant_dtype is not None else ()

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise_error(f"Linear: the input must be a tp.Tensor, not {type(x).__name__}.")
        weight: Tensor = self.weight
        if self.quant_dtype is not None:
            if self.weight_scale is None:
                raise_error(
                    "Linear: this quantized Linear has no `weight_scale`: set it before calling the module "
                    "(for example `linear.weight_scale = tp.Parameter(1.0)`)."
                )
            if self.input_scale is not None and self.input_scale.rank != 0:
                raise_error(
                    f"Linear: `input_scale` must be a scalar (per-tensor quantization of the input), but "
                    f"it has shape {self.input_scale.shape}.",
                    [("`input_scale` was created at", self.input_scale.where)],
                )
        fused = self._fused(x)
        if fused is not None:
            return fused
        if self.quant_dtype is not None:
            if self.input_scale is not None:
                x = dequantize(quantize(x, self.input_scale, self.quant_dtype), self.input_scale, x.dtype)
            assert self.weight_scale is not None  # checked above
            q = quantize(weight, self.weight_scale, self.quant_dtype, self.weight_quant_dim)
            weight = dequantize(q, self.weight_scale, self.dtype, self.weight_quant_dim)
        self._check_input(x)
        out = x @ transpose(weight, 0, 1)
        if self.bias is not None:
            out = out + self.bias
        return out

    def _check_input(self, x: Tensor) -> None:
        if x.shape[-1:] != (self.in_features,):
            raise_error(
                f"Linear: the input's last dimension must be in_features={self.in_features}, but the input "
                f"has shape {x.shape}.",
                [("the input was created at", x.where)],
            )

    def _fused(self, x: Tensor) -> Tensor | None:
        """The layer as one fused primitive (``FloatLinear``, or ``Int8Linear`` for int8), which stands for
        exactly the primitives :meth:`forward` writes otherwise; None where it does not apply (the rewrites
        of :mod:`tripy.trace.fusions` would not fuse those primitives either)."""
        parameters = (self.weight, self.bias, getattr(self, "weight_scale", None), getattr(self, "input_scale", None))
        last = self.__dict__.get("_last_fused")  # the last call's checks hold while shape and parameters do
        if last is not None and last[0] == x.shape and last[1] is x.dtype and _same(last[2], parameters):
            inputs: tuple[Tensor, ...] = (x, *(parameters[i] for i in last[4]))  # type: ignore[arg-type]
            return Tensor.from_primitive(last[3], inputs)
        built: tuple[Primitive, tuple[Tensor, ...]] | None
        if self.quant_dtype is None:
            if x.dtype != self.dtype or x.rank < 2:
                return None
            self._check_input(x)
            built = float_linear(x, self.weight, self.bias)
        elif self.quant_dtype is dtypes.int8 and x.dtype == self.dtype and x.rank >= 2:
            assert self.weight_scale is not None
            self._check_input(x)
            x_scale = None
            if self.input_scale is not None:
                x_scale, _ = check_scale(x, self.input_scale, None, self.quant_dtype, "quantize")
            w_scale, axis = check_scale(
                self.weight, self.weight_scale, self.weight_quant_dim, self.quant_dtype, "quantize"
            )
            built = int8_linear(x, x_scale, self.weight, w_scale, self.bias, axis, self.dtype)
        else:
            return None
        if built is None:
            return None
        # The parameters are held weakly (a replaced weight is not kept alive); the inputs after x are some of
        # them, by position.
        held = tuple(_unset if p is None else weakref.ref(p) for p in parameters)
        positions = [[i for i, p in enumerate(parameters) if p is t] for t in built[1][1:]]
        if all(positions):
            cached = (x.shape, x.dtype, held, built[0], tuple(found[0] for found in positions))
            object.__setattr__(self, "_last_fused", cached)
        return Tensor.from_primitive(*built)


def _unset() -> None:
    """Stands for an unset parameter among the weak references: called like one, it gives None."""
    return None


def _same(held: tuple, parameters: tuple) -> bool:
    """Whether the weakly ``held`` parameters are ``parameters``."""
    return (
        held[0]() is parameters[0]
        and held[1]() is parameters[1]
        and held[2]() is parameters[2]
        and held[3]() is parameters[3]
    )
