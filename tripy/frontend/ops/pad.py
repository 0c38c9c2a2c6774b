"""``pad``: grow a tensor at both ends of each dimension with a constant, a reflection, its edge or a wrap."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.ops.creation import full
from tripy.frontend.ops.shape import concatenate, expand
from tripy.frontend.ops.windows import created_at
from tripy.tensor import Tensor

MODES = ("constant", "reflect", "replicate", "circular")


def _slice(x: Tensor, dim: int, start: int, stop: int, reverse: bool = False) -> Tensor:
    """Elements ``start..stop-1`` of ``x`` along ``dim``, optionally in reverse order."""
    key = [slice(None)] * x.rank
    key[dim] = slice(stop - 1, start - 1 if start else None, -1) if reverse else slice(start, stop)
    return x[tuple(key)]


def _pad_dim(x: Tensor, dim: int, before: int, after: int, mode: str, value: float) -> Tensor:
    n = x.shape[dim]
    if mode == "constant":
        parts = [full(x.shape[:dim] + (p,) + x.shape[dim + 1 :], value, x.dtype) for p in (before, after)]
        head, tail = parts
    elif mode == "reflect":  # mirrored about the edge element, which is not repeated
        head = _slice(x, dim, 1, before + 1, reverse=True)
        tail = _slice(x, dim, n - 1 - after, n - 1, reverse=True)
    elif mode == "replicate":
        edge = x.shape[:dim] + (1,) + x.shape[dim + 1 :]
        head = expand(_slice(x, dim, 0, 1), edge[:dim] + (before,) + edge[dim + 1 :])
        tail = expand(_slice(x, dim, n - 1, n), edge[:dim] + (after,) + edge[dim + 1 :])
    else:  # circular
        head = _slice(x, dim, n - before, n)
        tail = _slice(x, dim, 0, after)
    return concatenate([t for t in (head, x, tail) if t.shape[dim] or t is x], dim)


@public
def pad(input: Tensor, pad: Sequence[Sequence[int]], mode: str = "constant", value: int | float = 0) -> Tensor:
    """``input`` padded by ``pad``: one ``(before, after)`` pair of non-negative ints per dimension.

    ``mode`` is ``"constant"`` (fill with ``value``), ``"reflect"`` (mirror about the edge element, which is
    not repeated: each pad must be smaller than the dimension), ``"replicate"`` (repeat the edge element) or
    ``"circular"`` (wrap around: each pad at most the dimension).

    .. code-block:: python

        x = tp.Tensor([[1, 2, 3]])
        assert tp.pad(x, [(0, 0), (1, 2)]).tolist() == [[0, 1, 2, 3, 0, 0]]
        assert tp.pad(x, [(0, 0), (2, 1)], mode="reflect").tolist() == [[3, 2, 1, 2, 3, 2]]
        assert tp.pad(x, [(1, 0), (0, 1)], mode="replicate").tolist() == [[1, 2, 3, 3], [1, 2, 3, 3]]
    """
    if not isinstance(input, Tensor):
        raise_error(f"pad: `input` must be a tp.Tensor, not {type(input).__name__}.")
    if mode not in MODES:
        raise_error(f"pad: `mode` must be one of {', '.join(map(repr, MODES))}, not {mode!r}.")
    pairs: list[tuple[int, int]] = []
    try:
        for before, after in pad:
            if not isinstance(before, numbers.Integral) or not isinstance(after, numbers.Integral):
                raise TypeError
            pairs.append((int(before), int(after)))
    except (TypeError, ValueError):
        raise_error(f"pad: `pad` must be a sequence of (before, after) pairs of ints, not {pad!r}.")
    if len(pairs) != input.rank:
        raise_error(
            f"pad: `pad` must have one (before, after) pair per dimension of `input` ({input.rank}, shape "
            f"{input.shape}), but it has {len(pairs)}.",
            created_at(input),
        )
    if any(b < 0 or a < 0 for b, a in pairs):
        raise_error(f"pad: `pad` must not be negative, but it is {tuple(pairs)}.")
    if mode == "constant":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise_error(f"pad: `value` must be a number, not {value!r}.")
        if not input.dtype.is_float and not float(value).is_integer():
            raise_error(f"pad: `value`={value!r} is not an integer, but `input` is {input.dtype}.", created_at(input))
    limit = {"reflect": 1, "circular": 0}.get(mode)
    x = input
    for dim, (before, after) in enumerate(pairs):
        if not before and not after:
            continue
        n = input.shape[dim]
        if mode != "constant" and (n == 0 or (limit is not None and max(before, after) > n - limit)):
            bound = "smaller than" if mode == "reflect" else "at most"
            raise_error(
                f"pad: in mode {mode!r} each pad must be {bound} its dimension, but `pad`[{dim}]={(before, after)} "
                f"for dimension {dim} of size {n} (`input` shape {input.shape}).",
                created_at(input),
            )
        x = _pad_dim(x, dim, before, after, mode, value if input.dtype.is_float else int(value))
    return x
