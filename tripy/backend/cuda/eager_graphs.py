"""Eager evaluations that repeat, replayed as CUDA graphs.

A decoding loop, or a layer called in a loop, evaluates the same trace again and again: the same primitives
wired the same way, on inputs of the same shapes and dtypes (:mod:`tripy.trace.signature`). Planning it and
launching each of its kernels from Python costs far more host time than the GPU spends on it. So, on the
``cuda`` backend, a trace met again within the last :data:`RECENT` evaluations is captured once as a CUDA
graph (its plan run once to warm the pools and caches, then again under stream capture), and each later
evaluation of it is one graph launch:

- its inputs that were the same array both times it was met (a model's weights, cached scalars) are read
  in place, and held; the others are copied into buffers of the graph's own before each launch;
- the tensors still wanted afterwards (the outputs, and those referenced from outside the trace) get fresh
  copies of their values: tensors are immutable, and the next launch overwrites the graph's buffers;
- a held input that is another array at a later evaluation drops the graph (that evaluation runs as
  usual), and at most :data:`CAPACITY` graphs are kept (the least recently used is dropped);
- a trace that cannot be captured (a kernel that synchronizes, or fails, or an input to copy that is not
  contiguous: a contiguous copy could take another kernel path) runs as usual and is not tried again.

The graph runs the plan the evaluator would run, with the same kernels, so its values are those of the
usual evaluation, bit for bit. ``$TRIPY_EAGER_GRAPHS=0`` (or ``enabled = False``) turns this off.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cupy

from tripy.backend.cuda.device_copy import copy_into, fresh_copy
from tripy.trace.evaluate import run_steps
from tripy.trace.rewrite import plan
from tripy.trace.signature import Signature, TraceKey

if TYPE_CHECKING:
    from tripy.backend.base import Backend
    from tripy.tensor import Tensor

#: A trace is captured when it was met within this many of the evaluations before it.
RECENT = 8
#: Graphs kept at most.
CAPACITY = 8
#: Traces of fewer steps run as usual (their kernels' launches cost about what a graph's copies do).
MIN_STEPS = 3


class _Captured:
    """One trace's CUDA graph and the buffers it reads and writes."""

    def __init__(
        self,
        graph: Any,
        held: list[tuple[int, Any]],
        copied: list[tuple[int, Any]],
        buffers: list[Any],
        values: dict[int, Any],
        pool: Any,
        stream: Any,
    ) -> None:
        self.graph = graph
        #: (leaf position, the array read in place): the leaf must be that very array at each launch.
        self.held = held
        #: (leaf position, the graph's buffer it is copied into before each launch).
        self.copied = copied
        #: Per position of the trace's order: the buffer holding that tensor's value (None: not computed).
        self.buffers = buffers
        self._alive = (values, pool)  # every array of the captured run, and the pool they came from
        self.last_stream = stream

    def launch(self, leaf_values: Sequence[Any], kept: Sequence[int]) -> list[tuple[int, Any]] | None:
        """Fresh copies of the ``kept`` positions' values for these leaves; None if a leaf read in place is
        another array, or a copied one is not contiguous (the graph cannot compute this evaluation)."""
        for i, array in self.held:
            if leaf_values[i] is not array:
                return None
        for i, _ in self.copied:
            if not leaf_values[i].flags.c_contiguous:
                return None
        stream = cupy.cuda.get_current_stream()
        if stream.ptr != self.last_stream.ptr:  # the buffers are shared: wait for the last launch
            stream.wait_event(self.last_stream.record())
            self.last_stream = stream
        for i, buffer in self.copied:
            copy_into(buffer, leaf_values[i], stream)
        self.graph.launch(stream)
        buffers = self.buffers
        return [(n, fresh_copy(buffers[n], stream)) for n in kept if buffers[n] is not None]


