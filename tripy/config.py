"""Library settings: ``tp.config.backend`` names the backend that tensors are evaluated on.

``"auto"`` (the default) uses the GPU (``cuda``) when CuPy finds a usable device and ``numpy``
otherwise. The ``TRIPY_BACKEND`` environment variable sets the starting value. The name is resolved to a
backend by :mod:`tripy.backend.registry`.
"""

from __future__ import annotations

import difflib
import os

from tripy.errors import TripyException, raise_error

BACKENDS = ("auto", "numpy", "cuda")


def _suggestion(name: str) -> str:
    close = difflib.get_close_matches(str(name), BACKENDS, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


class Config:
    """Settings of the library; assign attributes to change them (``tp.config.backend = "numpy"``)."""

    def __init__(self) -> None:
        name = os.environ.get("TRIPY_BACKEND", "auto")
        if name not in BACKENDS:
            raise TripyException(
                f"Unknown backend {name!r} in the environment variable TRIPY_BACKEND: expected "
                f"one of {BACKENDS}.{_suggestion(name)}"
            )
        self._backend_name = name

    @property
    def backend(self) -> str:
        """``"auto"``, ``"numpy"`` or ``"cuda"``."""
        return self._backend_name

    @backend.setter
    def backend(self, name: str) -> None:
        if name not in BACKENDS:
            raise_error(
                f"Unknown backend {name!r} for `tp.config.backend`: expected one of {BACKENDS}.{_suggestion(name)}"
            )
        self._backend_name = name

    def __repr__(self) -> str:
        return f"Config(backend={self.backend!r})"


config = Config()
