"""Elementwise math, the arithmetic and comparison operators of ``tp.Tensor``, ``where`` and ``masked_fill``."""

from __future__ import annotations

import math
from typing import Any

from tripy import dtypes
from tripy.backend.base import COMPARISONS
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.utils import as_tensor, broadcast_shape, with_rank
from tripy.tensor import Tensor

_SYMBOL = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "floor_div": "//",
    "mod": "%",
    "pow": "**",
    "and": "&",
    "or": "|",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
}


_LOGICAL = frozenset({"and", "or"})
#: Ops that take bools as well as numbers (bool add and mul are or and and, as in NumPy).
_ANY_DTYPE = COMPARISONS | {"max", "min", "add", "mul"}


def binary(op: str, a: Any, b: Any, name: str | None = None) -> Tensor:
    """Apply a binary primitive with broadcasting; Python scalars take the other operand's dtype."""
    opname = name or f"'{_SYMBOL.get(op, op)}'"
    if not isinstance(a, Tensor):
        a = as_tensor(a, "input", opname, like=b if isinstance(b, Tensor) else None)
    b = as_tensor(b, "other", opname, like=a)
    if a.dtype != b.dtype:
        raise_error(
            f"{opname}: operands have different dtypes: `input` is {a.dtype} and `other` is {b.dtype}; "
            f"use tp.cast to make them match.",
            [("`input` was created at", a.where), ("`other` was created at", b.where)],
        )
    if (op in _LOGICAL) != (a.dtype == dtypes.bool) and op not in _ANY_DTYPE:
        message = (
            f"{opname} is a logical operator: its operands must be bool, but they are {a.dtype}; make a "
            f"mask with a comparison (e.g. `x != 0`) or use tp.cast."
            if op in _LOGICAL
            else f"{opname} does not take bool operands; tp.cast them to a number type first."
        )
        raise_error(message, [("`input` was created at", a.where), ("`other` was created at", b.where)])
    shape = a.shape if a.shape == b.shape else broadcast_shape(a, b, op=opname)
    rank = len(shape)
    out_dtype = dtypes.bool if op in COMPARISONS else a.dtype
    return Tensor._from_node("binary", (with_rank(a, rank), with_rank(b, rank)), {"op": op}, shape, out_dtype)


def unary(op: str, x: Tensor, name: str, float_only: bool = True) -> Tensor:
    if not isinstance(x, Tensor):
        x = as_tensor(x, "input", name)
    if (op == "not" and x.dtype != dtypes.bool) or (op == "neg" and x.dtype == dtypes.bool):
        need = "must be bool (a mask)" if op == "not" else "must not be bool (use ~ for logical not)"
        raise_error(f"{name}: `input` {need}, but it is {x.dtype}.", [("`input` was created at", x.where)])
    if float_only and not x.dtype.is_float:
        raise_error(
            f"{name}: `input` must have a floating-point dtype, but it is {x.dtype}.",
            [("`input` was created at", x.where)],
        )
    return Tensor._from_node("unary", (x,), {"op": op}, x.shape, x.dtype)


@public
def exp(input: Tensor) -> Tensor:
    """Elementwise e**x.

    .. code-block:: python

        assert tp.exp(tp.zeros((1,))).tolist() == [1.0]
    """
    return unary("exp", input, "exp")


@public
def log(input: Tensor) -> Tensor:
    """Elementwise natural logarithm.

    .. code-block:: python

        assert tp.log(tp.ones((1,))).tolist() == [0.0]
    """
    return unary("log", input, "log")


@public
def sqrt(input: Tensor) -> Tensor:
    """Elementwise square root.

    .. code-block:: python

        assert tp.sqrt(tp.Tensor([4.0])).tolist() == [2.0]
    """
    return unary("sqrt", input, "sqrt")


@public
def rsqrt(input: Tensor) -> Tensor:
    """Elementwise 1 / sqrt(x).

    .. code-block:: python

        assert tp.rsqrt(tp.Tensor([4.0])).tolist() == [0.5]
    """
    return unary("rsqrt", input, "rsqrt")


