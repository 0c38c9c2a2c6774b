"""Backends that run traces, and the choice of the current one (see :mod:`tripy.config`)."""

from __future__ import annotations

from tripy.backend.base import Backend

_instances: dict[str, Backend] = {}


def get_backend(name: str) -> Backend:
    """The backend instance called ``name`` (``numpy``, ``cuda``), created on first use."""
    if name not in _instances:
        if name == "numpy":
            from tripy.backend.numpy import NumpyBackend

            _instances[name] = NumpyBackend()
        elif name == "cuda":
            from tripy.backend.cuda import CudaBackend  # raises a clear error without a usable GPU

            _instances[name] = CudaBackend()
        else:
            raise ValueError(name)
    return _instances[name]


def cuda_usable() -> bool:
    """Whether the ``cuda`` backend can run here: CuPy imports, sees a GPU and loads cuBLAS."""
    try:
        from tripy.backend.cuda.backend import _unusable_reason
    except Exception:
        return False
    return _unusable_reason() is None


def current_backend() -> Backend:
    """The backend new tensors are made on, as ``tp.config.backend`` says."""
    return config._backend or config._resolved()


from tripy.config import config  # noqa: E402 - config imports this module lazily
