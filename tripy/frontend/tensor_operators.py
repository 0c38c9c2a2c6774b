"""The operators of ``tp.Tensor`` (``+``, ``@``, ``[]``, comparisons...), as a mixin that ``Tensor`` inherits.

They build primitives of the trace with the checks of the public ops. This module sits below
:mod:`tripy.tensor`: it makes tensors through :meth:`TensorOperators.from_primitive` and
:meth:`TensorOperators.from_data`, which ``Tensor`` implements, so nothing here imports it.
"""

from __future__ import annotations

import numbers
from abc import abstractmethod
from typing import TYPE_CHECKING, Any

import ml_dtypes

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.errors import SourceLocation, raise_error
from tripy.frontend.checks import broadcast_shape, broadcast_shapes
from tripy.trace.primitives import Binary, BinaryOp, Gather, Matmul, Primitive, Reshape, Slice, Unary, UnaryOp

if TYPE_CHECKING:
    from tripy.tensor import Tensor

_SYMBOL = {
    BinaryOp.ADD: "+",
    BinaryOp.SUB: "-",
    BinaryOp.MUL: "*",
    BinaryOp.DIV: "/",
    BinaryOp.FLOOR_DIV: "//",
    BinaryOp.MOD: "%",
    BinaryOp.POW: "**",
    BinaryOp.AND: "&",
    BinaryOp.OR: "|",
    BinaryOp.EQ: "==",
    BinaryOp.NE: "!=",
    BinaryOp.LT: "<",
    BinaryOp.LE: "<=",
    BinaryOp.GT: ">",
    BinaryOp.GE: ">=",
}
_LOGICAL = frozenset({BinaryOp.AND, BinaryOp.OR})
#: Ops that take bools as well as numbers (bool add and mul are or and and, as in NumPy).
_ANY_DTYPE = frozenset(op for op in BinaryOp if op.is_comparison) | {
    BinaryOp.MAX,
    BinaryOp.MIN,
    BinaryOp.ADD,
    BinaryOp.MUL,
}
_BINARY = {op: Binary(op) for op in BinaryOp}
_UNARY = {op: Unary(op) for op in UnaryOp}
_MATMUL = Matmul()