@public
def tanh(input: Tensor) -> Tensor:
    """Elementwise hyperbolic tangent.

    .. code-block:: python

        assert tp.tanh(tp.zeros((1,))).tolist() == [0.0]
    """
    return unary("tanh", input, "tanh")


@public
def sin(input: Tensor) -> Tensor:
    """Elementwise sine.

    .. code-block:: python

        assert tp.sin(tp.zeros((1,))).tolist() == [0.0]
    """
    return unary("sin", input, "sin")


@public
def cos(input: Tensor) -> Tensor:
    """Elementwise cosine.

    .. code-block:: python

        assert tp.cos(tp.zeros((1,))).tolist() == [1.0]
    """
    return unary("cos", input, "cos")


@public
def abs(input: Tensor) -> Tensor:  # noqa: A001 - mirrors tp.abs
    """Elementwise absolute value.

    .. code-block:: python

        assert tp.abs(tp.Tensor([-2, 3])).tolist() == [2, 3]
    """
    return unary("abs", input, "abs", float_only=False)


@public
def pow(input: Tensor | float, exponent: Tensor | float) -> Tensor:  # noqa: A001 - mirrors tp.pow
    """Elementwise ``input ** exponent``.

    .. code-block:: python

        assert tp.pow(tp.Tensor([2.0, 3.0]), 2.0).tolist() == [4.0, 9.0]
    """
    return binary("pow", input, exponent, "pow")


@public
def maximum(lhs: Tensor, rhs: Tensor) -> Tensor:
    """Elementwise maximum, with broadcasting.

    .. code-block:: python

        assert tp.maximum(tp.Tensor([1.0, 5.0]), tp.Tensor([3.0, 2.0])).tolist() == [3.0, 5.0]
    """
    return binary("max", lhs, rhs, "maximum")


@public
def minimum(lhs: Tensor, rhs: Tensor) -> Tensor:
    """Elementwise minimum, with broadcasting.

    .. code-block:: python

        assert tp.minimum(tp.Tensor([1.0, 5.0]), tp.Tensor([3.0, 2.0])).tolist() == [1.0, 2.0]
    """
    return binary("min", lhs, rhs, "minimum")


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
    return Tensor._from_node(
        "where", (with_rank(condition, rank), with_rank(input, rank), with_rank(other, rank)), {}, shape, input.dtype
    )


@public
def masked_fill(input: Tensor, mask: Tensor, value: float) -> Tensor:
    """``input`` with ``value`` wherever ``mask`` is true.

    .. code-block:: python

        out = tp.masked_fill(tp.zeros((2,)), tp.Tensor([False, True]), -1.0)
        assert out.tolist() == [0.0, -1.0]
    """
    return where(mask, as_tensor(value, "value", "masked_fill", like=input), input)


# -- operators of tp.Tensor --------------------------------------------------------------------------
def _install_operators() -> None:
    def make(op: str, reflected: bool = False):
        if reflected:
            return lambda self, other: binary(op, other, self)
        return lambda self, other: binary(op, self, other)

    for op, dunder in [
        ("add", "add"),
        ("sub", "sub"),
        ("mul", "mul"),
        ("div", "truediv"),
        ("floor_div", "floordiv"),
        ("mod", "mod"),
        ("pow", "pow"),
        ("and", "and"),
        ("or", "or"),
    ]:
        setattr(Tensor, f"__{dunder}__", make(op))
        setattr(Tensor, f"__r{dunder}__", make(op, reflected=True))
    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        setattr(Tensor, f"__{op}__", make(op))
    Tensor.__neg__ = lambda self: unary("neg", self, "'-'", float_only=False)
    Tensor.__invert__ = lambda self: unary("not", self, "'~'", float_only=False)
    Tensor.__abs__ = lambda self: abs(self)


_install_operators()

# GELU's tanh approximation, as in GPT-2: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
GELU_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
