"""The traced graph of a compiled function: what the TensorRT lowering and the eager fallback both read.

:func:`trace_function` calls the function on placeholder tensors (shape and dtype, no value), walks the
trace the frontend recorded, and numbers every value: the inputs first, then the constants (module
parameters and other concrete tensors), then one value per primitive. Dynamic dimensions are found by
tracing again with other sizes (see :mod:`tripy.compiler.symbolic`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tripy.compiler.input_info import DimensionInputInfo, InputInfo
from tripy.compiler.symbolic import SymInt, fit_int, resolve
from tripy.dtypes import DataType
from tripy.errors import SourceLocation, TripyException, raise_error
from tripy.frontend.dimension_size import DimensionSize
from tripy.tensor import Tensor
from tripy.trace.fusions import ALL_REWRITES
from tripy.trace.node import topological_order
from tripy.trace.primitives import Input, Primitive
from tripy.trace.rewrite import Step, plan


@dataclass
class Op:
    """One primitive of the graph; ``inputs`` and the op's own result are value numbers."""

    prim: Primitive
    inputs: tuple[int, ...]
    shape: tuple[int | SymInt, ...]
    dtype: DataType
    where: SourceLocation | None = None


@dataclass
class Constant:
    """A concrete tensor the function uses (a parameter, a literal)."""

    array: np.ndarray
    dtype: DataType
    #: For a scalar that is a function of the dynamic dimensions (``mean``'s element count): its value.
    sym: SymInt | None = None


@dataclass
class Argument:
    """One input of the compiled function: its name (for messages), how it is passed, and its InputInfo."""

    name: str
    keyword: bool
    info: InputInfo


@dataclass
class Graph:
    """A traced function. Value ``i`` is argument ``i`` for ``i < len(args)``, then constants, then ops."""

    args: list[Argument]
    constants: list[Constant]
    ops: list[Op]
    outputs: list[int]
    #: How the function returned its outputs: "tensor", "tuple" or "list".
    output_kind: str
    #: For each symbol (dynamic dimension), the (argument, axis) pairs bound to it; they are equal at run time.
    symbols: list[tuple[tuple[int, int], ...]] = field(default_factory=list)
    #: Donated arguments: (output position, argument index) pairs; that output may take that argument's memory.
    aliases: list[tuple[int, int]] = field(default_factory=list)

    @property
    def first_op_value(self) -> int:
        return len(self.args) + len(self.constants)

    def dtype_of(self, value: int):
        """The data type of value ``value`` (an argument, a constant or an op's result)."""
        if value < len(self.args):
            return self.args[value].info.dtype
        if value < self.first_op_value:
            return self.constants[value - len(self.args)].dtype
        return self.ops[value - self.first_op_value].dtype

    def symbol_values(self, shapes: Sequence[Sequence[int]]) -> list[int]:
        """The size of each symbol for actual argument shapes."""
        return [shapes[arg][axis] for (arg, axis), *_ in self.symbols]

    def fingerprint(self) -> str:
        """A digest of everything that determines the compiled engine (ops, attributes, constants, inputs)."""
        h = hashlib.sha256()
        for arg in self.args:
            h.update(repr((arg.name, arg.keyword, arg.info.ranges, arg.info.dtype.name)).encode())
        for const in self.constants:
            h.update(repr((const.array.shape, const.dtype.name, const.sym)).encode())
            h.update(const.array.tobytes())
        for op in self.ops:
            h.update(repr((op.prim, op.inputs, op.shape, op.dtype.name)).encode())
        h.update(repr((self.outputs, self.symbols, self.aliases)).encode())
        return h.hexdigest()

    def constant_tensors(self) -> list[Any]:
        """The constants as concrete tensors on the current backend (None for those made per call)."""
        return [Tensor(c.array, dtype=c.dtype) if c.sym is None else None for c in self.constants]

    def to_tensors(self, inputs: Sequence[Any], constants: Sequence[Any] | None = None) -> list[Any]:
        """The outputs as unevaluated tensors over ``inputs`` (concrete tensors): the fallback path.

        Evaluating them runs exactly the primitives that calling the function eagerly would run.
        ``constants`` (from :meth:`constant_tensors`) saves moving the constants to the backend again.
        """
        dims = self.symbol_values([t.shape for t in inputs])
        values: list[Any] = list(inputs)
        constants = self.constant_tensors() if constants is None else constants
        for const, tensor in zip(self.constants, constants):
            if const.sym is not None:
                value = np.full(const.array.shape, const.sym.evaluate(dims), const.dtype.numpy)
                tensor = Tensor(value, dtype=const.dtype)
            values.append(tensor)
        for op in self.ops:
            args = tuple(values[i] for i in op.inputs)
            shape = tuple(resolve(op.shape, dims))
            prim = resolve_primitive(op.prim, dims)
            out = Tensor.from_primitive(prim, args, op.where)
            assert out.shape == shape, (prim, out.shape, shape)
            values.append(out)
        return [values[i] for i in self.outputs]


