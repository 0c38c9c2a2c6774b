"""The reference backend: values are NumPy arrays on the host (``loc=cpu:0``)."""

from __future__ import annotations

import numpy as np

from tripy.backend.base import Backend
from tripy.backend.numpy.kernels import KERNELS
from tripy.dtypes import DataType


class NumpyBackend(Backend):
    """Evaluates traces with NumPy on the host; its kernels are the reference semantics."""

    name = "numpy"
    device = "cpu:0"
    kernels = KERNELS

    def from_numpy(self, array: np.ndarray, dtype: DataType) -> np.ndarray:
        return np.asarray(array, dtype=dtype.numpy)

    def to_numpy(self, value: np.ndarray, dtype: DataType) -> np.ndarray:
        return np.asarray(value)
