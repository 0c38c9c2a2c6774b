"""The one place where primitives become TensorRT layers.

:class:`NetworkLowering` walks a :class:`tripy.compiler.graph.Graph` and adds, for each primitive, the
layers of a strongly typed TensorRT network (so every layer's precision is the one the trace says).
``quantize`` and ``dequantize`` become IQuantizeLayer and IDequantizeLayer (per-tensor, per-channel with
an axis, block-wise with a 2-D scale); dynamic dimensions become an optimization profile and shape
tensors. Work on constants alone (a weight quantized, a mask made from ``iota``) is done once here, with
the NumPy backend, so weights reach the engine already quantized, followed by their dequantize layer.

The layers follow the NumPy backend's semantics where TensorRT lets them: quantize and dequantize
compute in float32 (a float16 input is cast first, a float16 result cast after), ``ne``/``le``/``ge``
and ``mod`` are composed so NaNs and signs behave as in NumPy, negative ``gather`` indices count from
the end. The tests run each lowered network layer by layer with NumPy, as TensorRT documents its
layers, against eager tripy. Not checked against a running engine (that needs a GPU TensorRT-RTX runs
on): how TensorRT's kernels round float-to-int casts and pick among tied ``argmax`` candidates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import ModuleType
from typing import Any

import numpy as np

from tripy import dtypes
from tripy.backend.base import fused_classes
from tripy.backend.numpy.kernels import KERNELS as NUMPY_KERNELS
from tripy.backend.numpy.kernels import full_array
from tripy.compiler.graph import Graph, Op
from tripy.compiler.symbolic import SymInt, is_symbolic
from tripy.dtypes import DataType
from tripy.errors import TripyException, raise_error
from tripy.trace.primitives import (
    ALL_PRIMITIVES,
    Argmax,
    Binary,
    BinaryOp,
    Cast,
    Concat,
    Dequantize,
    Expand,
    Full,
    Fused,
    Gather,
    Input,
    Int8Linear,
    Iota,
    Matmul,
    Permute,
    Primitive,
    Quantize,
    Reduce,
    ReduceOp,
    Reshape,
    Slice,
    TensorType,
    Unary,
    UnaryOp,
    Where,
)

Value = Any  # an ITensor, or an np.ndarray known at build time


def collecting_logger(trt: ModuleType):
    """A TensorRT logger that keeps messages (to explain failures) instead of printing them.

    A subclass of ``trt.ILogger`` of whichever TensorRT module is in use, hence made by a function.
    """

    class CollectingLogger(trt.ILogger):  # type: ignore[name-defined]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.messages: list[tuple[str, str]] = []

        def log(self, severity, msg) -> None:
            self.messages.append((str(severity).rsplit(".", 1)[-1], msg))

        def errors(self) -> list[str]:
            return [m for s, m in self.messages if s in ("ERROR", "INTERNAL_ERROR")]

    return CollectingLogger()


def trt_dtype(trt: ModuleType, dtype: DataType):
    return {
        "float32": trt.float32,
        "float16": trt.float16,
        "bfloat16": trt.bfloat16,
        "float8": trt.fp8,
        "int4": trt.int4,
        "int8": trt.int8,
        "int32": trt.int32,
        "int64": trt.int64,
        "bool": trt.bool,
    }[dtype.name]


@dataclass
class LoweredNetwork:
    """A network ready to build, with what building it needs."""

    trt: ModuleType
    builder: Any
    network: Any
    config: Any
    logger: Any
    #: Input name -> (min, opt, max) shapes, for inputs with dynamic dimensions.
    profile: dict[str, tuple[tuple[int, ...], ...]]
    #: Host buffers of constants; TensorRT reads them when it builds, so they must outlive the build.
    keep_alive: list[Any] = field(default_factory=list)
    #: Each constant layer's name -> its value (as a NumPy array of the tripy type), for inspection.
    constant_values: dict[str, np.ndarray] = field(default_factory=dict)


_UNARY = {
    UnaryOp.NEG: "NEG",
    UnaryOp.EXP: "EXP",
    UnaryOp.LOG: "LOG",
    UnaryOp.SQRT: "SQRT",
    UnaryOp.SIN: "SIN",
    UnaryOp.COS: "COS",
    UnaryOp.ABS: "ABS",
    UnaryOp.NOT: "NOT",
    UnaryOp.ERF: "ERF",
}
_BINARY = {
    BinaryOp.ADD: "SUM",
    BinaryOp.SUB: "SUB",
    BinaryOp.MUL: "PROD",
    BinaryOp.DIV: "DIV",
    BinaryOp.FLOOR_DIV: "FLOOR_DIV",
    BinaryOp.POW: "POW",
    BinaryOp.MAX: "MAX",
    BinaryOp.MIN: "MIN",
    BinaryOp.AND: "AND",
    BinaryOp.OR: "OR",
    BinaryOp.EQ: "EQUAL",
    BinaryOp.LT: "LESS",
    BinaryOp.GT: "GREATER",
}
_REDUCE = {ReduceOp.SUM: "SUM", ReduceOp.PROD: "PROD", ReduceOp.MAX: "MAX", ReduceOp.MIN: "MIN"}
#: Primitives kept as layers even when their inputs are constants: a weight is quantized at build time and
#: reaches the engine in its quantized type, followed by its dequantize layer (TensorRT's explicit form).
_NO_FOLD: frozenset[type[Primitive]] = frozenset({Dequantize, Int8Linear})
#: Primitives that only rearrange elements; on constants of ``_BIG_CONSTANT`` elements or more they stay
#: layers (TensorRT folds them itself), which spares a host copy of big weights at build time.
_MOVES: frozenset[type[Primitive]] = frozenset({Permute, Reshape, Expand, Slice})
_BIG_CONSTANT = 1 << 20


class NetworkLowering:
    """Adds the layers of each primitive of a graph to one TensorRT network."""

    def __init__(self, trt: ModuleType, graph: Graph) -> None:
        self.trt = trt
        self.graph = graph
        self.logger = collecting_logger(trt)
        self.builder = trt.Builder(self.logger)
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
        self.network = self.builder.create_network(flags)
        self.keep_alive: list[Any] = []
        self.constant_values: dict[str, np.ndarray] = {}
        self._shape_of_arg: dict[int, Any] = {}
        self._sym_cache: dict[Any, Any] = {}
        #: id(array) -> (array, its constant layer's output); the array is held so that its id stays unique.
        self._materialized: dict[int, tuple[np.ndarray, Any]] = {}
        self._op: Op | None = None
        self._op_index = 0
        self._layer_count = 0

    # -- entry point -------------------------------------------------------------------------------------
    def lower(self) -> LoweredNetwork:
        trt, graph = self.trt, self.graph
        values: list[Value] = []
        shapes: list[tuple] = []
        profile: dict[str, tuple[tuple[int, ...], ...]] = {}
        for a, arg in enumerate(graph.args):
            dims = tuple(-1 if lo != hi else lo for lo, _, hi in arg.info.ranges)
            values.append(self.network.add_input(arg.name, trt_dtype(trt, arg.info.dtype), dims))
            if arg.info.dynamic_axes:
                profile[arg.name] = (arg.info.min, arg.info.opt, arg.info.max)
            shapes.append(self._arg_shape(a))
        for const in graph.constants:
            if const.sym is None:
                values.append(const.array)
            else:  # a scalar computed from the runtime shapes, e.g. the element count of a mean
                count = self._reshape(self._sym(const.sym), tuple(const.array.shape))
                values.append(self._cast(count, const.dtype))
            shapes.append(tuple(const.array.shape))
        for index, op in enumerate(graph.ops):
            self._op, self._op_index = op, index
            ins = [(values[i], self.graph.dtype_of(i), shapes[i]) for i in op.inputs]
            values.append(self._lower_op(op.prim, ins))
            shapes.append(op.shape)
        self._op = None
        seen = set()
        for n, v in enumerate(graph.outputs):
            out = self._as_itensor(values[v], self.graph.dtype_of(v))
            if v < len(graph.args) or v in seen:
                out = self._name(self.network.add_identity(out), "output").get_output(0)
            seen.add(v)
            out.name = f"output_{n}"
            self.network.mark_output(out)
        config = self.builder.create_builder_config()
        if profile:
            prof = self.builder.create_optimization_profile()
            for name, (lo, opt, hi) in profile.items():
                prof.set_shape(name, lo, opt, hi)
            config.add_optimization_profile(prof)
        return LoweredNetwork(
            trt, self.builder, self.network, config, self.logger, profile, self.keep_alive, self.constant_values
        )

    def _lower_op(self, prim: Primitive, ins: list[tuple[Value, DataType, tuple]]) -> Value:
        """The layers (or the build-time constant) computing ``prim`` on ``ins`` ((value, dtype, shape) each)."""
        arrays = [v for v, _, _ in ins]
        if self._folds(prim, arrays):
            return np.asarray(NUMPY_KERNELS[type(prim)](prim, *arrays))
        method = _LOWERINGS.get(type(prim))
        if method is None:
            self._fail(f"TensorRT has no lowering for the primitive {type(prim).__name__}.")
            raise AssertionError from None  # unreachable: _fail raises
        try:
            return getattr(self, method)(ins, prim)
        except TripyException:
            raise
        except Exception as exc:
            self._fail(f"TensorRT could not lower {type(prim).__name__}: {exc}")
            raise AssertionError from None  # unreachable: _fail raises

    # -- helpers -----------------------------------------------------------------------------------------
    def _folds(self, prim: Primitive, ins: list[Value]) -> bool:
        """Whether ``prim`` is computed now, at build time: all its inputs are constants (and not big ones
        that it only rearranges)."""
        if type(prim) in _NO_FOLD or _symbolic(prim) or not all(isinstance(v, np.ndarray) for v in ins):
            return False
        return type(prim) not in _MOVES or ins[0].size < _BIG_CONSTANT

    def _fail(self, message: str) -> None:
        op = self._op
        where = [("The operation was made here", op.where)] if op is not None else None
        raise_error(f"tp.compile: {message}", where)

    def _arg_shape(self, a: int) -> tuple:
        info = self.graph.args[a].info
        shape: list[int | SymInt] = list(info.opt)
        for s, group in enumerate(self.graph.symbols):
            for arg, axis in group:
                if arg == a:
                    shape[axis] = SymInt(Fraction(1), ((s, 1),))
        return tuple(shape)

    def _name(self, layer, what: str):
        """Name ``layer`` after the primitive and the user's line it comes from (shown by engine inspectors)."""
        self._layer_count += 1
        op = self._op
        where = f" {op.where.filename.rsplit('/', 1)[-1]}:{op.where.lineno}" if op and op.where else ""
        prim = f"{type(op.prim).__name__.lower()}#{self._op_index}" if op else "io"
        layer.name = f"{prim} {what}{where} [{self._layer_count}]"
        return layer

    def _constant(self, array: np.ndarray, dtype: DataType):
        """An IConstantLayer output holding ``array`` (int4 is packed two to a byte, as TensorRT stores it)."""
        trt = self.trt
        array = np.array(array, dtype=dtype.numpy, order="C")  # keeps rank 0 (ascontiguousarray does not)
        if dtype == dtypes.int4:
            nibbles = (array.reshape(-1).astype(np.int8) & 0xF).astype(np.uint8)
            if nibbles.size % 2:
                nibbles = np.append(nibbles, np.uint8(0))
            packed = nibbles[0::2] | (nibbles[1::2] << 4)
            self.keep_alive.append(packed)
            weights = trt.Weights(trt.int4, packed.ctypes.data, array.size)
        else:  # typed explicitly: the bindings reject NumPy dtypes they do not know (bfloat16, unpickled ones)
            self.keep_alive.append(array)
            weights = trt.Weights(trt_dtype(trt, dtype), array.ctypes.data, array.size)
        layer = self._name(self.network.add_constant(array.shape, weights), "constant")
        self.constant_values[layer.name] = array
        return layer.get_output(0)

    def _as_itensor(self, value: Value, dtype: DataType):
        """``value`` as a tensor of the network; a constant becomes one IConstantLayer however often used."""
        if not isinstance(value, np.ndarray):
            return value
        if id(value) not in self._materialized:
            self._materialized[id(value)] = (value, self._constant(value, dtype))
        return self._materialized[id(value)][1]

    def _cast(self, x, dtype: DataType):
        trt = self.trt
        if x.dtype == trt_dtype(trt, dtype):
            return x
        # ICastLayer has no float8/int4; a unit scale makes quantize/dequantize the same conversion.
        if x.dtype in (trt.fp8, trt.int4):
            one = self._constant(np.ones((), np.float32), dtypes.float32)
            x = self._name(self.network.add_dequantize(x, one, trt.float32), "cast (dequantize)").get_output(0)
            return self._cast(x, dtype)
        if dtype == dtypes.float8:
            one = self._constant(np.ones((), np.float32), dtypes.float32)
            x = self._cast(x, dtypes.float32)
            return self._name(self.network.add_quantize(x, one, trt.fp8), "cast (quantize)").get_output(0)
        return self._name(self.network.add_cast(x, trt_dtype(trt, dtype)), f"cast to {dtype}").get_output(0)

    def _int64(self, values: Sequence[int]):
        return self._constant(np.asarray(values, dtype=np.int64), dtypes.int64)

    def _sym(self, sym: SymInt):
        """A 1-element int64 shape tensor computing ``sym`` from the inputs' runtime shapes."""
        if sym in self._sym_cache:
            return self._sym_cache[sym]
        ew = self.trt.ElementWiseOperation
        result = None
        for s, exp in sym.powers:
            arg, axis = self.graph.symbols[s][0]
            if arg not in self._shape_of_arg:
                inp = self.network.get_input(arg)
                self._shape_of_arg[arg] = self._name(self.network.add_shape(inp), "shape").get_output(0)
            dim = self._name(self.network.add_slice(self._shape_of_arg[arg], (axis,), (1,), (1,)), "dim")
            for _ in range(exp):
                d = dim.get_output(0)
                result = d if result is None else self._ew(result, d, ew.PROD)
        if sym.coef.numerator != 1:
            result = self._ew(result, self._int64([sym.coef.numerator]), ew.PROD)
        if sym.coef.denominator != 1:
            result = self._ew(result, self._int64([sym.coef.denominator]), ew.FLOOR_DIV)
        if sym.offset:
            result = self._ew(result, self._int64([sym.offset]), ew.SUM)
        self._sym_cache[sym] = result
        return result

    def _ew(self, a, b, op):
        return self._name(self.network.add_elementwise(a, b, op), str(op).rsplit(".", 1)[-1].lower()).get_output(0)

    def _shape_tensor(self, dims: Sequence[int | SymInt]):
        """``dims`` as a 1-D int64 shape tensor, or a tuple of ints when none is symbolic."""
        if not is_symbolic(tuple(dims)):
            return tuple(int(d) for d in dims)  # type: ignore[arg-type]
        parts = [self._sym(d) if isinstance(d, SymInt) else self._int64([d]) for d in dims]
        layer = self.network.add_concatenation(parts)
        layer.axis = 0
        return self._name(layer, "shape").get_output(0)

    def _reshape(self, x, shape: Sequence[int | SymInt]):
        layer = self.network.add_shuffle(x)
        layer.zero_is_placeholder = False
        target = self._shape_tensor(shape)
        if isinstance(target, tuple):
            layer.reshape_dims = target
        else:
            layer.set_input(1, target)
        return self._name(layer, "reshape").get_output(0)

    def _broadcast(self, x, in_shape: Sequence[int | SymInt], shape: Sequence[int | SymInt]):
        """``x`` expanded to ``shape``: a slice that steps 0 along the dimensions of size 1."""
        strides = tuple(0 if d == 1 and t != 1 else 1 for d, t in zip(in_shape, shape))
        static = tuple(1 if isinstance(t, SymInt) else int(t) for t in shape)
        layer = self.network.add_slice(x, (0,) * len(shape), static, strides)
        target = self._shape_tensor(shape)
        if not isinstance(target, tuple):
            layer.set_input(2, target)
        return self._name(layer, "expand").get_output(0)

    # -- primitives --------------------------------------------------------------------------------------
    # Each takes its inputs as (value, dtype, shape) triples and the primitive's attributes.
    def lower_iota(self, ins, prim: Iota):
        shape, dim, dtype = prim.shape, prim.dim, prim.dtype
        trt = self.trt
        length = shape[dim]
        work = dtypes.float32 if dtype.is_float else dtypes.int64
        layer = self.network.add_fill((1,), trt.FillOperation.LINSPACE, trt_dtype(trt, work))
        layer.set_input(0, self._shape_tensor((length,)) if isinstance(length, SymInt) else self._int64([length]))
        layer.set_input(1, self._constant(np.zeros((), work.numpy), work))
        layer.set_input(2, self._constant(np.ones((1,), work.numpy), work))
        line = self._name(layer, "iota").get_output(0)
        view = tuple(length if i == dim else 1 for i in range(len(shape)))
        out = self._broadcast(self._reshape(line, view), view, shape)
        return self._cast(out, dtype)

    def lower_full(self, ins, prim: Full):
        scalar = self._constant(full_array((), prim.value, prim.dtype), prim.dtype)
        ones = (1,) * len(prim.shape)
        return self._broadcast(self._reshape(scalar, ones), ones, prim.shape)

    def lower_unary(self, ins, prim: Unary):
        op = prim.op
        ((x, dtype, _),) = ins
        x = self._as_itensor(x, dtype)
        trt, net = self.trt, self.network
        if op is UnaryOp.TANH:
            return self._name(net.add_activation(x, trt.ActivationType.TANH), op.value).get_output(0)
        if op is UnaryOp.RSQRT:
            root = self._name(net.add_unary(x, trt.UnaryOperation.SQRT), "sqrt").get_output(0)
            return self._name(net.add_unary(root, trt.UnaryOperation.RECIP), "recip").get_output(0)
        return self._name(net.add_unary(x, getattr(trt.UnaryOperation, _UNARY[op])), op.value).get_output(0)

    def lower_binary(self, ins, prim: Binary):
        op = prim.op
        (a, dtype, _), (b, _, _) = ins
        a, b = self._as_itensor(a, dtype), self._as_itensor(b, dtype)
        ew, net = self.trt.ElementWiseOperation, self.network
        if dtype == dtypes.bool and op in (BinaryOp.EQ, BinaryOp.NE):
            a, b = self._cast(a, dtypes.int32), self._cast(b, dtypes.int32)
        if op in _BINARY:
            return self._ew(a, b, getattr(ew, _BINARY[op]))
        if op is BinaryOp.NE:
            eq = self._ew(a, b, ew.EQUAL)
            return self._name(net.add_unary(eq, self.trt.UnaryOperation.NOT), "not").get_output(0)
        if op in (BinaryOp.LE, BinaryOp.GE):
            strict = self._ew(a, b, ew.LESS if op is BinaryOp.LE else ew.GREATER)
            return self._ew(strict, self._ew(a, b, ew.EQUAL), ew.OR)
        if op is BinaryOp.MOD:  # a - floor(a / b) * b, the sign of the divisor as in NumPy
            quotient = self._ew(a, b, ew.FLOOR_DIV)
            return self._ew(a, self._ew(quotient, b, ew.PROD), ew.SUB)
        raise ValueError(f"unknown binary op {op!r}")

    def lower_where(self, ins, prim: Where):
        (c, cd, _), (a, ad, _), (b, bd, _) = ins
        layer = self.network.add_select(self._as_itensor(c, cd), self._as_itensor(a, ad), self._as_itensor(b, bd))
        return self._name(layer, "select").get_output(0)

    def lower_reduce(self, ins, prim: Reduce):
        ((x, dtype, _),) = ins
        mask = sum(1 << a for a in prim.axes)
        layer = self.network.add_reduce(
            self._as_itensor(x, dtype), getattr(self.trt.ReduceOperation, _REDUCE[prim.op]), mask, prim.keepdim
        )
        return self._name(layer, f"reduce {prim.op.value}").get_output(0)

    def lower_argmax(self, ins, prim: Argmax):
        axis, keepdim = prim.axis, prim.keepdim
        ((x, dtype, shape),) = ins
        layer = self.network.add_topk(self._as_itensor(x, dtype), self.trt.TopKOperation.MAX, 1, 1 << axis)
        indices = self._cast(self._name(layer, "argmax").get_output(1), dtypes.int32)
        if keepdim:
            return indices
        return self._reshape(indices, tuple(d for i, d in enumerate(shape) if i != axis))

    def lower_matmul(self, ins, prim: Matmul):
        (a, dtype, _), (b, _, _) = ins
        none = self.trt.MatrixOperation.NONE
        layer = self.network.add_matrix_multiply(self._as_itensor(a, dtype), none, self._as_itensor(b, dtype), none)
        return self._name(layer, "matmul").get_output(0)

    def lower_reshape(self, ins, prim: Reshape):
        ((x, dtype, _),) = ins
        return self._reshape(self._as_itensor(x, dtype), prim.shape)

    def lower_permute(self, ins, prim: Permute):
        ((x, dtype, _),) = ins
        layer = self.network.add_shuffle(self._as_itensor(x, dtype))
        layer.first_transpose = tuple(prim.perm)
        return self._name(layer, "permute").get_output(0)

    def lower_expand(self, ins, prim: Expand):
        ((x, dtype, in_shape),) = ins
        return self._broadcast(self._as_itensor(x, dtype), in_shape, prim.shape)

    def lower_slice(self, ins, prim: Slice):
        starts, sizes, steps = prim.starts, prim.sizes, prim.steps
        ((x, dtype, _),) = ins
        out_shape = tuple(sizes)
        static = tuple(1 if isinstance(d, SymInt) else int(d) for d in out_shape)
        static_starts = tuple(0 if isinstance(s, SymInt) else int(s) for s in starts)
        layer = self.network.add_slice(self._as_itensor(x, dtype), static_starts, static, tuple(steps))
        if is_symbolic(tuple(starts)):
            layer.set_input(1, self._shape_tensor(starts))
        if is_symbolic(tuple(out_shape)):
            layer.set_input(2, self._shape_tensor(out_shape))
        return self._name(layer, "slice").get_output(0)

    def lower_concat(self, ins, prim: Concat):
        layer = self.network.add_concatenation([self._as_itensor(v, d) for v, d, _ in ins])
        layer.axis = prim.axis
        return self._name(layer, "concat").get_output(0)

    def lower_gather(self, ins, prim: Gather):
        axis = prim.axis
        (x, dtype, shape), (idx, idx_dtype, _) = ins
        x = self._as_itensor(x, dtype)
        # TensorRT gathers indices in [0, n); negative ones count from the end, as in numpy.take.
        if isinstance(idx, np.ndarray) and not isinstance(shape[axis], SymInt):
            indices = self._as_itensor(np.where(idx < 0, idx + shape[axis], idx).astype(idx.dtype), idx_dtype)
        else:
            indices = self._as_itensor(idx, idx_dtype)
            ew = self.trt.ElementWiseOperation
            full = self._name(self.network.add_shape(x), "shape").get_output(0)
            size = self._name(self.network.add_slice(full, (axis,), (1,), (1,)), "dim").get_output(0)
            size = self._cast(self._reshape(size, (1,) * len(idx.shape)), idx_dtype)
            zero = self._constant(np.zeros((1,) * len(idx.shape), idx_dtype.numpy), idx_dtype)
            negative = self._ew(indices, zero, ew.LESS)
            wrapped = self._ew(indices, size, ew.SUM)
            indices = self._name(self.network.add_select(negative, wrapped, indices), "wrap").get_output(0)
        layer = self.network.add_gather(x, indices, axis)
        return self._name(layer, "gather").get_output(0)

    def lower_cast(self, ins, prim: Cast):
        ((x, xd, _),) = ins
        return self._cast(self._as_itensor(x, xd), prim.dtype)

    def _scale(self, scale, dtype: DataType):
        if isinstance(scale, np.ndarray):
            return self._constant(scale.astype(np.float32), dtypes.float32)
        return self._cast(scale, dtypes.float32)

    def lower_quantize(self, ins, prim: Quantize):
        dtype, axis = prim.dtype, prim.axis
        (x, xd, _), (scale, sd, _) = ins
        x = self._cast(self._as_itensor(x, xd), dtypes.float32)
        layer = self.network.add_quantize(x, self._scale(scale, sd), trt_dtype(self.trt, dtype))
        if axis is not None:
            layer.axis = axis
        return self._name(layer, f"quantize {dtype}").get_output(0)

    def lower_dequantize(self, ins, prim: Dequantize):
        (q, qd, _), (scale, sd, _) = ins
        layer = self.network.add_dequantize(self._as_itensor(q, qd), self._scale(scale, sd), self.trt.float32)
        if prim.axis is not None:
            layer.axis = prim.axis
        return self._cast(self._name(layer, f"dequantize {qd}").get_output(0), prim.dtype)

    def lower_fused(self, ins, prim: Fused):
        """A fused primitive as the layers of its steps. For the int8 Linear that is TensorRT's explicit form:
        quantize, dequantize and product layers, which TensorRT's optimizer turns into an int8 GEMM (a
        constant weight is quantized at build time)."""
        op = self._op
        assert op is not None
        values = list(ins)
        for step, inputs in prim.steps([TensorType(shape, dtype) for _, dtype, shape in ins]):
            self._op = dataclasses.replace(op, prim=step)
            args = [values[i] for i in inputs]
            shape, dtype = step.infer([TensorType(shape, dtype) for _, dtype, shape in args])
            values.append((self._lower_op(step, args), dtype, shape))
        self._op = op
        return values[-1][0]

    def lower_input(self, ins, prim: Input):
        raise AssertionError("inputs are the network's inputs, never lowered as operations")


