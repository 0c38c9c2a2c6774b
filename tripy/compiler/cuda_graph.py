"""Compiled functions on the ``cuda`` backend: the traced graph planned once per input shapes, its kernels
captured into one CUDA graph, and the graph replayed per call.

For each new combination of input shapes (a *bucket*, inside the ``tp.InputInfo`` ranges) the graph is
planned with the backend's rewrites (the fused int8 Linear included), run once on a stream of its own to
warm the memory pool, workspaces and weight caches, and then run again under stream capture. Every
array that run made stays alive: they are the plan's static buffers, which the captured kernels read
and write. A call copies its inputs into the static input buffers, replays the graph and copies the
outputs out (the next replay overwrites them).

Everything the planned kernels allocate, while warming up and while captured, comes from a memory pool of
the graph's own: temporaries that a kernel frees during capture are written again by every replay, so
memory outside the graph (a returned output's copy) must never be placed there.

A donated argument (``tp.compile(..., donate=...)``) is different: its output is the argument's static
buffer itself. The captured graph ends by copying the output there, or, where the output is an
:class:`~tripy.trace.primitives.UpdateSlice` of the argument and nothing else reads the argument, writes the
update into the buffer in place. A call given that buffer back as the argument copies nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import cupy

from tripy.backend.base import Backend
from tripy.backend.cuda.device_copy import copy_into, fresh_copy
from tripy.backend.cuda.storage import storage_dtype
from tripy.backend.cuda.update_slice import update_slice_into
from tripy.compiler.graph import Graph
from tripy.tensor import Tensor
from tripy.trace.evaluate import run_steps
from tripy.trace.node import topological_order
from tripy.trace.primitives import UpdateSlice
from tripy.trace.rewrite import Step, plan


class CapturedGraph:
    """One bucket of a compiled function: static buffers and the CUDA graph that computes its outputs."""

    def __init__(self, graph: Graph, constants: list[Any], shapes: Sequence[tuple[int, ...]], backend: Backend) -> None:
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.stream.wait_event(cupy.cuda.get_current_stream().record())
        #: Output position -> the argument whose buffer it is.
        self.aliases = dict(graph.aliases)
        #: The graph's own memory: what its kernels allocate, temporaries included. A temporary freed during
        #: capture is still written by every replay, so no allocation outside the graph may reuse it.
        self.pool = cupy.cuda.MemoryPool()
        with cupy.cuda.using_allocator(self.pool.malloc), self.stream:
            self.inputs = [
                cupy.zeros(shape, dtype=storage_dtype(arg.info.dtype))
                for shape, arg in zip(shapes, graph.args, strict=True)
            ]
            tensors = [
                Tensor.from_value(backend, buffer, arg.info.dtype, shape)
                for buffer, arg, shape in zip(self.inputs, graph.args, shapes, strict=True)
            ]
            outputs = graph.to_tensors(tensors, constants)
            steps = backend.fuse_steps(plan(topological_order(outputs), outputs, backend.rewrites), outputs)
            in_place = self._in_place_updates(steps, tensors, outputs)
            #: How many steps of each primitive the graph runs (views such as reshapes launch no kernel).
            self.step_counts = dict(Counter(type(step.prim).__name__ for step in steps))
            #: How many donated outputs are written in place (the others are copied back at the graph's end).
            self.in_place = len(in_place)
            run_steps(steps, backend)  # warm: pool blocks, workspaces, weight caches, compiled kernels
            self.stream.synchronize()
            self.stream.begin_capture()
            try:
                values = run_steps(steps, backend, in_place)
                for position, arg in self.aliases.items():
                    value = values.get(id(outputs[position]))
                    if value is not self.inputs[arg]:
                        self.inputs[arg][...] = value if value is not None else outputs[position].value_on(backend)
            finally:
                self.graph = self.stream.end_capture()
        #: Every array of the captured run: the captured kernels read and write exactly these.
        self.buffers = values
        self.outputs = [
            self.inputs[self.aliases[p]]
            if p in self.aliases
            else values[id(t)]
            if id(t) in values
            else t.value_on(backend)
            for p, t in enumerate(outputs)
        ]
        self.output_types = [(t.dtype, t.shape) for t in outputs]
        self._last_stream: Any = self.stream  # the stream of the last replay (the first waits for the capture)

    def _in_place_updates(self, steps: list[Step], inputs: list[Tensor], outputs: list[Tensor]) -> dict[int, Any]:
        """The donated outputs that are an UpdateSlice of their own argument, read by nothing else: each is
        written into the argument's buffer (kernel overrides by the id of the step's tensor)."""
        readers: dict[int, int] = {}
        for step in steps:
            for i in step.inputs:
                readers[id(i)] = readers.get(id(i), 0) + 1
        by_tensor = {id(step.tensor): step for step in steps}
        overrides: dict[int, Any] = {}
        for position, arg in self.aliases.items():
            update = by_tensor.get(id(outputs[position]))
            if update is None or not isinstance(update.prim, UpdateSlice) or update.inputs[0] is not inputs[arg]:
                continue
            if readers.get(id(inputs[arg])) != 1 or any(o is inputs[arg] for o in outputs):
                continue
            dim, buffer = update.prim.dim, self.inputs[arg]
            overrides[id(update.tensor)] = lambda args, dim=dim, buffer=buffer: update_slice_into(
                buffer, args[1], args[2], dim
            )
        return overrides

    def __call__(self, arrays: Sequence[Any]) -> list[Any]:
        """The outputs for input ``arrays`` (device arrays of the bucket's shapes): fresh arrays, except the
        outputs of donated arguments, which are those arguments' buffers.

        The graph is replayed on the caller's stream, so a call queues no events; a call from another
        stream than the last one first waits for the last replay (the static buffers are shared)."""
        stream = cupy.cuda.get_current_stream()
        if stream.ptr != self._last_stream.ptr:
            stream.wait_event(self._last_stream.record())
            self._last_stream = stream
        for buffer, array in zip(self.inputs, arrays, strict=True):
            copy_into(buffer, array, stream)
        self.graph.launch(stream)
        return [out if p in self.aliases else fresh_copy(out, stream) for p, out in enumerate(self.outputs)]
