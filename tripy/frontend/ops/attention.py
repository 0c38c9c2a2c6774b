"""Ops for decoding with a static key/value cache: ``tp.update_slice`` and ``tp.scaled_dot_product_attention``.

Both take positions as int32 tensors of shape ``(1,)``, so a compiled decode step reads the position from
the device (it changes at every call) and the cache keeps one shape for the whole generation.
"""

from __future__ import annotations

import math

import numpy as np

from tripy import dtypes
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.utils import as_tensor, check_dtype, normalize_dim
from tripy.tensor import Tensor
from tripy.trace.primitives import Attention, UpdateSlice


def _position(value: Tensor | int, name: str, op: str) -> Tensor:
    """``value`` as an int32 tensor of shape (1,)."""
    if isinstance(value, bool) or not isinstance(value, (int, Tensor)):
        raise_error(f"{op}: `{name}` must be an int or an int32 tp.Tensor of shape (1,), not {type(value).__name__}.")
    if isinstance(value, int):
        return Tensor(np.array([value], np.int32))
    if value.dtype != dtypes.int32 or value.shape != (1,):
        raise_error(
            f"{op}: `{name}` must be an int32 tensor of shape (1,), but it has dtype {value.dtype} and shape "
            f"{value.shape}.",
            [(f"`{name}` was created at", value.where)],
        )
    return value


@public
def update_slice(input: Tensor, update: Tensor, start: Tensor | int, dim: int) -> Tensor:
    """``input`` with ``update`` written into it along ``dim`` from index ``start`` (a KV cache's new entries).

    ``update`` has ``input``'s shape and dtype except along ``dim``, where it may be shorter. ``start`` is an
    int or an int32 tensor of shape ``(1,)``; it is clamped so that the update fits (as XLA's
    ``dynamic_update_slice`` does). In a function compiled with ``donate``, an update of a donated argument
    is written in place.

    .. code-block:: python

        cache = tp.zeros((2, 4))
        out = tp.update_slice(cache, tp.ones((2, 1)), tp.Tensor(np.array([2], np.int32)), dim=1)
        assert out.tolist() == [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    """
    op = "update_slice"
    input, update = as_tensor(input, "input", op), as_tensor(update, "update", op)
    dim = normalize_dim(dim, input.rank, op)
    if update.dtype != input.dtype:
        raise_error(
            f"{op}: `update` must have the dtype of `input` ({input.dtype}), but it has {update.dtype}.",
            [("`update` was created at", update.where)],
        )
    fits = update.rank == input.rank and all(
        u == s if d != dim else u <= s for d, (u, s) in enumerate(zip(update.shape, input.shape))
    )
    if not fits:
        raise_error(
            f"{op}: `update` of shape {update.shape} does not fit `input` of shape {input.shape} along dim={dim} "
            "(equal sizes elsewhere, at most the input's size along dim).",
            [("`update` was created at", update.where)],
        )
    return Tensor.from_primitive(UpdateSlice(dim), (input, update, _position(start, "start", op)))


@public
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    *,
    causal: bool = False,
    start: Tensor | int = 0,
    scale: float | None = None,
) -> Tensor:
    """``softmax(query @ key^T * scale) @ value`` over the last two dimensions (``scale`` defaults to
    ``1 / sqrt(D)``), the scores and the softmax in float32, the result in the inputs' dtype.

    ``query`` is (..., S, D), ``key`` (..., T, D) and ``value`` (..., T, Dv), with equal leading dimensions.
    With ``causal``, query i sits at position ``start + i`` and sees keys ``0 .. start + i`` only: with a
    static cache of T positions and ``start`` the position of the first new token (an int, or an int32
    tensor of shape ``(1,)`` that changes between calls), keys not yet written are never seen. On the GPU
    decoding steps run it as one kernel.

    .. code-block:: python

        q = tp.ones((1, 2, 4))
        k = tp.ones((1, 3, 4))
        v = tp.reshape(tp.iota((3,)), (1, 3, 1))
        out = tp.scaled_dot_product_attention(q, k, v, causal=True, start=1)
        assert out.tolist() == [[[0.5], [1.0]]]
    """
    op = "scaled_dot_product_attention"
    query, key, value = (as_tensor(t, n, op) for t, n in ((query, "query"), (key, "key"), (value, "value")))
    for t, n in ((query, "query"), (key, "key"), (value, "value")):
        check_dtype(t, n, op, float_only=True)
        if t.rank < 2:
            raise_error(
                f"{op}: `{n}` must have rank >= 2, but it has shape {t.shape}.", [(f"`{n}` was created at", t.where)]
            )
    if key.dtype != query.dtype or value.dtype != query.dtype:
        raise_error(
            f"{op}: `query`, `key` and `value` must have one dtype, but they have {query.dtype}, {key.dtype} and "
            f"{value.dtype}.",
            [("`query` was created at", query.where)],
        )
    if not (query.rank == key.rank == value.rank and query.shape[:-2] == key.shape[:-2] == value.shape[:-2]):
        raise_error(
            f"{op}: `query` {query.shape}, `key` {key.shape} and `value` {value.shape} must have equal leading "
            "dimensions.",
            [("`query` was created at", query.where)],
        )
    if key.shape[-1] != query.shape[-1] or value.shape[-2] != key.shape[-2]:
        raise_error(
            f"{op}: `key` {key.shape} must have the last dimension of `query` {query.shape}, and `value` "
            f"{value.shape} as many rows as `key`.",
            [("`key` was created at", key.where)],
        )
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    inputs = (query, key, value, _position(start, "start", op)) if causal else (query, key, value)
    return Tensor.from_primitive(Attention(factor, causal), inputs)
