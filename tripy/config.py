"""Library settings: ``tp.config.backend`` chooses where tensors are evaluated.

``"auto"`` (the default) uses the GPU (``cuda``) when CuPy finds a usable device and ``numpy``
otherwise. The ``TRIPY_BACKEND`` environment variable sets the starting value.
"""

from __future__ import annotations

import os

BACKENDS = ("auto", "numpy", "cuda")


def _suggestion(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), BACKENDS, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


class Config:
    """Settings of the library; assign attributes to change them (``tp.config.backend = "numpy"``)."""

    def __init__(self) -> None:
        self._backend_name = "auto"
        self._backend = None
        name = os.environ.get("TRIPY_BACKEND", "auto")
        if name not in BACKENDS:
            from tripy.errors import TripyException

            raise TripyException(
                f"Unknown backend {name!r} in the environment variable TRIPY_BACKEND: expected "
                f"one of {BACKENDS}.{_suggestion(name)}"
            )
        self.backend = name

    @property
    def backend(self) -> str:
        """``"auto"``, ``"numpy"`` or ``"cuda"``."""
        return self._backend_name

    @backend.setter
    def backend(self, name: str) -> None:
        if name not in BACKENDS:
            from tripy.errors import raise_error

            raise_error(
                f"Unknown backend {name!r} for `tp.config.backend`: expected one of {BACKENDS}.{_suggestion(name)}"
            )
        self._backend_name = name
        self._backend = None

    def _resolved(self):
        if self._backend is None:
            from tripy.backend import cuda_usable, get_backend

            name = self._backend_name
            if name == "auto":
                name = "cuda" if cuda_usable() else "numpy"
            self._backend = get_backend(name)
        return self._backend

    def __repr__(self) -> str:
        return f"Config(backend={self.backend!r})"


config = Config()
