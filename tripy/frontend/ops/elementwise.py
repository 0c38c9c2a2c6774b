"""Elementwise math functions, ``where`` and ``masked_fill`` (operators: :mod:`tripy.frontend.tensor_operators`)."""

from __future__ import annotations

from tripy import dtypes
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.checks import broadcast_shape
from tripy.frontend.tensor_operators import binary, unary, with_rank
from tripy.frontend.utils import as_tensor
from tripy.tensor import Tensor
from tripy.trace.primitives import BinaryOp, UnaryOp, Where


@public
def exp(input: Tensor) -> Tensor:
    """Elementwise e**x.

    .. code-block:: python

        assert tp.exp(tp.zeros((1,))).tolist() == [1.0]
    """
    return unary(UnaryOp.EXP, input, "exp")


@public
def log(input: Tensor) -> Tensor:
    """Elementwise natural logarithm.

    .. code-block:: python

        assert tp.log(tp.ones((1,))).tolist() == [0.0]
    """
    return unary(UnaryOp.LOG, input, "log")


@public
def sqrt(input: Tensor) -> Tensor:
    """Elementwise square root.

    .. code-block:: python

        assert tp.sqrt(tp.Tensor([4.0])).tolist() == [2.0]
    """
    return unary(UnaryOp.SQRT, input, "sqrt")


@public
def rsqrt(input: Tensor) -> Tensor:
    """Elementwise 1 / sqrt(x).

    .. code-block:: python

        assert tp.rsqrt(tp.Tensor([4.0])).tolist() == [0.5]
    """
    return unary(UnaryOp.RSQRT, input, "rsqrt")


@public
def tanh(input: Tensor) -> Tensor:
    """Elementwise hyperbolic tangent.

    .. code-block:: python

        assert tp.tanh(tp.zeros((1,))).tolist() == [0.0]
    """
    return unary(UnaryOp.TANH, input, "tanh")


@public
def sin(input: Tensor) -> Tensor:
    """Elementwise sine.

    .. code-block:: python

        assert tp.sin(tp.zeros((1,))).tolist() == [0.0]
    """
    return unary(UnaryOp.SIN, input, "sin")


@public
def cos(input: Tensor) -> Tensor:
    """Elementwise cosine.

    .. code-block:: python

        assert tp.cos(tp.zeros((1,))).tolist() == [1.0]
    """
    return unary(UnaryOp.COS, input, "cos")


@public
def abs(input: Tensor) -> Tensor:  # noqa: A001 - mirrors tp.abs
    """Elementwise absolute value.

    .. code-block:: python

        assert tp.abs(tp.Tensor([-2, 3])).tolist() == [2, 3]
    """
    return unary(UnaryOp.ABS, input, "abs", float_only=False)


@public
def pow(input: Tensor | float, exponent: Tensor | float) -> Tensor:  # noqa: A001 - mirrors tp.pow
    """Elementwise ``input ** exponent``.

    .. code-block:: python

        assert tp.pow(tp.Tensor([2.0, 3.0]), 2.0).tolist() == [4.0, 9.0]
    """
    return binary(BinaryOp.POW, input, exponent, "pow")


@public
def maximum(lhs: Tensor | float, rhs: Tensor | float) -> Tensor:
    """Elementwise maximum, with broadcasting.

    .. code-block:: python

        assert tp.maximum(tp.Tensor([1.0, 5.0]), tp.Tensor([3.0, 2.0])).tolist() == [3.0, 5.0]
    """
    return binary(BinaryOp.MAX, lhs, rhs, "maximum")


@public
def minimum(lhs: Tensor | float, rhs: Tensor | float) -> Tensor:
    """Elementwise minimum, with broadcasting.

    .. code-block:: python

        assert tp.minimum(tp.Tensor([1.0, 5.0]), tp.Tensor([3.0, 2.0])).tolist() == [1.0, 2.0]
    """
    return binary(BinaryOp.MIN, lhs, rhs, "minimum")


@public
def where(condition: Tensor, input: Tensor | float, other: Tensor | float) -> Tensor:
    """Pick ``input`` where ``condition`` is true and ``other`` elsewhere, with broadcasting.

    .. code-block:: python

        out = tp.where(tp.Tensor([True, False]), tp.Tensor([1.0, 2.0]), 0.0)
        assert out.tolist() == [1.0, 0.0]
    """
    condition = as_tensor(condition, "condition", "where")
    if condition.dtype != dtypes.bool:
        raise_error(
            f"where: `condition` must have dtype bool, but it is {condition.dtype}.",
            [("`condition` was created at", condition.where)],
        )
    if not isinstance(input, Tensor):
        input = as_tensor(input, "input", "where", like=other if isinstance(other, Tensor) else None)
    other = as_tensor(other, "other", "where", like=input)
    if input.dtype != other.dtype:
        raise_error(
            f"where: `input` is {input.dtype} but `other` is {other.dtype}; they must match.",
            [("`input` was created at", input.where), ("`other` was created at", other.where)],
        )
    shape = broadcast_shape(condition, input, other, op="where", names=("condition", "input", "other"))
    rank = len(shape)
    return Tensor.from_primitive(Where(), (with_rank(condition, rank), with_rank(input, rank), with_rank(other, rank)))


@public
def masked_fill(input: Tensor, mask: Tensor, value: float) -> Tensor:
    """``input`` with ``value`` wherever ``mask`` is true.

    .. code-block:: python

        out = tp.masked_fill(tp.zeros((2,)), tp.Tensor([False, True]), -1.0)
        assert out.tolist() == [0.0, -1.0]
    """
    return where(mask, as_tensor(value, "value", "masked_fill", like=input), input)