# -- tracing ---------------------------------------------------------------------------------------------
@dataclass
class _RawTrace:
    constants: list[Constant]
    ops: list[Op]
    outputs: list[int]
    output_kind: str


def resolve_primitive(prim: Primitive, dims: Sequence[int]) -> Primitive:
    """``prim`` with every :class:`SymInt` in its fields evaluated for dimension sizes ``dims``."""
    changes = {f.name: resolve(getattr(prim, f.name), dims) for f in dataclasses.fields(prim)}
    return dataclasses.replace(prim, **changes)


def _placeholder(shape: tuple[int, ...], dtype: DataType, index: int, name: str) -> Tensor:
    return Tensor.from_primitive(Input(index, name, tuple(shape), dtype), ())


def _trace_once(
    func: Callable, args: list[Argument], shapes: list[tuple[int, ...]], known: dict[int, tuple[Any, Constant]]
) -> _RawTrace:
    """One trace. ``known`` maps concrete tensors seen by earlier traces (held, so ids stay unique) to
    their constants, so parameters are copied to the host once."""
    placeholders: list[Tensor] = [
        DimensionSize(s[0]) if isinstance(a.info, DimensionInputInfo) else _placeholder(s, a.info.dtype, i, a.name)
        for i, (a, s) in enumerate(zip(args, shapes))
    ]
    positional = [p for p, a in zip(placeholders, args) if not a.keyword]
    keywords = {a.name: p for p, a in zip(placeholders, args) if a.keyword}
    result = func(*positional, **keywords)

    if isinstance(result, Tensor):
        kind, outputs = "tensor", [result]
    elif isinstance(result, (tuple, list)) and result and all(isinstance(r, Tensor) for r in result):
        kind, outputs = type(result).__name__, list(result)
    else:
        raise_error(
            f"tp.compile: the function must return a tensor or a tuple/list of tensors, not {type(result).__name__}."
        )

    # Each tensor becomes ("input" | "constant" | "op", index); numbers are final once all are counted.
    # A size argument (DimensionInputInfo) is a concrete DimensionSize in each trace: used as an operand, it is a
    # constant that follows its symbol; the argument's value number carries the size in its shape at run time.
    refs: dict[int, tuple[str, int]] = {
        id(p): ("input", i) for i, p in enumerate(placeholders) if not isinstance(p, DimensionSize)
    }
    constants: list[Constant] = []

    def ref(t: Tensor) -> tuple[str, int]:
        if id(t) not in refs:  # a concrete tensor: the topological order has already placed every op
            refs[id(t)] = ("constant", len(constants))
            if id(t) not in known:
                known[id(t)] = (t, Constant(t.numpy(), t.dtype))
            constants.append(known[id(t)][1])
        return refs[id(t)]

    steps: list[Step] = []
    for step in plan(topological_order(outputs), outputs, ALL_REWRITES):
        if isinstance(step.prim, Input):
            if id(step.tensor) not in refs:
                raise_error("tp.compile: the function uses a placeholder input of another compiled function.")
            continue
        for i in step.inputs:
            ref(i)
        refs[id(step.tensor)] = ("op", len(steps))
        steps.append(step)
    for o in outputs:
        ref(o)

    offsets = {"input": 0, "constant": len(args), "op": len(args) + len(constants)}

    def value(t) -> int:
        kind, index = refs[id(t)]
        return offsets[kind] + index

    ops = [
        Op(
            step.prim,
            tuple(value(i) for i in step.inputs),
            tuple(step.tensor.shape),
            step.tensor.dtype,
            step.tensor.where,
        )
        for step in steps
    ]
    outputs_final = [value(o) for o in outputs]
    return _RawTrace(constants, ops, outputs_final, kind)


