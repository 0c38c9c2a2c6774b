"""Checks shared by the ops that need no tensor construction: dimensions and broadcasting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tripy.errors import raise_error

if TYPE_CHECKING:
    from tripy.frontend.tensor_operators import TensorOperators


def normalize_dim(dim: int, rank: int, op: str, name: str = "dim") -> int:
    """``dim`` in ``[0, rank)`` (negative dims count from the end), or an error naming ``name``."""
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


def broadcast_shape(*tensors: TensorOperators, op: str, names: tuple[str, ...] = ("input", "other")) -> tuple:
    """The broadcast shape of ``tensors``, or an error naming the arguments that do not fit."""
    shape: tuple[int, ...] | None = tensors[0].shape
    for t in tensors[1:]:
        assert shape is not None
        shape = broadcast_shapes(shape, t.shape)
        if shape is None:
            shapes = " and ".join(f"{u.shape} of `{n}`" for u, n in zip(tensors, names, strict=True))
            raise_error(
                f"{op}: shapes {shapes} cannot be broadcast together.",
                [(f"`{n}` was created at", u.where) for u, n in zip(tensors, names, strict=True)],
            )
    return shape  # type: ignore[return-value]
