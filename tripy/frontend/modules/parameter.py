"""``tp.Parameter``: a tensor that a module owns and ``state_dict`` lists."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tripy.dtypes import DataType
from tripy.export import public
from tripy.tensor import Tensor


@public
class Parameter(Tensor):
    """A module's weight: a :class:`Tensor` that is registered when assigned to a module attribute.

    ``data`` is anything :class:`Tensor` accepts: a scalar, a nested list, a NumPy array, a tensor or a
    DLPack producer such as a PyTorch tensor.

    .. code-block:: python

        scale = tp.Parameter(1.0)
        assert scale.dtype == tp.float32 and scale.shape == ()
    """

    __slots__ = ()

    def __init__(self, data: Any, dtype: DataType | None = None) -> None:
        super().__init__(data, dtype)


def placeholder(shape: tuple[int, ...], dtype: DataType) -> Parameter:
    """A deterministic stand-in weight: ``arange(prod(shape)).reshape(shape)`` in ``dtype``.

    Modules start with these (as in the Tripy release the quantization guide was written for), so a module
    runs, reproducibly, before its real weights are loaded.
    """
    values = np.arange(math.prod(shape), dtype=np.float32 if dtype.is_float else np.int64).reshape(shape)
    return Parameter(values, dtype)  # float16 placeholders of large layers are inf past 65504, by design
