"""Compiled functions on the ``cuda`` backend: the traced graph planned once per input shapes, its kernels
captured into one CUDA graph, and the graph replayed per call.

For each new combination of input shapes (a *bucket*, inside the ``tp.InputInfo`` ranges) the graph is
planned with the backend's rewrites (the fused int8 Linear included), run once on a stream of its own to
warm the memory pool, workspaces and weight caches, and then run again under stream capture. Every
array that run made stays alive: they are the plan's static buffers, which the captured kernels read
and write. A call copies its inputs into the static input buffers, replays the graph and copies the
outputs out (the next replay overwrites them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cupy

from tripy.backend.base import Backend
from tripy.backend.cuda.storage import storage_dtype
from tripy.compiler.graph import Graph
from tripy.tensor import Tensor
from tripy.trace.evaluate import run_steps
from tripy.trace.node import topological_order
from tripy.trace.rewrite import plan


class CapturedGraph:
    """One bucket of a compiled function: static buffers and the CUDA graph that computes its outputs."""

    def __init__(self, graph: Graph, constants: list[Any], shapes: Sequence[tuple[int, ...]], backend: Backend) -> None:
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.stream.wait_event(cupy.cuda.get_current_stream().record())
        with self.stream:
            self.inputs = [
                cupy.zeros(shape, dtype=storage_dtype(arg.info.dtype))
                for shape, arg in zip(shapes, graph.args, strict=True)
            ]
            tensors = [
                Tensor.from_value(backend, buffer, arg.info.dtype, shape)
                for buffer, arg, shape in zip(self.inputs, graph.args, shapes, strict=True)
            ]
            outputs = graph.to_tensors(tensors, constants)
            steps = plan(topological_order(outputs), outputs, backend.rewrites)
            run_steps(steps, backend)  # warm: pool blocks, workspaces, weight caches, compiled kernels
            self.stream.synchronize()
            self.stream.begin_capture()
            try:
                values = run_steps(steps, backend)
            finally:
                self.graph = self.stream.end_capture()
        #: Every array of the captured run: the captured kernels read and write exactly these.
        self.buffers = values
        self.outputs = [values[id(t)] if id(t) in values else t.value_on(backend) for t in outputs]
        self.output_types = [(t.dtype, t.shape) for t in outputs]

    def __call__(self, arrays: Sequence[Any]) -> list[Any]:
        """The outputs for input ``arrays`` (device arrays of the bucket's shapes), as fresh arrays."""
        caller = cupy.cuda.get_current_stream()
        self.stream.wait_event(caller.record())
        with self.stream:
            for buffer, array in zip(self.inputs, arrays, strict=True):
                buffer[...] = array
            self.graph.launch(self.stream)
            results = [out.copy() for out in self.outputs]
        caller.wait_event(self.stream.record())
        return results
