"""Whole-tensor comparisons that answer with a Python bool: ``allclose`` and ``equal``."""

from __future__ import annotations

import numpy as np

from tripy.export import public
from tripy.frontend.utils import as_tensor, broadcast_shape
from tripy.tensor import Tensor


@public
def allclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Whether ``|input - other| <= atol + rtol * |other|`` everywhere (shapes must broadcast).

    .. code-block:: python

        assert tp.allclose(tp.Tensor([1.0]), tp.Tensor([1.0 + 1e-7]))
    """
    input, other = as_tensor(input, "input", "allclose"), as_tensor(other, "other", "allclose")
    broadcast_shape(input, other, op="allclose")
    a, b = np.asarray(input.numpy(), dtype=np.float64), np.asarray(other.numpy(), dtype=np.float64)
    return bool(np.allclose(a, b, rtol=rtol, atol=atol))


@public
def equal(input: Tensor, other: Tensor) -> bool:
    """Whether the tensors have the same shape and the same values.

    .. code-block:: python

        assert tp.equal(tp.Tensor([1, 2]), tp.Tensor([1, 2]))
    """
    return input.shape == other.shape and bool(np.array_equal(input.numpy(), other.numpy()))
