"""Tensors made from nothing but a shape: ``iota``, ``ones``, ``zeros``, ``full``, ``arange``, ``tril``..."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.dimension_size import plain_size
from tripy.frontend.utils import normalize_dim
from tripy.tensor import Tensor
from tripy.trace.primitives import Full, Iota


def _shape(shape, op: str) -> tuple[int, ...]:
    """A shape argument as ints: Python and NumPy ints and :class:`tripy.DimensionSize` s."""
    shape = plain_size(shape)
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    if isinstance(shape, Sequence):  # NumPy integers are as good as ints
        shape = tuple(int(d) if isinstance(d, numbers.Integral) else plain_size(d) for d in shape)
    if not isinstance(shape, Sequence) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise_error(f"{op}: `shape` must be a sequence of non-negative ints, not {shape!r}.")
    return tuple(shape)


def _dtype(dtype, op: str) -> DataType:
    if not isinstance(dtype, DataType):
        raise_error(f"{op}: `dtype` must be a tripy data type such as tp.float32, not {dtype!r}.")
    return dtype


@public
def iota(shape: Sequence[int], dim: int = 0, dtype: DataType = dtypes.float32) -> Tensor:
    """A tensor whose values count 0, 1, 2... along ``dim`` and repeat along every other dimension.

    .. code-block:: python

        out = tp.iota((2, 3), dim=1)
        assert out.tolist() == [[0, 1, 2], [0, 1, 2]]
    """
    shape = _shape(shape, "iota")
    dim = normalize_dim(dim, len(shape), "iota")
    return Tensor.from_primitive(Iota(shape, dim, _dtype(dtype, "iota")), ())


@public
def full(shape: Sequence[int], value: float | int | bool, dtype: DataType = dtypes.float32) -> Tensor:
    """A tensor of ``shape`` filled with ``value``.

    .. code-block:: python

        out = tp.full((2,), 7.0)
        assert out.tolist() == [7.0, 7.0]
    """
    shape = _shape(shape, "full")
    value = plain_size(value)  # a DimensionSize fill value is its int
    return Tensor.from_primitive(Full(shape, value, _dtype(dtype, "full")), ())


@public
def ones(shape: Sequence[int], dtype: DataType = dtypes.float32) -> Tensor:
    """A tensor of ones.

    .. code-block:: python

        assert tp.ones((2, 2)).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    """
    return full(shape, 1, dtype)


@public
def zeros(shape: Sequence[int], dtype: DataType = dtypes.float32) -> Tensor:
    """A tensor of zeros.

    .. code-block:: python

        assert tp.zeros((3,), dtype=tp.int32).tolist() == [0, 0, 0]
    """
    return full(shape, 0, dtype)


@public
def iota_like(input: Tensor, dim: int = 0, dtype: DataType | None = None) -> Tensor:
    """``iota`` with the shape (and by default the dtype) of ``input``."""
    return iota(input.shape, dim, dtype or input.dtype)


@public
def full_like(input: Tensor, value: float | int | bool, dtype: DataType | None = None) -> Tensor:
    """``full`` with the shape (and by default the dtype) of ``input``."""
    return full(input.shape, value, dtype or input.dtype)


@public
def ones_like(input: Tensor, dtype: DataType | None = None) -> Tensor:
    """Ones with the shape (and by default the dtype) of ``input``."""
    return full(input.shape, 1, dtype or input.dtype)


@public
def zeros_like(input: Tensor, dtype: DataType | None = None) -> Tensor:
    """Zeros with the shape (and by default the dtype) of ``input``."""
    return full(input.shape, 0, dtype or input.dtype)


@public
def arange(start: float, stop: float | None = None, step: float = 1, dtype: DataType = dtypes.float32) -> Tensor:
    """Evenly spaced values in ``[start, stop)``; with one argument, ``[0, start)``.

    .. code-block:: python

        assert tp.arange(0, 6, 2).tolist() == [0.0, 2.0, 4.0]
    """
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise_error("arange: `step` must not be zero.")
    n = max(0, math.ceil((stop - start) / step))
    if dtype.is_integer and not dtype.is_quantized and all(isinstance(v, int) for v in (start, step)):
        return iota((n,), 0, dtype) * step + start  # exact beyond 2**24, where float32 would round
    line = iota((n,), 0, dtypes.float32)
    from tripy.frontend.ops.cast import cast

    values = line * float(step) + float(start)
    return values if dtype == dtypes.float32 else cast(values, dtype)


def _triangle(input: Tensor, diagonal: int, op: str, keep_lower: bool) -> Tensor:
    from tripy.frontend.ops.elementwise import where

    if input.rank < 2:
        raise_error(
            f"{op}: `input` must have rank >= 2, but its shape is {input.shape}.",
            [("`input` was created at", input.where)],
        )
    rows = iota(input.shape[-2:], 0, dtypes.int32)
    cols = iota(input.shape[-2:], 1, dtypes.int32)
    keep = (cols - rows <= diagonal) if keep_lower else (cols - rows >= diagonal)
    return where(keep, input, zeros_like(input))


@public
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions of ``input``; the rest is zero.

    .. code-block:: python

        out = tp.tril(tp.ones((2, 2)))
        assert out.tolist() == [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle(input, diagonal, "tril", keep_lower=True)


@public
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions of ``input``; the rest is zero.

    .. code-block:: python

        out = tp.triu(tp.ones((2, 2)))
        assert out.tolist() == [[1.0, 1.0], [0.0, 1.0]]
    """
    return _triangle(input, diagonal, "triu", keep_lower=False)
