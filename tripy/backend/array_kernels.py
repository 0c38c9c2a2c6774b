"""Kernels that mean the same on every array library with NumPy's API (NumPy, CuPy): movement of
elements, which never looks at their type, and the layout of quantization scales."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from tripy.backend.base import Kernel
from tripy.trace.primitives import Concat, Expand, Gather, Permute, Primitive, Reshape, Slice


def movement_kernels(xp: ModuleType) -> dict[type[Primitive], Kernel]:
    """Reshape, permute, expand, slice, concat and gather on ``xp``'s arrays (raw containers included)."""

    def slice_(p: Slice, x: Any) -> Any:
        stepped = x[tuple(slice(a, None, c) for a, c in zip(p.starts, p.steps, strict=True))]
        return stepped[tuple(slice(0, n) for n in p.sizes)]

    return {
        Reshape: lambda p, x: x.reshape(p.shape),
        Permute: lambda p, x: x.transpose(p.perm),
        Expand: lambda p, x: xp.broadcast_to(x, p.shape),
        Slice: slice_,
        Concat: lambda p, *xs: xp.concatenate(xs, axis=p.axis),
        Gather: lambda p, x, indices: xp.take(x, indices.astype(np.int64), axis=p.axis),
    }


def scale_layout(xp: ModuleType, scale: Any, shape: tuple[int, ...], axis: int | None) -> Any:
    """A float32 ``scale`` laid out to broadcast against a tensor of ``shape``: per-tensor (a scalar),
    per-channel along ``axis``, or block-wise (a 2-D scale repeated over its blocks)."""
    if axis is not None:
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return scale.reshape(view)
    if scale.ndim == 2:
        for d in range(2):
            scale = xp.repeat(scale, shape[d] // scale.shape[d], axis=d)
    return scale
