"""Argument conversion and dtype checks shared by the ops."""

from __future__ import annotations

from typing import Any

from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.frontend.checks import broadcast_shape, broadcast_shapes, normalize_dim
from tripy.frontend.tensor_operators import scalar_operand, with_rank
from tripy.tensor import Tensor

__all__ = ["as_tensor", "check_dtype", "normalize_dim", "broadcast_shape", "broadcast_shapes", "with_rank"]


def as_tensor(value: Any, name: str, op: str, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; Python scalars take ``like``'s dtype."""
    if isinstance(value, Tensor):
        return value
    if like is not None:
        return scalar_operand(value, name, op, like)
    try:
        return Tensor(value)
    except Exception:
        raise_error(f"{op}: `{name}` must be a tp.Tensor, not {type(value).__name__}.")
        raise AssertionError from None  # unreachable: raise_error raises


def check_dtype(
    t: Tensor, name: str, op: str, allowed: tuple[DataType, ...] | None = None, float_only: bool = False
) -> None:
    """An error naming ``name`` unless ``t``'s dtype is a float (``float_only``) and one of ``allowed``."""
    if float_only and not t.dtype.is_float:
        raise_error(
            f"{op}: `{name}` must have a floating-point dtype, but it is {t.dtype}.",
            [(f"`{name}` was created at", t.where)],
        )
    if allowed is not None and t.dtype not in allowed:
        raise_error(
            f"{op}: `{name}` must have dtype {' or '.join(map(str, allowed))}, but it is {t.dtype}.",
            [(f"`{name}` was created at", t.where)],
        )
