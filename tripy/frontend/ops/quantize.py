"""``quantize`` and ``dequantize``: per-tensor, per-channel and block-wise scales; int8, int4 and float8.

``quantize(x, scale, dtype, dim)`` is ``clamp(round_half_to_even(x / scale), lo, hi)`` in ``dtype``
(int8: -128..127, int4: -8..7; float8 e4m3 saturates to +-448 and rounds to its nearest value), and
``dequantize(q, scale, dtype, dim)`` is ``q * scale`` in ``dtype``. Every backend computes exactly this.
"""

from __future__ import annotations

import numpy as np

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.utils import normalize_dim
from tripy.tensor import Tensor
from tripy.trace.node import topological_order
from tripy.trace.primitives import Dequantize, Input, Quantize

QUANTIZED = (dtypes.int8, dtypes.int4, dtypes.float8)


def check_scale(input: Tensor, scale, dim: int | None, dtype: DataType, op: str) -> tuple[Tensor, int | None]:
    """Validate ``scale`` against ``input`` and ``dim`` as ``op`` (``quantize``) does; returns the scale as a
    tensor and the normalised dim."""
    if not isinstance(scale, Tensor):
        scale = Tensor(scale, dtype=dtypes.float32)
    details = [("`scale` was created at", scale.where), ("`input` was created at", input.where)]
    if not scale.dtype.is_float or scale.dtype.is_quantized:
        raise_error(f"{op}: `scale` must be float32, float16 or bfloat16, but it is {scale.dtype}.", details)
    if dim is None:
        if scale.rank == 2:
            if dtype != dtypes.int4 or input.rank != 2:
                raise_error(
                    f"{op}: a 2-D `scale` means block-wise quantization, which needs dtype int4 and a 2-D "
                    f"`input`; got dtype {dtype} and `input` of shape {input.shape}.",
                    details,
                )
            if any(s == 0 or n % s for n, s in zip(input.shape, scale.shape, strict=True)):
                raise_error(
                    f"{op}: block-wise `scale` of shape {scale.shape} does not tile `input` of shape "
                    f"{input.shape}: each input dimension must be a multiple of the scale's.",
                    details,
                )
        elif scale.rank != 0:
            raise_error(
                f"{op}: with `dim`=None, `scale` must be a scalar (per-tensor) or 2-D (block-wise int4), "
                f"but it has shape {scale.shape}. For per-channel scales pass `dim`.",
                details,
            )
    else:
        dim = normalize_dim(dim, input.rank, op)
        if scale.shape != (input.shape[dim],):
            raise_error(
                f"{op}: per-channel `scale` along `dim`={dim} must have shape ({input.shape[dim]},) to "
                f"match `input` of shape {input.shape}, but it has shape {scale.shape}.",
                details,
            )
    _check_scale_values(scale, op, details)
    return scale, dim


def _check_scale_values(scale: Tensor, op: str, details) -> None:
    """Scales must be positive and finite; checked once per scale tensor whose value can be known."""
    if scale.checked:
        return
    if any(isinstance(t.node.prim, Input) for t in topological_order([scale]) if t.node is not None):
        return  # a traced input of tp.compile: no value to check yet
    values = np.asarray(scale.numpy(), dtype=np.float32)
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        first = values.reshape(-1)[int(np.argmax(bad.reshape(-1)))]
        raise_error(
            f"{op}: `scale` must hold positive, finite values, but it holds {float(first)} "
            f"({int(bad.sum())} of {values.size} values are zero, negative, NaN or infinite).",
            details,
        )
    scale.mark_checked()


@public
def quantize(input: Tensor, scale: Tensor | float, dtype: DataType, dim: int | None = None) -> Tensor:
    """``input`` quantized to ``dtype`` (int8, int4 or float8) with ``scale``.

    ``scale`` is a scalar (per-tensor), a 1-D tensor of ``input.shape[dim]`` values (per-channel along
    ``dim``), or, for int4 on a 2-D input, a 2-D tensor whose each value covers one block.

    .. code-block:: python

        x = tp.Tensor([0.5, 1.5, 2.5, 300.0])
        q = tp.quantize(x, 1.0, tp.int8)
        assert q.tolist() == [0, 2, 2, 127]
    """
    if dtype not in QUANTIZED:
        raise_error(f"quantize: `dtype` must be one of int8, int4, float8 (a quantized type), but it is {dtype}.")
    if not isinstance(input, Tensor) or not input.dtype.is_float or input.dtype.is_quantized:
        where = [("`input` was created at", input.where)] if isinstance(input, Tensor) else []
        raise_error(
            f"quantize: `input` must be a float32, float16 or bfloat16 tensor, but it is "
            f"{getattr(input, 'dtype', type(input).__name__)}.",
            where,
        )
    scale, dim = check_scale(input, scale, dim, dtype, "quantize")
    return Tensor.from_primitive(Quantize.of(dtype, dim), (input, scale))


@public
def dequantize(input: Tensor, scale: Tensor | float, dtype: DataType, dim: int | None = None) -> Tensor:
    """``input`` (int8, int4 or float8) times ``scale``, as the float type ``dtype``.

    ``scale`` and ``dim`` take the same forms as in :func:`quantize`.

    .. code-block:: python

        q = tp.Tensor([2, -3], dtype=tp.int8)
        assert tp.dequantize(q, 0.5, tp.float32).tolist() == [1.0, -1.5]
    """
    if not isinstance(input, Tensor) or input.dtype not in QUANTIZED:
        where = [("`input` was created at", input.where)] if isinstance(input, Tensor) else []
        raise_error(
            f"dequantize: `input` must be an int8, int4 or float8 tensor, but it is "
            f"{getattr(input, 'dtype', type(input).__name__)}.",
            where,
        )
    if not isinstance(dtype, DataType) or not dtype.is_float or dtype.is_quantized:
        raise_error(f"dequantize: `dtype` must be float32, float16 or bfloat16, but it is {dtype}.")
    scale, dim = check_scale(input, scale, dim, input.dtype, "dequantize")
    return Tensor.from_primitive(Dequantize.of(dtype, dim), (input, scale))
