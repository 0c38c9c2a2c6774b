""":class:`~tripy.trace.primitives.UpdateSlice` on the GPU: one kernel that writes the update at a start index
read on the device (a compiled decode step's position changes between replays of one CUDA graph).

:func:`update_slice_into` writes into its operand; the kernel of the primitive writes into a copy. Compiled
functions use the first on a donated argument's buffer (:mod:`tripy.compiler.cuda_graph`).
"""

from __future__ import annotations

import math
from typing import Any

import cupy

from tripy.trace.primitives import UpdateSlice

# ``update`` is an ordinary input (any strides: a view of a fused projection's heads is read as it is) and
# ``i`` its element's C-order index.
_WRITE = cupy.ElementwiseKernel(
    "T update, raw int32 start, int64 n, int64 size, int64 inner",
    "raw T operand",
    """
    long long s = start[0];
    s = s < 0 ? 0 : (s > size - n ? size - n : s);
    long long outer = i / (n * inner), rest = i % (n * inner);
    operand[(outer * size + s + rest / inner) * inner + rest % inner] = update;
    """,
    "tripy_update_slice",
)


def update_slice_into(operand: Any, update: Any, start: Any, dim: int) -> Any:
    """Write ``update`` into ``operand`` (C-contiguous) along ``dim`` from ``start`` (clamped), in place."""
    if not operand.flags.c_contiguous:
        raise ValueError("update_slice_into needs a C-contiguous operand")
    size, n = operand.shape[dim], update.shape[dim]
    inner = math.prod(operand.shape[dim + 1 :])
    if update.size:
        _WRITE(update, start, n, size, inner, operand)
    return operand


def update_slice(prim: UpdateSlice, operand: Any, update: Any, start: Any) -> Any:
    """The kernel of :class:`UpdateSlice`: a copy of ``operand`` with ``update`` written into it."""
    return update_slice_into(cupy.array(operand, order="C"), update, start, prim.dim)
