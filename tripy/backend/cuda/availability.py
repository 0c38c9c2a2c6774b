"""Whether the ``cuda`` backend can run here, and if not, why (checked without creating the backend)."""

from __future__ import annotations


def unusable_reason() -> str | None:
    """Why the GPU cannot be used, or None when it can: CuPy imports, sees a device and loads cuBLAS."""
    try:
        import cupy
    except Exception as exc:  # CuPy missing or without its CUDA libraries
        return f"CuPy could not be imported ({exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"CUDA reports no usable device ({exc})"
    if count == 0:
        return "CUDA reports no device"
    try:
        from cupy_backends.cuda.libs import cublas  # noqa: F401 - the int8 path needs cuBLAS
    except Exception as exc:
        return f"cuBLAS could not be loaded ({exc})"
    return None
