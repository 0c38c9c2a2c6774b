"""The backends by name, and the one that ``tp.config.backend`` selects now."""

from __future__ import annotations

import importlib

from tripy.backend.base import Backend
from tripy.backend.cuda.availability import unusable_reason
from tripy.config import config
from tripy.errors import raise_error

#: Each backend's name and the module and class that implement it.
_IMPLEMENTATIONS = {
    "numpy": ("tripy.backend.numpy.backend", "NumpyBackend"),
    "cuda": ("tripy.backend.cuda.backend", "CudaBackend"),
}
_instances: dict[str, Backend] = {}
_resolved: dict[str, Backend] = {}


def get_backend(name: str) -> Backend:
    """The backend instance called ``name`` (``numpy``, ``cuda``), created on first use."""
    backend = _instances.get(name)
    if backend is None:
        if name not in _IMPLEMENTATIONS:
            raise ValueError(f"unknown backend {name!r}")
        if name == "cuda":
            reason = unusable_reason()
            if reason is not None:
                raise_error(
                    f"The 'cuda' backend was requested (tp.config.backend or TRIPY_BACKEND), but no GPU is usable: "
                    f"{reason}. Use tp.config.backend = 'numpy' (or 'auto') on a machine without an NVIDIA GPU."
                )
        module, cls = _IMPLEMENTATIONS[name]
        backend = _instances[name] = getattr(importlib.import_module(module), cls)()
    return backend


def created_backends() -> tuple[Backend, ...]:
    """The backends made so far (none is made by asking)."""
    return tuple(_instances.values())


def cuda_usable() -> bool:
    """Whether the ``cuda`` backend can run here: CuPy imports, sees a GPU and loads cuBLAS."""
    return unusable_reason() is None


def current_backend() -> Backend:
    """The backend that new tensors are made and evaluated on, as ``tp.config.backend`` says now."""
    name = config.backend
    backend = _resolved.get(name)
    if backend is None:
        chosen = ("cuda" if cuda_usable() else "numpy") if name == "auto" else name
        backend = _resolved[name] = get_backend(chosen)
    return backend