#: The lowering method of every primitive class.
_LOWERINGS: dict[type[Primitive], str] = {
    Input: "lower_input",
    Iota: "lower_iota",
    Full: "lower_full",
    Unary: "lower_unary",
    Binary: "lower_binary",
    Where: "lower_where",
    Cast: "lower_cast",
    Reduce: "lower_reduce",
    Argmax: "lower_argmax",
    Matmul: "lower_matmul",
    Reshape: "lower_reshape",
    Permute: "lower_permute",
    Expand: "lower_expand",
    Slice: "lower_slice",
    Concat: "lower_concat",
    Gather: "lower_gather",
    Quantize: "lower_quantize",
    Dequantize: "lower_dequantize",
    **{cls: "lower_fused" for cls in fused_classes(ALL_PRIMITIVES)},
}


def _symbolic(prim: Primitive) -> bool:
    return any(is_symbolic(getattr(prim, f.name)) for f in dataclasses.fields(prim))


def lower_graph(trt: ModuleType, graph: Graph) -> LoweredNetwork:
    """A strongly typed TensorRT network computing ``graph``, with its builder config and profile."""
    return NetworkLowering(trt, graph).lower()


def describe_network(network) -> list[dict[str, Any]]:
    """Each layer's kind, name, output dtypes and shapes, and the layers (or ``input:NAME``) feeding it.

    Layers are referred to by index. Quantize and dequantize layers also give their ``axis`` (TensorRT's
    per-channel axis; -1 when unset). Tests and tools read this to check where those layers sit.
    """
    import sys

    module = sys.modules[type(network).__module__]
    producers: dict[str, Any] = {}
    for i in range(network.num_inputs):
        producers[network.get_input(i).name] = f"input:{network.get_input(i).name}"
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    for i, layer in enumerate(layers):
        for j in range(layer.num_outputs):
            producers[layer.get_output(j).name] = i
    described = []
    for i, layer in enumerate(layers):
        inputs = [
            None if layer.get_input(j) is None else producers.get(layer.get_input(j).name)
            for j in range(layer.num_inputs)
        ]
        outputs = [layer.get_output(j) for j in range(layer.num_outputs)]
        kind = str(layer.type).rsplit(".", 1)[-1]
        info = {
            "index": i,
            "type": kind,
            "name": layer.name,
            "inputs": inputs,
            "dtypes": [str(t.dtype).rsplit(".", 1)[-1] for t in outputs],
            "shapes": [_static_shape(t) for t in outputs],
        }
        if kind in ("QUANTIZE", "DEQUANTIZE"):
            layer.__class__ = module.IQuantizeLayer if kind == "QUANTIZE" else module.IDequantizeLayer
            info["axis"] = layer.axis
        described.append(info)
    return described


def _static_shape(tensor) -> tuple[int, ...] | None:
    try:
        return tuple(tensor.shape)
    except RuntimeError:  # not known before the build (it depends on shape tensors)
        return None
