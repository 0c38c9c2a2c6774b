"""Checks shared by the TensorRT tests: the lowered network's layers and the serialized engine."""

from __future__ import annotations

import warnings

import numpy as np
from network_interpreter import run_network

import tripy as tp
from tripy.backend.tensorrt import is_rtx, load_tensorrt
from tripy.backend.tensorrt.engine import check_engine
from tripy.backend.tensorrt.network import describe_network, lower_graph


def compile_quietly(func, args, kwargs=None) -> tp.Executable:
    """``tp.compile`` without the (expected, once per process) fallback warning of a GPU-less machine."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tp.compiler.TensorRTFallbackWarning)
        return tp.compile(func, args=args, kwargs=kwargs)


def run_quietly(exe: tp.Executable, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tp.compiler.TensorRTFallbackWarning)
        return exe(*args, **kwargs)


def layers_of(trt, exe: tp.Executable) -> tuple[list[dict], object]:
    """The layers of the network ``exe``'s engine was built from (lowered again: lowering is deterministic)."""
    lowered = lower_graph(trt, exe.graph)
    return describe_network(lowered.network), lowered


def kinds(layers: list[dict]) -> list[str]:
    return [layer["type"] for layer in layers]


def producer(layers: list[dict], layer: dict, input_index: int = 0) -> dict | str:
    """The layer (or ``input:NAME``) feeding input ``input_index`` of ``layer``, seen through shuffles."""
    source = layer["inputs"][input_index]
    while isinstance(source, int) and layers[source]["type"] == "SHUFFLE":
        source = layers[source]["inputs"][0]
    return layers[source] if isinstance(source, int) else source


def assert_engine_reloads(trt, exe: tp.Executable) -> None:
    """The serialized engine passes every check this machine can make (module docstring of engine.py).

    Without a GPU that TensorRT runs on, deserializing is impossible; then the header is checked
    (TensorRT's own validity check: not malformed, same version) and the recorded size (TensorRT-RTX),
    and a damaged copy (first byte flipped; one byte short) must fail those checks.
    Where the engine does run (``exe.backend == "tensorrt"``), it was deserialized when ``exe`` was made.
    """
    assert exe.engine is not None and len(exe.engine) > 0
    check = check_engine(trt, exe.engine)
    assert check.header_ok, check
    assert check.size_ok is (True if is_rtx(trt) else None), check
    if exe.backend == "tensorrt":
        assert check_engine(trt, exe.engine, deserialize=True).deserialized
    corrupt = bytearray(exe.engine)
    corrupt[0] ^= 0xFF
    assert not check_engine(trt, bytes(corrupt)).ok
    if is_rtx(trt):
        assert not check_engine(trt, exe.engine[:-1]).ok


def assert_same_as_eager(exe: tp.Executable, func, *inputs) -> None:
    """The executable's outputs equal calling ``func`` eagerly, bit for bit; and so do the outputs of its
    TensorRT network, run layer by layer by ``network_interpreter`` (floats to 1e-5: the network's
    constant folding and layer compositions may round differently)."""
    got = run_quietly(exe, *inputs)
    expected = func(*inputs)
    got = got if isinstance(got, (tuple, list)) else [got]
    expected = expected if isinstance(expected, (tuple, list)) else [expected]
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_array_equal(g.numpy(), e.numpy())
    trt = load_tensorrt()
    if trt is None or exe.engine is None:
        return
    lowered = lower_graph(trt, exe.graph)
    names = [a.name for a in exe.graph.args]
    outputs = run_network(trt, lowered, {n: t.numpy() for n, t in zip(names, inputs)})
    for out, e in zip(outputs, expected, strict=True):
        want = e.numpy()
        assert out.shape == want.shape and out.dtype == want.dtype, (out.shape, out.dtype, want.shape, want.dtype)
        if e.dtype.is_float and not e.dtype.is_quantized:
            np.testing.assert_allclose(out.astype(np.float32), want.astype(np.float32), rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_array_equal(out, want)