class EagerGraphs:
    """The ``cuda`` backend's graphs of repeated eager evaluations (see the module's docstring)."""

    def __init__(self) -> None:
        self.enabled = os.environ.get("TRIPY_EAGER_GRAPHS", "1") != "0"
        self.min_nodes = MIN_STEPS  # fewer nodes cannot plan to MIN_STEPS steps
        self._graphs: OrderedDict[TraceKey, _Captured] = OrderedDict()
        #: The last evaluations' keys, each with the identities of its leaves' values.
        self._recent: OrderedDict[TraceKey, tuple[int, ...]] = OrderedDict()
        self._refused: set[TraceKey] = set()
        #: Counters: graphs captured, launches, evaluations that could not be captured, graphs dropped.
        self.stats = {"captured": 0, "replayed": 0, "refused": 0, "dropped": 0}

    def clear(self) -> None:
        """Drop every graph (and the arrays they hold)."""
        self._graphs.clear()
        self._recent.clear()
        self._refused.clear()

    def run(
        self,
        sig: Signature,
        leaf_values: Sequence[Any],
        order: list[Tensor],
        outputs: Sequence[Tensor],
        backend: Backend,
    ) -> list[tuple[int, Any]] | None:
        """The values of ``sig.kept`` by position, from a graph of this trace; None to evaluate as usual
        (the evaluator asks only while ``enabled``)."""
        key = sig.key
        captured = self._graphs.get(key)
        if captured is not None:
            values = captured.launch(leaf_values, sig.kept)
            if values is not None:
                self._graphs.move_to_end(key)
                self.stats["replayed"] += 1
                return values
            del self._graphs[key]  # a held input is another array now: start again from this evaluation
            self.stats["dropped"] += 1
        identities = tuple(id(v) for v in leaf_values)
        before = self._recent.pop(key, None)
        self._recent[key] = identities
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        if before is None or key in self._refused:
            return None
        same = [a == b for a, b in zip(before, identities, strict=True)]
        captured = self._capture(sig, leaf_values, order, outputs, backend, same)
        if captured is None:
            self.stats["refused"] += 1
            if len(self._refused) > 1024:
                self._refused.clear()
            self._refused.add(key)
            return None
        self.stats["captured"] += 1
        self._graphs[key] = captured
        if len(self._graphs) > CAPACITY:
            self._graphs.popitem(last=False)
            self.stats["dropped"] += 1
        values = captured.launch(leaf_values, sig.kept)
        self.stats["replayed"] += values is not None
        return values

    @staticmethod
    def _capture(
        sig: Signature,
        leaf_values: Sequence[Any],
        order: list[Tensor],
        outputs: Sequence[Tensor],
        backend: Backend,
        same: list[bool],
    ) -> _Captured | None:
        """The trace's plan captured as a graph reading ``same`` leaves in place; None if it cannot be."""
        steps = plan(order, outputs, backend.rewrites)
        if len(steps) < MIN_STEPS:
            return None
        stream = cupy.cuda.Stream(non_blocking=True)
        stream.wait_event(cupy.cuda.get_current_stream().record())
        pool = cupy.cuda.MemoryPool()  # temporaries freed during capture are still written by each launch
        held: list[tuple[int, Any]] = []
        copied: list[tuple[int, Any]] = []
        given: dict[int, Any] = {}
        try:
            with cupy.cuda.using_allocator(pool.malloc), stream:
                for i, (leaf, value) in enumerate(zip(sig.leaves, leaf_values, strict=True)):
                    if same[i]:
                        held.append((i, value))
                    elif value.flags.c_contiguous:
                        value = value.copy()
                        copied.append((i, value))
                    else:  # a contiguous copy could take other kernel paths than the view would
                        return None
                    given[id(leaf)] = value
                run_steps(steps, backend, given=given)  # warm: pool blocks, workspaces, weight caches, kernels
                stream.synchronize()
                stream.begin_capture()
                try:
                    values = run_steps(steps, backend, given=given)
                finally:
                    graph = stream.end_capture()
        except Exception:  # a kernel that synchronizes or fails: the usual evaluation runs it (and reports)
            return None
        buffers = [values.get(id(t)) for t in order]
        return _Captured(graph, held, copied, buffers, values, pool, stream)