class TensorOperators:
    """Python's operators on tensors. ``Tensor`` provides the attributes and the two constructors."""

    __slots__ = ()
    shape: tuple[int, ...]
    dtype: DataType

    @property
    @abstractmethod
    def where(self) -> SourceLocation | None:
        """The user's line of code that made this tensor."""

    @staticmethod
    @abstractmethod
    def from_primitive(prim: Primitive, inputs: tuple[Tensor, ...], where: SourceLocation | None = None) -> Tensor:
        """A tensor made by ``prim`` from ``inputs`` (unevaluated)."""

    @staticmethod
    @abstractmethod
    def from_data(data: Any, dtype: DataType | None = None, rank: int = 0) -> Tensor:
        """A tensor holding ``data`` (as ``tp.Tensor(data, dtype)`` does); a scalar given a ``dtype`` can be
        given a ``rank`` too (that many dimensions of size 1)."""

    @property
    def rank(self) -> int:
        """The number of dimensions."""
        return len(self.shape)

    # -- arithmetic ------------------------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return binary(BinaryOp.ADD, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return binary(BinaryOp.ADD, other, self)

    def __sub__(self, other: Any) -> Tensor:
        return binary(BinaryOp.SUB, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return binary(BinaryOp.SUB, other, self)

    def __mul__(self, other: Any) -> Tensor:
        return binary(BinaryOp.MUL, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return binary(BinaryOp.MUL, other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return binary(BinaryOp.DIV, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return binary(BinaryOp.DIV, other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return binary(BinaryOp.FLOOR_DIV, self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return binary(BinaryOp.FLOOR_DIV, other, self)

    def __mod__(self, other: Any) -> Tensor:
        return binary(BinaryOp.MOD, self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return binary(BinaryOp.MOD, other, self)

    def __pow__(self, other: Any) -> Tensor:
        return binary(BinaryOp.POW, self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return binary(BinaryOp.POW, other, self)

    def __and__(self, other: Any) -> Tensor:
        return binary(BinaryOp.AND, self, other)

    def __rand__(self, other: Any) -> Tensor:
        return binary(BinaryOp.AND, other, self)

    def __or__(self, other: Any) -> Tensor:
        return binary(BinaryOp.OR, self, other)

    def __ror__(self, other: Any) -> Tensor:
        return binary(BinaryOp.OR, other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(other, self)

    # -- comparisons (elementwise, as in NumPy) ---------------------------------------------------------------
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return binary(BinaryOp.EQ, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return binary(BinaryOp.NE, self, other)

    def __lt__(self, other: Any) -> Tensor:
        return binary(BinaryOp.LT, self, other)

    def __le__(self, other: Any) -> Tensor:
        return binary(BinaryOp.LE, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return binary(BinaryOp.GT, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return binary(BinaryOp.GE, self, other)

    __hash__ = object.__hash__

    # -- unary -----------------------------------------------------------------------------------------------
    def __neg__(self) -> Tensor:
        return unary(UnaryOp.NEG, self, "'-'", float_only=False)

    def __invert__(self) -> Tensor:
        return unary(UnaryOp.NOT, self, "'~'", float_only=False)

    def __abs__(self) -> Tensor:
        return unary(UnaryOp.ABS, self, "abs", float_only=False)

    # -- indexing --------------------------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Tensor:
        """Basic indexing: ints, slices (any step), ``None`` and ``...``; an int tensor or list gathers
        along dimension 0."""
        return getitem(self, key)


# -- the implementations, shared with the public functions of tripy.frontend.ops ------------------------------
def _created_at(*named: tuple[str, TensorOperators]) -> list[tuple[str, SourceLocation | None]]:
    return [(f"`{name}` was created at", t.where) for name, t in named]


def scalar_operand(value: Any, name: str, op: str, like: TensorOperators, rank: int = 0) -> Tensor:
    """A Python or NumPy scalar (or array) as a tensor for an op whose other operand is ``like``: a scalar
    takes ``like``'s dtype, and must fit it; with ``rank``, it has that many dimensions of size 1 (so that
    it broadcasts without a reshape in the trace)."""
    if (type(value) is float or type(value) is int) and like.dtype.is_float:  # the common case, no checks
        return like.from_data(value, like.dtype, rank)
    if isinstance(value, numbers.Real) and not isinstance(value, bool | numbers.Integral):
        if not like.dtype.is_float and not float(value).is_integer():
            raise_error(
                f"{op}: `{name}` is the float {value!r} but the other operand is {like.dtype}; "
                f"cast the tensor first (tp.cast)."
            )
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)
        if like.dtype.is_integer:
            info = ml_dtypes.iinfo(like.dtype.numpy)
            if not info.min <= value <= info.max:
                raise_error(
                    f"{op}: `{name}`={value!r} does not fit the other operand's dtype {like.dtype} "
                    f"({info.min}..{info.max}); cast the tensor first (tp.cast)."
                )
    elif not isinstance(value, bool):
        try:
            return like.from_data(value)
        except Exception:
            raise_error(f"{op}: `{name}` must be a tp.Tensor, not {type(value).__name__}.")
    return like.from_data(value, like.dtype, rank)


def with_rank(t: TensorOperators, rank: int) -> Tensor:
    """``t`` reshaped with leading 1s up to ``rank`` (the primitives broadcast only equal ranks)."""
    if t.rank == rank:
        return t  # type: ignore[return-value]
    shape = (1,) * (rank - t.rank) + t.shape
    return t.from_primitive(Reshape.of(shape), (t,), t.where)  # type: ignore[arg-type]


def binary(op: BinaryOp, a: Any, b: Any, name: str | None = None) -> Tensor:
    """``op`` of ``a`` and ``b`` with broadcasting; a Python scalar takes the other operand's dtype."""
    if not isinstance(a, TensorOperators) or not isinstance(b, TensorOperators):
        return _binary_with_scalar(op, a, b, name)
    if a.dtype is not b.dtype or (op not in _ANY_DTYPE and (op in _LOGICAL) != (a.dtype is dtypes.bool)):
        _reject_operands(op, a, b, name)
    if a.shape == b.shape or _ones_like_rank(b.shape, a.shape) or _ones_like_rank(a.shape, b.shape):
        return a.from_primitive(_BINARY[op], (a, b))  # type: ignore[arg-type]
    shape = broadcast_shapes(a.shape, b.shape)
    if shape is None:
        broadcast_shape(a, b, op=_opname(op, name))  # raises, naming the operands
        raise AssertionError  # unreachable
    rank = len(shape)
    return a.from_primitive(_BINARY[op], (with_rank(a, rank), with_rank(b, rank)))


_ONES = tuple((1,) * rank for rank in range(9))


def _ones_like_rank(shape: tuple[int, ...], other: tuple[int, ...]) -> bool:
    """Whether ``shape`` is all 1s of ``other``'s rank (a scalar operand: it broadcasts as it is)."""
    return len(shape) == len(other) < 9 and shape == _ONES[len(shape)]


def _opname(op: BinaryOp, name: str | None) -> str:
    return name or f"'{_SYMBOL.get(op, op.value)}'"


def _binary_with_scalar(op: BinaryOp, a: Any, b: Any, name: str | None) -> Tensor:
    """:func:`binary` where one operand is a Python scalar (or another non-tensor value)."""
    if not isinstance(a, TensorOperators) and not isinstance(b, TensorOperators):
        raise_error(
            f"{_opname(op, name)}: at least one operand must be a tp.Tensor, but they are {type(a).__name__} and "
            f"{type(b).__name__}."
        )
    if not isinstance(a, TensorOperators):
        a = _operand(op, name, a, "input", b)
    if not isinstance(b, TensorOperators):
        b = _operand(op, name, b, "other", a)
    return binary(op, a, b, name)


def _operand(op: BinaryOp, name: str | None, value: Any, role: str, like: TensorOperators) -> Tensor:
    """:func:`scalar_operand` of ``value`` for ``op``, the op's name worked out only where it is needed."""
    if (type(value) is float or type(value) is int) and like.dtype.is_float:  # as scalar_operand's first case
        return like.from_data(value, like.dtype, like.rank)
    return scalar_operand(value, role, _opname(op, name), like, like.rank)


def _reject_operands(op: BinaryOp, a: TensorOperators, b: TensorOperators, name: str | None) -> None:
    """The error for operands that ``op`` does not take."""
    opname = _opname(op, name)
    if a.dtype is not b.dtype:
        raise_error(
            f"{opname}: operands have different dtypes: `input` is {a.dtype} and `other` is {b.dtype}; "
            f"use tp.cast to make them match.",
            _created_at(("input", a), ("other", b)),
        )
    if op not in _ANY_DTYPE and (op in _LOGICAL) != (a.dtype is dtypes.bool):
        message = (
            f"{opname} is a logical operator: its operands must be bool, but they are {a.dtype}; make a "
            f"mask with a comparison (e.g. `x != 0`) or use tp.cast."
            if op in _LOGICAL
            else f"{opname} does not take bool operands; tp.cast them to a number type first."
        )
        raise_error(message, _created_at(("input", a), ("other", b)))


def unary(op: UnaryOp, x: TensorOperators, name: str, float_only: bool = True) -> Tensor:
    """``op`` of each element of ``x``."""
    if (op is UnaryOp.NOT and x.dtype is not dtypes.bool) or (op is UnaryOp.NEG and x.dtype is dtypes.bool):
        need = "must be bool (a mask)" if op is UnaryOp.NOT else "must not be bool (use ~ for logical not)"
        raise_error(f"{name}: `input` {need}, but it is {x.dtype}.", _created_at(("input", x)))
    if float_only and not x.dtype.is_float:
        raise_error(
            f"{name}: `input` must have a floating-point dtype, but it is {x.dtype}.", _created_at(("input", x))
        )
    return x.from_primitive(_UNARY[op], (x,))  # type: ignore[arg-type]


def _reshape(x: TensorOperators, shape: tuple[int, ...]) -> Tensor:
    if shape == x.shape:
        return x  # type: ignore[return-value]
    return x.from_primitive(Reshape.of(shape), (x,))  # type: ignore[arg-type]


def matmul(input: Any, other: Any) -> Tensor:
    """The matrix product of the last two dimensions, broadcasting the leading (batch) dimensions; a 1-D
    operand is a row (``input``) or a column (``other``) vector, as in NumPy."""
    like = input if isinstance(input, TensorOperators) else other
    a = input if isinstance(input, TensorOperators) else scalar_operand(input, "input", "matmul", like)
    b = other if isinstance(other, TensorOperators) else scalar_operand(other, "other", "matmul", like)
    details = _created_at(("input", a), ("other", b))
    if a.rank == 0 or b.rank == 0:
        raise_error(f"matmul: operands must have rank >= 1, but the shapes are {a.shape} and {b.shape}.", details)
    if a.dtype is not b.dtype:
        raise_error(f"matmul: `input` is {a.dtype} but `other` is {b.dtype}; use tp.cast to make them match.", details)
    squeeze_rows, squeeze_cols = a.rank == 1, b.rank == 1
    original = (a.shape, b.shape)
    if squeeze_rows:
        a = _reshape(a, (1, a.shape[0]))
    if squeeze_cols:
        b = _reshape(b, (b.shape[0], 1))
    if a.shape[-1] != b.shape[-2]:
        raise_error(
            f"matmul: the inner dimensions do not match: `input` has shape {original[0]} and `other` "
            f"has shape {original[1]} ({a.shape[-1]} != {b.shape[-2]}).",
            details,
        )
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if batch is None:
        raise_error(f"matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} cannot be broadcast.", details)
    rank = len(batch) + 2
    out = a.from_primitive(_MATMUL, (with_rank(a, rank), with_rank(b, rank)))
    if squeeze_rows or squeeze_cols:
        shape = out.shape
        keep = shape[:-2] + (() if squeeze_rows else (shape[-2],)) + (() if squeeze_cols else (shape[-1],))
        out = _reshape(out, keep)
    return out


def gather(input: TensorOperators, axis: int, index: TensorOperators) -> Tensor:
    """The slices of ``input`` along ``axis`` (already normalised) picked by the integer tensor ``index``."""
    if index.dtype not in (dtypes.int32, dtypes.int64):
        raise_error(f"gather: `index` must be int32 or int64, but it is {index.dtype}.", _created_at(("index", index)))
    return input.from_primitive(Gather(axis), (input, index))  # type: ignore[arg-type]


def getitem(x: TensorOperators, key: Any) -> Tensor:
    """``x[key]``: see :meth:`TensorOperators.__getitem__`."""
    if isinstance(key, list):
        key = x.from_data(key)
    if isinstance(key, TensorOperators):
        if key.dtype is dtypes.bool:
            raise_error(
                "Indexing with a boolean mask is not supported (the result's shape would depend on the "
                "values); use tp.where or tp.masked_fill.",
                _created_at(("the mask", key)),
            )
        if x.rank == 0:
            raise_error("Indexing: a rank-0 tensor cannot be indexed by a tensor.", _created_at(("input", x)))
        return gather(x, 0, key)
    key = key if isinstance(key, tuple) else (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise_error("Indexing: at most one '...' is allowed.")
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    if consumed > x.rank:
        raise_error(
            f"Indexing: too many indices ({consumed}) for a tensor of rank {x.rank}.", _created_at(("input", x))
        )
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (x.rank - consumed) + key[i + 1 :]
    else:
        key = key + (slice(None),) * (x.rank - consumed)
    starts: list[int] = []
    sizes: list[int] = []
    steps: list[int] = []
    out_shape: list[int] = []
    dim = 0
    for k in key:
        if k is None:
            out_shape.append(1)
            continue
        n = x.shape[dim]
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            size = len(range(start, stop, step))
            starts.append(start if size else 0)
            sizes.append(size)
            steps.append(step)
            out_shape.append(size)
        elif isinstance(k, numbers.Integral):
            k = int(k)
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of range for dimension {dim} of size {n}")
            starts.append(k % n)
            sizes.append(1)
            steps.append(1)
        else:
            raise_error(f"Indexing: unsupported index {k!r} of type {type(k).__name__}.")
        dim += 1
    out: TensorOperators = x
    if any(st != 0 or sz != n or sp != 1 for st, sz, sp, n in zip(starts, sizes, steps, x.shape, strict=True)):
        out = x.from_primitive(Slice(tuple(starts), tuple(sizes), tuple(steps)), (x,))  # type: ignore[arg-type]
    return _reshape(out, tuple(out_shape))
