"""The ``cuda`` backend: tripy's primitives on NVIDIA GPUs through CuPy, int8 matrix products on tensor cores."""
