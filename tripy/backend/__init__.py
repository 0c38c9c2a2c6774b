"""Backends: where values live and how each primitive runs (NumPy, CUDA), and the TensorRT lowering."""
