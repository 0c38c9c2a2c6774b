"""Compiled functions on the ``cuda`` backend: the traced graph planned once per input shapes, its kernels
captured into one CUDA graph, and the graph replayed per call.

For each new combination of input shapes (a *bucket*, inside the ``tp.InputInfo`` ranges) the graph is
planned with the backend's rewrites (the fused int8 Linear included), run once on a stream of its own to
warm the memory pool, workspaces and weight caches, and then run again under stream capture. Every
array that run made stays alive: they are the plan's static buffers, which the captured kernels read
and write. A call copies its inputs into the static input buffers and replays the graph.

Outputs are *lent*: the graph ends by copying each output into an array of its own (from CuPy's usual
pool, not the graph's), and the call returns a tensor viewing it, with no copy on the host's side. Before
the next replay overwrites it, the graph looks at who still holds it (CPython's reference counts):

- nobody (the usual case: a result used, then dropped): it is written again;
- only the tensor it was lent to: that tensor is given a copy first (what every call did before);
- anything else (a view, a DLPack consumer, another tensor made from its value, an eager graph holding
  it): the graph cannot run again, and the executable captures the bucket anew, copying its outputs out
  at every call from then on.

Everything the planned kernels allocate, while warming up and while captured, comes from a memory pool of
the graph's own: temporaries that a kernel frees during capture are written again by every replay, so
memory outside the graph (a returned output's copy) must never be placed there.

A donated argument (``tp.compile(..., donate=...)``) is different: its output is the argument's static
buffer itself. The captured graph ends by copying the output there, or, where the output is an
:class:`~tripy.trace.primitives.UpdateSlice` of the argument and nothing else reads the argument, writes the
update into the buffer in place. A call given that buffer back as the argument copies nothing.
"""

from __future__ import annotations

import sys
import weakref
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
from tripy.trace.evaluate import replace_value, run_steps
from tripy.trace.node import topological_order
from tripy.trace.primitives import UpdateSlice
from tripy.trace.rewrite import Step, plan


class CapturedGraph:
    """One bucket of a compiled function: static buffers and the CUDA graph that computes its outputs."""

    def __init__(
        self,
        graph: Graph,
        constants: list[Any],
        shapes: Sequence[tuple[int, ...]],
        backend: Backend,
        lend: bool = True,
    ) -> None:
        self.backend = backend
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
            warm = run_steps(steps, backend)  # warm: pool blocks, workspaces, weight caches, compiled kernels
            #: Output position -> the array it is lent in (see the module's docstring).
            self.lent_buffers = self._lent_buffers(outputs, warm) if lend else {}
            del warm
            self.stream.synchronize()
            self.stream.begin_capture()
            try:
                values = run_steps(steps, backend, in_place)
                for position, arg in self.aliases.items():
                    value = values.get(id(outputs[position]))
                    if value is not self.inputs[arg]:
                        self.inputs[arg][...] = value if value is not None else outputs[position].value_on(backend)
                for position, buffer in self.lent_buffers.items():
                    copy_into(buffer, values[id(outputs[position])], self.stream)
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
        #: Holders of each lent buffer when nobody else holds it, and when only its last tensor does.
        self._free: dict[int, tuple[int, int, int]] | None = None
        self._held: dict[int, tuple[int, ...]] = {}
        #: Each lent buffer's last tensor (a weak reference) and the id of the view that tensor holds.
        self._lent: dict[int, tuple[weakref.ref[Tensor], int]] = {}

    def _lent_buffers(self, outputs: list[Tensor], values: dict[int, Any]) -> dict[int, Any]:
        """An array of CuPy's usual pool for each output a step computes (once among the outputs, not a
        donated argument's): the graph copies the output there, and calls lend it."""
        counts = Counter(id(t) for t in outputs)
        buffers = {}
        with cupy.cuda.using_allocator(cupy.get_default_memory_pool().malloc):
            for position, t in enumerate(outputs):
                value = values.get(id(t))
                if position not in self.aliases and counts[id(t)] == 1 and value is not None:
                    buffers[position] = cupy.empty(value.shape, value.dtype)
        return buffers

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

    def __call__(self, inputs: Sequence[Tensor]) -> list[Tensor] | None:
        """The output tensors for ``inputs`` (of the bucket's shapes), or None when an output lent by an
        earlier call is still held by more than its tensor (this graph cannot run again). Lent outputs view
        the graph's output buffers; donated arguments' outputs are their buffers; other outputs are copies.

        The graph is replayed on the caller's stream, so a call queues no events; a call from another
        stream than the last one first waits for the last replay (the static buffers are shared)."""
        stream = cupy.cuda.get_current_stream()
        if stream.ptr != self._last_stream.ptr:
            stream.wait_event(self._last_stream.record())
            self._last_stream = stream
        if self._free is None:  # counted before anything is lent, in a frame that holds no buffer
            self._free = {p: _holders(self.lent_buffers, p) for p in self.lent_buffers}
        elif self._lent and not self._reclaim(self._free, stream):
            stream.synchronize()  # the caller drops this graph: its last replay must be done
            return None
        for buffer, t in zip(self.inputs, inputs, strict=True):
            copy_into(buffer, t.value_on(self.backend), stream)
        self.graph.launch(stream)
        results = self._results(stream)
        for p in self.lent_buffers:  # counted in this frame, where no local holds a lent buffer or view
            self._lent[p] = (weakref.ref(results[p]), id(results[p].value))
            if p not in self._held:  # the same at every call
                self._held[p] = (*_holders(self.lent_buffers, p), _value_holders(results, p))
        return results

    def _results(self, stream: Any) -> list[Tensor]:
        """The output tensors of a replay: views of the lent buffers, donated buffers, copies of the rest."""
        results = []
        for p, ((dtype, shape), out) in enumerate(zip(self.output_types, self.outputs, strict=True)):
            if p in self.lent_buffers:
                out = self.lent_buffers[p].view()
            elif p not in self.aliases:
                out = fresh_copy(out, stream)
            results.append(Tensor.from_value(self.backend, out, dtype, shape))
        return results

    def _reclaim(self, free: dict[int, tuple[int, int, int]], stream: Any) -> bool:
        """Make every lent buffer free to overwrite: a tensor that alone still holds one gets a copy of its
        value. False when one is held by anything else."""
        for p, (ref, view_id) in self._lent.items():
            counts = _holders(self.lent_buffers, p)
            if counts == free[p]:
                continue
            tensor = ref()
            if tensor is None or id(tensor.value) != view_id:
                return False
            tensors = [tensor]
            del tensor
            if (*counts, _value_holders(tensors, 0)) != self._held[p]:
                return False
            replace_value(tensors[0], fresh_copy(self.lent_buffers[p], stream))
        return True


def _holders(buffers: dict[int, Any], p: int) -> tuple[int, int, int]:
    """References to the array ``buffers[p]``, to its memory pointer and to the allocation (views and
    DLPack exports hold one of them), counted the same way at every call."""
    array = buffers[p]
    return sys.getrefcount(array), sys.getrefcount(array.data), sys.getrefcount(array.data.mem)


def _value_holders(tensors: list[Tensor], n: int) -> int:
    """References to the value of ``tensors[n]``, counted the same way at every call."""
    return sys.getrefcount(tensors[n].value)
