"""Wheel tag only (everything else is in pyproject.toml).

The wheel ships a prebuilt Linux x86-64 library (``tripy/backend/cuda/lib/*.so``, loaded with ctypes, so
any Python 3 can use it): it is tagged ``py3-none-linux_x86_64``, not ``py3-none-any``.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel

LIBRARIES = sorted((Path(__file__).parent / "tripy" / "backend" / "cuda" / "lib").glob("*.so"))


class PlatformWheel(bdist_wheel):
    """A wheel for the platform its shipped library is built for, whatever Python 3 runs it."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if LIBRARIES:
            self.root_is_pure = False

    def get_tag(self) -> tuple[str, str, str]:
        if LIBRARIES:
            return "py3", "none", "linux_x86_64"
        return super().get_tag()


setup(cmdclass={"bdist_wheel": PlatformWheel})
