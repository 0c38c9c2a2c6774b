"""Checks shared by the ops: argument conversion, dimension normalisation and broadcasting."""

from __future__ import annotations

import numbers
from typing import Any

import ml_dtypes

from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.tensor import Tensor, constant_like


def as_tensor(value: Any, name: str, op: str, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; Python scalars take ``like``'s dtype."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, numbers.Real):  # Python and NumPy scalars
        if isinstance(value, numbers.Integral):
            value = int(value)
        elif not like.dtype.is_float and not float(value).is_integer():
            raise_error(
                f"{op}: `{name}` is the float {value!r} but the other operand is {like.dtype}; "
                f"cast the tensor first (tp.cast)."
            )
        if like.dtype.is_integer:
            info = ml_dtypes.iinfo(like.dtype.numpy)
            if not info.min <= value <= info.max:
                raise_error(
                    f"{op}: `{name}`={value!r} does not fit the other operand's dtype {like.dtype} "
                    f"({info.min}..{info.max}); cast the tensor first (tp.cast)."
                )
        return constant_like(value, like)
    try:
        return Tensor(value)
    except Exception:
        raise_error(f"{op}: `{name}` must be a tp.Tensor, not {type(value).__name__}.")


def check_dtype(
    t: Tensor, name: str, op: str, allowed: tuple[DataType, ...] | None = None, float_only: bool = False
) -> None:
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


def normalize_dim(dim: int, rank: int, op: str, name: str = "dim") -> int:
    if not isinstance(dim, int) or not -rank <= dim < max(rank, 1):
        raise_error(
            f"{op}: `{name}`={dim!r} is out of range for a tensor of rank {rank} "
            f"(expected an int in [{-rank}, {rank - 1}])."
        )
    return dim % rank if rank else 0


def broadcast_shapes(sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[int, ...] | None:
    """NumPy's broadcast of two shapes, or None when they do not broadcast."""
    rank = max(len(sa), len(sb))
    pa, pb = (1,) * (rank - len(sa)) + sa, (1,) * (rank - len(sb)) + sb
    out = []
    for x, y in zip(pa, pb, strict=True):
        if x != y and x != 1 and y != 1:
            return None
        out.append(y if x == 1 else x)
    return tuple(out)


def broadcast_shape(*tensors: Tensor, op: str, names: tuple[str, ...] = ("input", "other")) -> tuple:
    """The broadcast shape of ``tensors``, or an error naming the arguments that do not fit."""
    shape: tuple[int, ...] | None = tensors[0].shape
    for t in tensors[1:]:
        shape = broadcast_shapes(shape, t.shape)
        if shape is None:
            shapes = " and ".join(f"{u.shape} of `{n}`" for u, n in zip(tensors, names, strict=True))
            raise_error(
                f"{op}: shapes {shapes} cannot be broadcast together.",
                [(f"`{n}` was created at", u.where) for u, n in zip(tensors, names, strict=True)],
            )
    return shape


def with_rank(t: Tensor, rank: int) -> Tensor:
    """``t`` reshaped with leading 1s up to ``rank`` (the primitives broadcast only equal ranks)."""
    if t.rank == rank:
        return t
    shape = (1,) * (rank - t.rank) + t.shape
    return Tensor._from_node("reshape", (t,), {"shape": shape}, shape, t.dtype, t._where)