def _trace_or_explain(
    func: Callable, args: list[Argument], shapes: list[tuple[int, ...]], known: dict[int, tuple[Any, Constant]]
) -> _RawTrace:
    try:
        return _trace_once(func, args, shapes, known)
    except TripyException as exc:
        if "of a traced function has no value" in str(exc):
            raise_error(
                "tp.compile: the function needs the value of an input while it is traced (it printed a tensor "
                "made from an input, or called eval()/numpy()/tolist()/bool() on one). A compiled function "
                "may only apply tensor operations to its inputs."
            )
        raise


def _trace_sizes(rng: tuple[int, int, int]) -> tuple[int, int, int]:
    """Three distinct sizes to trace a dynamic dimension with: the base (``opt``), a probe and a check.

    Sizes stay inside ``[min, max]`` where the range allows (the function may reject others) and are at
    least 2, so that no traced dimension looks like a broadcast dimension of size 1.
    """
    lo, opt, hi = rng
    base = max(opt, 2)
    preferred = (2 * base, 3 * base, hi, hi - 1, base + 1, base - 1, max(lo, 2), max(lo, 2) + 1)
    inside = [c for c in dict.fromkeys(preferred) if max(lo, 2) <= c <= hi and c != base]
    outside = [c for c in (2 * base, 3 * base, 4 * base) if c not in inside]
    probe, check = (inside + outside)[:2]
    return base, probe, check


def trace_function(func: Callable, args: list[Argument]) -> Graph:
    """Trace ``func`` on placeholders for ``args`` and return its graph, dynamic dimensions symbolic.

    With dynamic dimensions the function is traced several times (once more per dimension, and once
    to check), each time with other sizes; how the traces differ tells how each int depends on them.
    """
    dynamic = [(a, axis) for a, arg in enumerate(args) for axis in arg.info.dynamic_axes]
    # Dimensions of one tp.NamedDimension name are one symbol from the start.
    named: dict[object, list[tuple[int, int]]] = {}
    for a, axis in dynamic:
        named.setdefault(args[a].info.dimension_names.get(axis) or (a, axis), []).append((a, axis))
    groups: list[tuple[tuple[int, int], ...]] = [tuple(v) for v in named.values()]

    def shapes_for(sizes: Sequence[int]) -> list[tuple[int, ...]]:
        shapes = [list(arg.info.opt) for arg in args]
        for group, size in zip(groups, sizes):
            for a, axis in group:
                shapes[a][axis] = size
        return [tuple(s) for s in shapes]

    known: dict[int, tuple[Any, Constant]] = {}

    def sizes(which: int) -> list[int]:
        return [_trace_sizes(args[g[0][0]].info.ranges[g[0][1]])[which] for g in groups]

    base = _trace_or_explain(func, args, shapes_for(sizes(0)), known)
    if not groups:
        return Graph(args, base.constants, base.ops, base.outputs, base.output_kind, [])

    for attempt in range(2):
        try:
            probes = []
            for s in range(len(groups)):
                probe_sizes = [p if i == s else b for i, (b, p) in enumerate(zip(sizes(0), sizes(1)))]
                probes.append(_trace_or_explain(func, args, shapes_for(probe_sizes), known))
            check = _trace_or_explain(func, args, shapes_for(sizes(2)), known)
            break
        except TripyException:
            if attempt == 1:
                raise
            # Dynamic dimensions that must be equal (e.g. two inputs added together) cannot vary alone:
            # unnamed dimensions with the same (min, opt, max) are taken to be one dimension (named ones keep
            # their name's group: differently named dimensions stay apart).
            merged: dict[object, list[tuple[int, int]]] = {}
            for a, axis in dynamic:
                key = args[a].info.dimension_names.get(axis) or args[a].info.ranges[axis]
                merged.setdefault(key, []).append((a, axis))
            if len(merged) == len(groups):
                raise
            groups = [tuple(v) for v in merged.values()]
    return _symbolize(args, base, probes, check, (sizes(0), sizes(1), sizes(2)), groups)


