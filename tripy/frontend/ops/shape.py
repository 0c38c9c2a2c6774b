"""Shape and movement ops: reshape, permute, transpose, flatten, (un)squeeze, expand, repeat,
concatenate, stack, split, gather, and indexing with ``[]``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend import tensor_operators as operators
from tripy.frontend.dimension_size import plain_size
from tripy.frontend.utils import as_tensor, normalize_dim
from tripy.tensor import Tensor
from tripy.trace.primitives import Concat, Expand, Permute, Reshape, Slice


def _where(t: Tensor, name: str = "input") -> list:
    return [(f"`{name}` was created at", t.where)]


@public
def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:
    """``input``'s values in a new shape with as many elements; one dimension may be -1 (inferred).
    Sizes may be ints or :class:`tripy.DimensionSize` s.

    .. code-block:: python

        assert tp.reshape(tp.iota((6,)), (2, -1)).shape == (2, 3)
    """
    if type(shape) is not tuple or not all(type(d) is int for d in shape):  # sizes, NumPy ints, one int
        shape = plain_size(shape)
        dims = (shape,) if isinstance(shape, numbers.Integral) else tuple(plain_size(d) for d in shape)
        shape = tuple(int(d) if isinstance(d, numbers.Integral) else d for d in dims)
    numel = math.prod(input.shape)
    if shape.count(-1) > 1 or any(not isinstance(d, int) or d < -1 for d in shape):
        raise_error(f"reshape: `shape` {shape} may hold non-negative ints and at most one -1.", _where(input))
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        if known == 0 or numel % known:
            raise_error(f"reshape: cannot reshape {input.shape} ({numel} elements) to {shape}.", _where(input))
        shape = tuple(numel // known if d == -1 else d for d in shape)
    if math.prod(shape) != numel:
        raise_error(
            f"reshape: cannot reshape {input.shape} ({numel} elements) to {shape} ({math.prod(shape)} elements).",
            _where(input),
        )
    if shape == input.shape:
        return input
    return Tensor.from_primitive(Reshape.of(shape), (input,))


@public
def permute(input: Tensor, perm: Sequence[int]) -> Tensor:
    """``input`` with its dimensions reordered: output dimension i is input dimension ``perm[i]``.

    .. code-block:: python

        assert tp.permute(tp.ones((2, 3, 4)), (2, 0, 1)).shape == (4, 2, 3)
    """
    perm = tuple(normalize_dim(p, input.rank, "permute", "perm") for p in perm)
    if sorted(perm) != list(range(input.rank)):
        raise_error(
            f"permute: `perm` {perm} is not a permutation of the {input.rank} dimensions of {input.shape}.",
            _where(input),
        )
    return _permuted(input, perm)


def _permuted(input: Tensor, perm: tuple[int, ...]) -> Tensor:
    """``input`` permuted by a checked ``perm``."""
    if perm == tuple(range(input.rank)):
        return input
    return Tensor.from_primitive(Permute.of(perm), (input,))


@public
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """``input`` with dimensions ``dim0`` and ``dim1`` swapped.

    .. code-block:: python

        assert tp.transpose(tp.ones((2, 3)), 0, 1).shape == (3, 2)
    """
    perm = list(range(input.rank))
    d0, d1 = normalize_dim(dim0, input.rank, "transpose", "dim0"), normalize_dim(dim1, input.rank, "transpose", "dim1")
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return _permuted(input, tuple(perm))


@public
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """``input`` with dimensions ``start_dim`` to ``end_dim`` (inclusive) merged into one.

    .. code-block:: python

        assert tp.flatten(tp.ones((2, 3, 4)), 1).shape == (2, 12)
    """
    if input.rank == 0:
        return reshape(input, (1,))
    s = normalize_dim(start_dim, input.rank, "flatten", "start_dim")
    e = normalize_dim(end_dim, input.rank, "flatten", "end_dim")
    if s > e:
        raise_error(
            f"flatten: `start_dim`={start_dim} comes after `end_dim`={end_dim} for a tensor of rank {input.rank}.",
            _where(input),
        )
    return reshape(input, input.shape[:s] + (math.prod(input.shape[s : e + 1]),) + input.shape[e + 1 :])


@public
def squeeze(input: Tensor, dims: int | Sequence[int]) -> Tensor:
    """``input`` without the given size-1 dimensions.

    .. code-block:: python

        assert tp.squeeze(tp.ones((1, 3, 1)), (0, 2)).shape == (3,)
    """
    drop = {normalize_dim(d, input.rank, "squeeze", "dims") for d in ((dims,) if isinstance(dims, int) else dims)}
    for d in drop:
        if input.shape[d] != 1:
            raise_error(
                f"squeeze: dimension {d} of `input` has size {input.shape[d]}, not 1 (shape {input.shape}).",
                _where(input),
            )
    return reshape(input, tuple(n for i, n in enumerate(input.shape) if i not in drop))


@public
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """``input`` with a new size-1 dimension at ``dim``.

    .. code-block:: python

        assert tp.unsqueeze(tp.ones((3,)), 0).shape == (1, 3)
    """
    d = normalize_dim(dim, input.rank + 1, "unsqueeze")
    return reshape(input, input.shape[:d] + (1,) + input.shape[d:])


@public
def expand(input: Tensor, sizes: Sequence[int]) -> Tensor:
    """``input`` broadcast to ``sizes`` (-1 keeps a dimension; new leading dimensions may be added). Sizes may
    be ints or :class:`tripy.DimensionSize` s.

    .. code-block:: python

        assert tp.expand(tp.ones((1, 3)), (4, -1)).shape == (4, 3)
    """
    sizes = tuple(int(d) if isinstance(d, numbers.Integral) else plain_size(d) for d in sizes)
    if len(sizes) < input.rank:
        raise_error(f"expand: `sizes` {sizes} has fewer dimensions than `input` {input.shape}.", _where(input))
    src = (1,) * (len(sizes) - input.rank) + input.shape
    shape = tuple(s if n == -1 else n for s, n in zip(src, sizes, strict=True))
    for s, n in zip(src, shape, strict=True):
        if s != n and s != 1:
            raise_error(
                f"expand: cannot expand shape {input.shape} to {sizes}: only size-1 dimensions grow.", _where(input)
            )
    x = reshape(input, src)
    if shape == src:
        return x
    return Tensor.from_primitive(Expand.of(shape), (x,))


@public
def repeat(input: Tensor, repeats: int, dim: int) -> Tensor:
    """Each element of ``input`` repeated ``repeats`` times along ``dim`` (like ``numpy.repeat``).

    .. code-block:: python

        assert tp.repeat(tp.Tensor([1, 2]), 2, 0).tolist() == [1, 1, 2, 2]
    """
    d = normalize_dim(dim, input.rank, "repeat")
    if not isinstance(repeats, int) or repeats < 0:
        raise_error(f"repeat: `repeats` must be a non-negative int, not {repeats!r}.")
    x = unsqueeze(input, d + 1)
    x = expand(x, x.shape[: d + 1] + (repeats,) + x.shape[d + 2 :])
    return reshape(x, input.shape[:d] + (input.shape[d] * repeats,) + input.shape[d + 1 :])


@public
def concatenate(tensors: Sequence[Tensor], dim: int) -> Tensor:
    """The tensors joined along ``dim``; all other dimensions must match.

    .. code-block:: python

        assert tp.concatenate([tp.ones((1, 2)), tp.zeros((2, 2))], dim=0).shape == (3, 2)
    """
    tensors = [as_tensor(t, "tensors", "concatenate") for t in tensors]
    if not tensors:
        raise_error("concatenate: `tensors` is empty.")
    first = tensors[0]
    d = normalize_dim(dim, first.rank, "concatenate")
    for i, t in enumerate(tensors[1:], 1):
        if t.rank != first.rank or t.shape[:d] + t.shape[d + 1 :] != first.shape[:d] + first.shape[d + 1 :]:
            raise_error(
                f"concatenate: tensors[{i}] has shape {t.shape}, which does not fit tensors[0]'s "
                f"{first.shape} outside dimension {d}.",
                _where(t, f"tensors[{i}]"),
            )
        if t.dtype != first.dtype:
            raise_error(
                f"concatenate: tensors[{i}] is {t.dtype} but tensors[0] is {first.dtype}.", _where(t, f"tensors[{i}]")
            )
    if len(tensors) == 1:
        return first
    return Tensor.from_primitive(Concat(d), tuple(tensors))


@public
def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """The tensors (all of one shape) stacked along a new dimension ``dim``.

    .. code-block:: python

        assert tp.stack([tp.ones((2,)), tp.zeros((2,))]).shape == (2, 2)
    """
    tensors = [as_tensor(t, "tensors", "stack") for t in tensors]
    if not tensors:
        raise_error("stack: `tensors` is empty.")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise_error(
                f"stack: tensors[{i}] has shape {t.shape} but tensors[0] has {tensors[0].shape}.",
                _where(t, f"tensors[{i}]"),
            )
    d = normalize_dim(dim, tensors[0].rank + 1, "stack")
    return concatenate([unsqueeze(t, d) for t in tensors], d)


@public
def split(input: Tensor, num_split_or_sizes: int | Sequence[int], dim: int = 0) -> list[Tensor]:
    """``input`` cut along ``dim`` into that many equal parts, or into parts of the given sizes.

    .. code-block:: python

        a, b = tp.split(tp.iota((4,)), 2)
        assert b.tolist() == [2.0, 3.0]
    """
    d = normalize_dim(dim, input.rank, "split")
    n = input.shape[d]
    if isinstance(num_split_or_sizes, int):
        parts = num_split_or_sizes
        if parts <= 0 or n % parts:
            raise_error(f"split: dimension {d} of size {n} cannot be split into {parts} equal parts.", _where(input))
        sizes = [n // parts] * parts
    else:
        sizes = list(num_split_or_sizes)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise_error(f"split: sizes {sizes} do not add up to dimension {d} of size {n}.", _where(input))
    out, start = [], 0
    steps = (1,) * input.rank
    for size in sizes:
        if size == n:
            out.append(input)
            continue
        starts = tuple(start if i == d and size else 0 for i in range(input.rank))
        shape = tuple(size if i == d else s for i, s in enumerate(input.shape))
        out.append(Tensor.from_primitive(Slice(starts, shape, steps), (input,)))
        start += size
    return out


@public
def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` along ``dim`` picked by the integer tensor ``index`` (``numpy.take``):
    the output shape is ``input.shape[:dim] + index.shape + input.shape[dim + 1:]``.

    .. code-block:: python

        table = tp.Tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        assert tp.gather(table, 0, tp.Tensor([2, 0])).tolist() == [[5.0, 6.0], [1.0, 2.0]]
    """
    d = normalize_dim(dim, input.rank, "gather")
    return operators.gather(input, d, as_tensor(index, "index", "gather"))
