"""The reference backend: every primitive on NumPy arrays, on any machine."""

from tripy.backend.numpy.backend import NumpyBackend

__all__ = ["NumpyBackend"]
