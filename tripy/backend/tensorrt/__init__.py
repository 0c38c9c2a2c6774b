"""The TensorRT backend: lowers a traced graph to a TensorRT network, builds and runs engines.

Either the full ``tensorrt`` package or TensorRT-RTX's ``tensorrt_rtx_bindings`` works (both have the
TensorRT 10 network API); whichever imports first is used. TensorRT-RTX builds engines without a GPU.
"""

from __future__ import annotations

import functools
from types import ModuleType

#: Modules tried, in order.
MODULE_NAMES = ("tensorrt", "tensorrt_rtx_bindings")


@functools.cache
def load_tensorrt() -> ModuleType | None:
    """The TensorRT Python module, or None when neither package is installed."""
    import importlib

    for name in MODULE_NAMES:
        try:
            module = importlib.import_module(name)
        except Exception:  # ImportError, or a placeholder package that fails at import
            continue
        if hasattr(module, "Builder"):  # not a namespace package (e.g. a folder called tensorrt on sys.path)
            return module
    return None


def tensorrt_version() -> str | None:
    """``"<module> <version>"`` of the TensorRT in use (part of engine cache keys), or None."""
    trt = load_tensorrt()
    return None if trt is None else f"{trt.__name__} {trt.__version__}"


def is_rtx(trt: ModuleType) -> bool:
    """Whether ``trt`` is TensorRT-RTX, whose engines run only on some GPU architectures."""
    return "rtx" in trt.__name__
