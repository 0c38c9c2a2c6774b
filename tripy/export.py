"""Registers the public API: ``tripy/__init__.py`` and the API reference are derived from this list."""

from __future__ import annotations

from typing import Protocol, TypeVar


class _Named(Protocol):
    __name__: str


T = TypeVar("T", bound=_Named)

#: Public name -> object, in registration order.
PUBLIC_API: dict[str, object] = {}


def public(obj: T) -> T:
    """Make ``obj`` part of the public API as ``tp.<name>``."""
    PUBLIC_API[obj.__name__] = obj
    return obj