def _structure_error(what: str, op: Op | None = None) -> None:
    where = [("The operation was made here", op.where)] if op is not None else None
    raise_error(
        f"tp.compile: {what} depends on the size of a dynamic dimension in a way a compiled function cannot "
        "express (traced again with other sizes, the function made a different graph).",
        where,
    )


def _fit_scalar(const: Constant, others: list[Constant], sizes, check_sizes: list[int]) -> SymInt:
    """A scalar constant (shape () or all 1s) whose value follows the dynamic dimensions (a count of
    elements): as a SymInt."""
    what = "a constant tensor (made from a Python value or NumPy array)"
    values = [c.array for c in [const, *others]]
    shape = const.array.shape  # () or (1, ..., 1): a scalar shaped to broadcast
    if any(c.dtype != const.dtype or c.array.shape != shape for c in others) or const.array.size != 1:
        _structure_error(what)
    numbers = [float(v.reshape(-1)[0]) for v in values]
    if not all(n.is_integer() for n in numbers):
        _structure_error(what)
    fitted = fit_int(int(numbers[0]), [int(n) for n in numbers[1:-1]], *sizes)
    if not isinstance(fitted, SymInt) or fitted.evaluate(check_sizes) != int(numbers[-1]):
        _structure_error(what)
        raise AssertionError from None  # unreachable: _structure_error raises
    return fitted


def _symbolize(
    args,
    base: _RawTrace,
    probes: list[_RawTrace],
    check: _RawTrace,
    traced_sizes: tuple[list[int], list[int], list[int]],
    groups,
) -> Graph:
    traces = [base, *probes, check]
    if any(len(t.ops) != len(base.ops) or len(t.constants) != len(base.constants) for t in traces):
        _structure_error("the number of operations")
    if any(t.outputs != base.outputs for t in traces):
        _structure_error("the outputs")
    base_sizes, probe_sizes, check_sizes = traced_sizes
    sizes = (base_sizes, probe_sizes)
    constants = []
    for i, const in enumerate(base.constants):
        others = [t.constants[i] for t in traces[1:]]
        if all(o is const or (o.dtype == const.dtype and o.array.tobytes() == const.array.tobytes()) for o in others):
            constants.append(const)
            continue
        constants.append(Constant(const.array, const.dtype, _fit_scalar(const, others, sizes, check_sizes)))

    def fit(values: list[Any], op: Op) -> Any:
        first = values[0]
        if isinstance(first, bool) or not isinstance(first, (int, tuple, list, dict)):
            if any(v != first for v in values[1:]):
                _structure_error(f"an attribute of {type(op.prim).__name__}", op)
            return first
        if isinstance(first, int):
            fitted = fit_int(first, values[1:-1], *sizes)
            if fitted is None:
                _structure_error(f"an integer attribute of {type(op.prim).__name__}", op)
            predicted = fitted.evaluate(check_sizes) if isinstance(fitted, SymInt) else fitted
            if predicted != values[-1]:
                _structure_error(f"an integer attribute of {type(op.prim).__name__}", op)
            return fitted
        if isinstance(first, dict):
            if any(not isinstance(v, dict) or v.keys() != first.keys() for v in values):
                _structure_error(f"the attributes of {type(op.prim).__name__}", op)
            return {k: fit([v[k] for v in values], op) for k in first}
        if any(type(v) is not type(first) or len(v) != len(first) for v in values):
            _structure_error(f"an attribute of {type(op.prim).__name__}", op)
        return type(first)(fit([v[i] for v in values], op) for i in range(len(first)))

    ops: list[Op] = []
    for i, op in enumerate(base.ops):
        same = [t.ops[i] for t in traces[1:]]
        if any(type(o.prim) is not type(op.prim) or o.inputs != op.inputs or o.dtype != op.dtype for o in same):
            _structure_error("the sequence of operations", op)
        fields = {f.name: fit([getattr(p.prim, f.name) for p in (op, *same)], op) for f in dataclasses.fields(op.prim)}
        shape = fit([op.shape, *(o.shape for o in same)], op)
        ops.append(Op(dataclasses.replace(op.prim, **fields), op.inputs, shape, op.dtype, op.where))
    return Graph(args, constants, ops, base.outputs, base.output_kind, list(groups))
