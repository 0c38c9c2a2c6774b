"""Reductions: ``sum``, ``mean``, ``max``, ``min``, ``prod``, ``var``, ``argmax``, ``argmin``, ``all``, ``any``."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tripy import dtypes
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.utils import normalize_dim
from tripy.tensor import Tensor
from tripy.trace.primitives import Argmax, Reduce, ReduceOp


def _axes(input: Tensor, dim: int | Sequence[int] | None, op: str) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(input.rank))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    axes = tuple(sorted({normalize_dim(d, input.rank, op) for d in dims}))
    return axes


def _reduce(op: ReduceOp, input: Tensor, dim, keepdim: bool, name: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise_error(f"{name}: `input` must be a tp.Tensor, not {type(input).__name__}.")
    return Tensor.from_primitive(Reduce.of(op, _axes(input, dim, name), keepdim), (input,))


def _to(input: Tensor, dtype) -> Tensor:
    """``input`` cast to ``dtype``. Means and variances of float16/bfloat16/float8 tensors are computed in
    float32 and rounded once: their sums and squares would overflow float16 (65504) long before the result."""
    from tripy.frontend.ops.cast import cast

    return cast(input, dtype)


def _bool_to_int(input: Tensor) -> Tensor:
    """Sums and products of booleans count in int32 (as NumPy and PyTorch promote them)."""
    if isinstance(input, Tensor) and input.dtype == dtypes.bool:
        from tripy.frontend.ops.cast import cast

        return cast(input, dtypes.int32)
    return input


@public
def sum(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """The sum over ``dim`` (all dimensions by default).

    .. code-block:: python

        assert tp.sum(tp.ones((2, 3)), dim=1).tolist() == [3.0, 3.0]
    """
    return _reduce(ReduceOp.SUM, _bool_to_int(input), dim, keepdim, "sum")


@public
def prod(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    """The product over ``dim`` (all dimensions by default).

    .. code-block:: python

        assert tp.prod(tp.Tensor([2.0, 3.0])).tolist() == 6.0
    """
    return _reduce(ReduceOp.PROD, _bool_to_int(input), dim, keepdim, "prod")


@public
def max(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """The maximum over ``dim`` (all dimensions by default).

    .. code-block:: python

        assert tp.max(tp.Tensor([[1, 5], [7, 2]]), dim=0).tolist() == [7, 5]
    """
    return _reduce(ReduceOp.MAX, input, dim, keepdim, "max")


@public
def min(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """The minimum over ``dim`` (all dimensions by default).

    .. code-block:: python

        assert tp.min(tp.Tensor([[1, 5], [7, 2]]), dim=1).tolist() == [1, 2]
    """
    return _reduce(ReduceOp.MIN, input, dim, keepdim, "min")


@public
def mean(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    """The arithmetic mean over ``dim`` (all dimensions by default).

    .. code-block:: python

        assert tp.mean(tp.Tensor([1.0, 2.0, 6.0])).tolist() == 3.0
    """
    if not input.dtype.is_float:
        raise_error(
            f"mean: `input` must have a floating-point dtype, but it is {input.dtype}.",
            [("`input` was created at", input.where)],
        )
    count = math.prod(input.shape[a] for a in _axes(input, dim, "mean"))
    return _to(sum(_to(input, dtypes.float32), dim, keepdim) / float(count), input.dtype)


@public
def var(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1) -> Tensor:
    """The variance over ``dim``, dividing by ``N - correction`` (Bessel's correction by default).

    .. code-block:: python

        assert tp.var(tp.Tensor([1.0, 3.0])).tolist() == 2.0
    """
    if isinstance(input, Tensor) and not input.dtype.is_float:
        raise_error(
            f"var: `input` must have a floating-point dtype, but it is {input.dtype}.",
            [("`input` was created at", input.where)],
        )
    count = math.prod(input.shape[a] for a in _axes(input, dim, "var"))
    x = _to(input, dtypes.float32)
    centred = x - mean(x, dim, keepdim=True)
    return _to(sum(centred * centred, dim, keepdim) / float(count - correction), input.dtype)


def _arg(op: str, input: Tensor, dim: int | None, keepdim: bool) -> Tensor:
    if dim is None:
        from tripy.frontend.ops.shape import reshape

        input, dim = reshape(input, (-1,)), 0
    axis = normalize_dim(dim, input.rank, op)
    x = input
    if op == "argmin":  # argmax of an order-reversing map: -x for floats, ~x for bools, -1 - x (no overflow) for ints
        x = ~input if input.dtype == dtypes.bool else -input if input.dtype.is_float else -1 - input
    return Tensor.from_primitive(Argmax(axis, keepdim), (x,))


@public
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index of the (first) maximum along ``dim``, as int32; over the flattened tensor by default.

    .. code-block:: python

        assert tp.argmax(tp.Tensor([[1, 5], [7, 2]]), dim=1).tolist() == [1, 0]
    """
    return _arg("argmax", input, dim, keepdim)


@public
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index of the (first) minimum along ``dim``, as int32; over the flattened tensor by default.

    .. code-block:: python

        assert tp.argmin(tp.Tensor([3.0, 1.0, 2.0])).tolist() == 1
    """
    return _arg("argmin", input, dim, keepdim)


@public
def all(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether every element over ``dim`` is true.

    .. code-block:: python

        assert tp.all(tp.Tensor([True, False])).tolist() is False
    """
    if isinstance(input, Tensor) and input.dtype != dtypes.bool:
        input = input != 0
    return _reduce(ReduceOp.MIN, input, dim, keepdim, "all")


@public
def any(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether some element over ``dim`` is true.

    .. code-block:: python

        assert tp.any(tp.Tensor([True, False])).tolist() is True
    """
    if isinstance(input, Tensor) and input.dtype != dtypes.bool:
        input = input != 0
    return _reduce(ReduceOp.MAX, input, dim, keepdim, "any")
