"""The one evaluator: computes tensors' values by running their trace's primitives on a backend.

It walks the graph (inputs first), lets the backend's rewrites fuse what they match, moves values made
on another backend, runs each primitive under one error wrapper that names the user's line, and keeps
every computed value on its tensor (so a later evaluation, the next layer of a model run step by step,
starts from it). A backend with ``eager_graphs`` may instead run a trace it has met before as one CUDA
graph: then only the tensors still wanted (:mod:`tripy.trace.signature`) get values, and the others keep
their trace. Besides :mod:`tripy.tensor`, this is the only module that reads or writes a tensor's value
and node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tripy.backend.base import Backend
from tripy.errors import SourceLocation, TripyException
from tripy.trace.node import topological_order
from tripy.trace.primitives import Primitive
from tripy.trace.rewrite import Step, fuse_at, plan
from tripy.trace.signature import signature

if TYPE_CHECKING:
    from tripy.tensor import Tensor


def adopt(tensor: Tensor, backend: Backend) -> Any:
    """The value of an evaluated ``tensor`` as ``backend``'s value (copied if another backend made it)."""
    source = tensor._backend
    if source is backend:
        return tensor._value
    assert source is not None
    return backend.from_numpy(source.to_numpy(tensor._value, tensor.dtype), tensor.dtype)


def run(backend: Backend, prim: Primitive, args: Sequence[Any], where: SourceLocation | None) -> Any:
    """``prim`` on ``args``; an internal failure still says which user line made the tensor."""
    kernel = backend.kernels.get(type(prim))
    if kernel is None:
        made_at = f"\n  made at: {where}" if where else ""
        raise TripyException(f"The {backend.name} backend has no kernel for {type(prim).__name__}.{made_at}")
    try:
        return kernel(prim, *args)
    except TripyException:
        raise
    except Exception as exc:
        made_at = f"\n  made at: {where}" if where else ""
        raise TripyException(f"{backend.name} backend failed running {type(prim).__name__}: {exc}{made_at}") from exc


def evaluate_one(tensor: Tensor, backend: Backend) -> None:
    """:func:`evaluate` of one tensor, without a graph walk when it is one primitive on values (eager code)."""
    node = tensor._node
    if node is None:
        return
    prim, inputs = node.prim, node.inputs
    if backend.rewrites:
        fused = fuse_at(tensor, backend.rewrites)  # an eager layer's call: its fused inputs are often all values
        if fused is not None:
            prim, inputs = fused
    for i in inputs:
        if i._node is not None:
            evaluate([tensor], backend)
            return
    args = [i._value if i._backend is backend else adopt(i, backend) for i in inputs]
    tensor._value = run(backend, prim, args, tensor._where)
    tensor._backend, tensor._node = backend, None


def evaluate(outputs: Sequence[Tensor], backend: Backend) -> None:
    """Compute, on ``backend``, the values of ``outputs`` that have none yet, and keep them."""
    pending = [t for t in outputs if t._node is not None]
    if not pending:
        return
    order = topological_order(pending)
    graphs = backend.eager_graphs
    if graphs is not None and graphs.enabled and len(order) >= graphs.min_nodes:
        sig = signature(order, pending)
        if sig is not None and all(leaf._backend is backend for leaf in sig.leaves):
            kept = graphs.run(sig, [leaf._value for leaf in sig.leaves], order, pending, backend)
            if kept is not None:
                for n, value in kept:
                    _keep(order[n], value, backend)
                return
    steps = plan(order, pending, backend.rewrites)
    values = run_steps(steps, backend)
    for step in steps:
        _keep(step.tensor, values[id(step.tensor)], backend)


def run_steps(
    steps: Sequence[Step],
    backend: Backend,
    overrides: Mapping[int, Callable[[list[Any]], Any]] | None = None,
    given: Mapping[int, Any] | None = None,
) -> dict[int, Any]:
    """Run planned ``steps`` (inputs first) on ``backend``: each step's value by the id of its tensor.

    The tensors are left as they are (CUDA graphs run a plan without keeping its values). ``overrides``
    replaces the kernel of some steps (by the id of their tensor) with a function of the arguments: a
    compiled plan writing a donated buffer in place. ``given`` are values to read instead of some evaluated
    inputs' own (by the id of the tensor): a graph's copies of them.
    """
    values: dict[int, Any] = dict(given) if given else {}
    for step in steps:
        args = [values[id(i)] if id(i) in values else adopt(i, backend) for i in step.inputs]
        override = overrides.get(id(step.tensor)) if overrides else None
        if override is not None:
            values[id(step.tensor)] = override(args)
        else:
            values[id(step.tensor)] = run(backend, step.prim, args, step.tensor._where)
    return values


def replace_value(tensor: Tensor, value: Any) -> None:
    """Give an evaluated ``tensor`` another array holding the same values on the same backend (a compiled
    graph moving a result out of a buffer it is about to overwrite)."""
    assert tensor._node is None and tensor._backend is not None
    tensor._value = value


def _keep(tensor: Tensor, value: Any, backend: Backend) -> None:
    """Store a computed value on its tensor and release the trace that made it."""
    tensor._value, tensor._backend, tensor._node = value, backend, None
