"""The primitives of the trace: one frozen dataclass per operation that backends implement.

A primitive's fields are its attributes; :meth:`Primitive.infer` gives the shape and dtype of its result
from those of its inputs. Every public op is composed from these in ``tripy/frontend``, so a backend (a
table keyed by primitive class) and the TensorRT lowering implement only this list. Operands of
:class:`Binary` and :class:`Where` have equal rank and broadcast along size-1 dimensions; :class:`Matmul`
operands have rank >= 2 and equal rank. Shapes and sizes may hold :class:`tripy.compiler.symbolic.SymInt`
while ``tp.compile`` fits dynamic dimensions; everywhere else they are ints.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar

from tripy import dtypes
from tripy.dtypes import DataType

Shape = tuple[Any, ...]  # ints, or SymInts while tp.compile fits dynamic dimensions


class Typed(Protocol):
    """Anything with a shape and a dtype: a tensor, or a :class:`TensorType`."""

    @property
    def shape(self) -> Shape: ...
    @property
    def dtype(self) -> DataType: ...


class TensorType(NamedTuple):
    """The shape and dtype of a value of the trace."""

    shape: Shape
    dtype: DataType


class UnaryOp(enum.Enum):
    """Elementwise functions of one operand."""

    __hash__ = object.__hash__  # members are singletons: identity hashing is right, and fast

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    NEG = "neg"
    EXP = "exp"
    LOG = "log"
    SQRT = "sqrt"
    RSQRT = "rsqrt"
    TANH = "tanh"
    SIN = "sin"
    COS = "cos"
    ABS = "abs"
    NOT = "not"
    ERF = "erf"


class BinaryOp(enum.Enum):
    """Elementwise functions of two operands; the comparisons yield bool."""

    __hash__ = object.__hash__  # members are singletons: identity hashing is right, and fast

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    FLOOR_DIV = "floor_div"
    MOD = "mod"
    POW = "pow"
    MAX = "max"
    MIN = "min"
    AND = "and"
    OR = "or"
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"

    @property
    def is_comparison(self) -> bool:
        return self in _COMPARISONS


_COMPARISONS = frozenset({BinaryOp.EQ, BinaryOp.NE, BinaryOp.LT, BinaryOp.LE, BinaryOp.GT, BinaryOp.GE})


class ReduceOp(enum.Enum):
    """Reductions over some axes."""

    __hash__ = object.__hash__  # members are singletons: identity hashing is right, and fast

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    SUM = "sum"
    PROD = "prod"
    MAX = "max"
    MIN = "min"


def broadcast(shapes: Sequence[Shape]) -> Shape:
    """The shape that equal-rank ``shapes`` broadcast to along their size-1 dimensions."""
    out = list(shapes[0])
    for shape in shapes[1:]:
        for i, d in enumerate(shape):
            if d != 1:
                out[i] = d
    return tuple(out)


P = TypeVar("P", bound="Primitive")
_SHARED: dict[tuple, Primitive] = {}


@dataclass(frozen=True, slots=True)
class Primitive:
    """Base of the primitives. ``arity`` is the number of inputs (None: any number)."""

    arity: ClassVar[int | None] = 1

    @classmethod
    def of(cls: type[P], *fields: Any) -> P:
        """``cls(*fields)``, shared with earlier requests of the same fields (primitives are immutable, and
        the frontend makes the same few over and over)."""
        key = (cls, *fields)
        prim = _SHARED.get(key)
        if prim is None:
            if len(_SHARED) >= 4096:
                _SHARED.clear()
            prim = _SHARED[key] = cls(*fields)
        return prim  # type: ignore[return-value]

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        """The shape and dtype of the result for inputs of these shapes and dtypes (which the frontend checked)."""
        return inputs[0].shape, inputs[0].dtype


# -- sources -------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Input(Primitive):
    """Argument ``index`` of a function traced by ``tp.compile``: it has no value outside the compiled call."""

    arity: ClassVar[int | None] = 0
    index: int
    name: str
    shape: Shape
    dtype: DataType

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return self.shape, self.dtype


@dataclass(frozen=True, slots=True)
class Iota(Primitive):
    """0, 1, 2... along ``dim``, repeated along every other dimension."""

    arity: ClassVar[int | None] = 0
    shape: Shape
    dim: int
    dtype: DataType

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return self.shape, self.dtype


@dataclass(frozen=True, slots=True)
class Full(Primitive):
    """``shape`` filled with ``value``."""

    arity: ClassVar[int | None] = 0
    shape: Shape
    value: float | int | bool
    dtype: DataType

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return self.shape, self.dtype


# -- elementwise ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Unary(Primitive):
    """``op`` applied to each element."""

    op: UnaryOp


@dataclass(frozen=True, slots=True)
class Binary(Primitive):
    """``op`` of two equal-rank operands, broadcast along size-1 dimensions."""

    arity: ClassVar[int | None] = 2
    op: BinaryOp

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        a, b = inputs
        shape = a.shape if a.shape == b.shape else broadcast((a.shape, b.shape))
        return shape, dtypes.bool if self.op.is_comparison else a.dtype


@dataclass(frozen=True, slots=True)
class Where(Primitive):
    """The second input where the (bool) first is true, else the third; all broadcast."""

    arity: ClassVar[int | None] = 3

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return broadcast([t.shape for t in inputs]), inputs[1].dtype


@dataclass(frozen=True, slots=True)
class Cast(Primitive):
    """Conversion to ``dtype``: floats to integers truncate; int8, int4 and float8 saturate."""

    dtype: DataType

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return inputs[0].shape, self.dtype


# -- reductions and products ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reduce(Primitive):
    """``op`` over ``axes`` (sorted, distinct), keeping them as size 1 when ``keepdim``."""

    op: ReduceOp
    axes: tuple[int, ...]
    keepdim: bool

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return _reduced(inputs[0].shape, self.axes, self.keepdim), inputs[0].dtype


@dataclass(frozen=True, slots=True)
class Argmax(Primitive):
    """The index (int32) of the first maximum along ``axis``."""

    axis: int
    keepdim: bool

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return _reduced(inputs[0].shape, (self.axis,), self.keepdim), dtypes.int32


def _reduced(shape: Shape, axes: tuple[int, ...], keepdim: bool) -> Shape:
    if keepdim:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


@dataclass(frozen=True, slots=True)
class Matmul(Primitive):
    """The matrix product of the last two dimensions; the leading (batch) dimensions broadcast."""

    arity: ClassVar[int | None] = 2

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        a, b = inputs
        batch = broadcast((a.shape[:-2], b.shape[:-2]))
        return (*batch, a.shape[-2], b.shape[-1]), a.dtype


# -- movement ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reshape(Primitive):
    """The same elements in ``shape`` (row-major order)."""

    shape: Shape

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return self.shape, inputs[0].dtype


@dataclass(frozen=True, slots=True)
class Permute(Primitive):
    """Output dimension i is input dimension ``perm[i]``."""

    perm: tuple[int, ...]

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        shape = inputs[0].shape
        return tuple(shape[p] for p in self.perm), inputs[0].dtype


@dataclass(frozen=True, slots=True)
class Expand(Primitive):
    """The input (of equal rank) broadcast to ``shape`` along its size-1 dimensions."""

    shape: Shape

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return self.shape, inputs[0].dtype


@dataclass(frozen=True, slots=True)
class Slice(Primitive):
    """``sizes[d]`` elements along each dimension d, from ``starts[d]`` every ``steps[d]`` (may be < 0)."""

    starts: Shape
    sizes: Shape
    steps: tuple[int, ...]

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return tuple(self.sizes), inputs[0].dtype


@dataclass(frozen=True, slots=True)
class Concat(Primitive):
    """The inputs joined along ``axis``."""

    arity: ClassVar[int | None] = None
    axis: int

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        first = inputs[0].shape
        size = sum(t.shape[self.axis] for t in inputs)
        return (*first[: self.axis], size, *first[self.axis + 1 :]), inputs[0].dtype


@dataclass(frozen=True, slots=True)
class Gather(Primitive):
    """The slices of the first input along ``axis`` picked by the second (integer indices; < 0 from the end)."""

    arity: ClassVar[int | None] = 2
    axis: int

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        shape, index = inputs[0].shape, inputs[1].shape
        return (*shape[: self.axis], *index, *shape[self.axis + 1 :]), inputs[0].dtype


# -- quantization --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Quantize(Primitive):
    """``clamp(round_half_to_even(x / scale))`` in ``dtype`` (float8 saturates to +-448, no rounding step).

    ``axis`` None with a scalar scale is per-tensor, with a 2-D scale block-wise (each scale covers a block
    of ``x.shape[d] // scale.shape[d]`` elements along every dimension d); an int is per-channel.
    """

    arity: ClassVar[int | None] = 2
    dtype: DataType
    axis: int | None

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return inputs[0].shape, self.dtype


@dataclass(frozen=True, slots=True)
class Dequantize(Primitive):
    """``q * scale`` computed in float32 and returned as ``dtype``; scale layouts as in :class:`Quantize`."""

    arity: ClassVar[int | None] = 2
    dtype: DataType
    axis: int | None

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return inputs[0].shape, self.dtype


# -- fused ---------------------------------------------------------------------------------------------------
#: A fused primitive's meaning: each step a primitive and the numbers of its inputs. Values are numbered
#: ``0 .. len(inputs) - 1`` for the fused primitive's inputs, then one per step; the last step's is its result.
Steps = list[tuple["Primitive", tuple[int, ...]]]


class _Steps:
    """Builds a :data:`Steps` list: ``add(prim, *inputs)`` returns the new value's number."""

    def __init__(self, n_inputs: int) -> None:
        self.n_inputs = n_inputs
        self.steps: Steps = []

    def add(self, prim: Primitive, *inputs: int) -> int:
        self.steps.append((prim, inputs))
        return self.n_inputs + len(self.steps) - 1


class Fused(Primitive):
    """A primitive that stands for several: :meth:`steps` gives its meaning in the other primitives.

    A backend may run it with a kernel of its own (which must compute what the steps compute); one without
    runs the steps (:func:`tripy.backend.base.fused_kernel`), and the TensorRT lowering lowers them.
    """

    def steps(self, inputs: Sequence[Typed]) -> Steps:
        """The unfused primitives this one stands for, for inputs of these types."""
        raise NotImplementedError


#: ``sqrt(2 / pi)``, the tanh GELU's constant.
GELU_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True, slots=True)
class Gelu(Fused):
    """GPT-2's tanh GELU, ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``, each operation in
    float32 (the input cast to it first) and the result rounded once to the input's dtype: ``tp.gelu``.
    On the GPU, one kernel; a Linear it follows takes it into its epilogue (``gelu`` of the Linears)."""

    arity: ClassVar[int | None] = 1

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return inputs[0].shape, inputs[0].dtype

    def steps(self, inputs: Sequence[Typed]) -> Steps:
        """The cast, the float32 products and sums in the formula's order (left to right), the cast back."""
        x = inputs[0]
        f32, ones = dtypes.float32, (1,) * len(x.shape)
        s = _Steps(1)

        def times(value: float, v: int) -> int:
            return s.add(Binary(BinaryOp.MUL), s.add(Full(ones, value, f32)), v)

        def mul(a: int, b: int) -> int:
            return s.add(Binary(BinaryOp.MUL), a, b)

        w = 0 if x.dtype == f32 else s.add(Cast(f32), 0)
        cube = mul(mul(times(0.044715, w), w), w)
        inner = times(GELU_SQRT_2_OVER_PI, s.add(Binary(BinaryOp.ADD), w, cube))
        one_plus = s.add(Binary(BinaryOp.ADD), s.add(Full(ones, 1.0, f32)), s.add(Unary(UnaryOp.TANH), inner))
        out = mul(times(0.5, w), one_plus)
        if x.dtype != f32:
            s.add(Cast(x.dtype), out)
        return s.steps


def _linear_steps(
    s: _Steps,
    x: int,
    weight: int,
    rank: int,
    nk: tuple[Any, Any],
    weight_kn: bool,
    bias: int | None,
    residual: int | None,
    gelu: bool = False,
) -> None:
    """The steps a Linear ends with: the weight permuted (unless (K, N)) and reshaped to ``x``'s rank, the
    product, the bias reshaped and added, the GELU, and the residual added last (``residual + linear``)."""
    n, k = nk
    b = weight if weight_kn else s.add(Permute((1, 0)), weight)
    if rank > 2:
        b = s.add(Reshape((1,) * (rank - 2) + (k, n)), b)
    out = s.add(Matmul(), x, b)
    if bias is not None:
        out = s.add(Binary(BinaryOp.ADD), out, s.add(Reshape((1,) * (rank - 1) + (n,)), bias))
    if gelu:
        out = s.add(Gelu(), out)
    if residual is not None:
        s.add(Binary(BinaryOp.ADD), residual, out)


@dataclass(frozen=True, slots=True)
class Int8Linear(Fused):
    """``x @ W.T (+ bias)`` with int8 quantize/dequantize of ``W`` (and of ``x`` with an input scale).

    ``tp.Linear(quant_dtype=tp.int8)`` makes it directly, and the rewrites in :mod:`tripy.trace.fusions`
    from the unfused primitives it stands for (its meaning). Inputs, in order: ``x`` (rank >= 2, last
    dimension K), the per-tensor input scale when ``input_scaled``, the weight ((N, K), or (K, N) when
    ``weight_kn``), its scale (per-tensor, or per output channel along ``weight_axis``), a bias of N
    elements when ``biased``, and with ``residual`` a tensor of the result's shape added last
    (``residual + linear``). Everything is computed in ``dtype``, the type of the result.
    """

    arity: ClassVar[int | None] = None
    input_scaled: bool
    weight_kn: bool
    weight_axis: int | None
    biased: bool
    dtype: DataType
    #: A last input, of the result's shape and dtype, added to the result (a residual connection).
    residual: bool = False
    #: Whether the result goes through :class:`Gelu` (before the residual is added).
    gelu: bool = False

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        x = inputs[0].shape
        weight = inputs[2 if self.input_scaled else 1].shape
        return (*x[:-1], weight[1] if self.weight_kn else weight[0]), self.dtype

    def steps(self, inputs: Sequence[Typed]) -> Steps:
        """The quantize/dequantize, permute, broadcast reshapes, product and bias add, in the order the
        frontend (``tp.Linear``) records them."""
        names = ["x", *(["x_scale"] if self.input_scaled else []), "weight", "weight_scale"]
        names += ["bias"] if self.biased else []
        names += ["residual"] if self.residual else []
        index = {name: i for i, name in enumerate(names)}
        types = dict(zip(names, inputs, strict=True))
        s = _Steps(len(names))
        a = index["x"]
        if self.input_scaled:
            q = s.add(Quantize(dtypes.int8, None), a, index["x_scale"])
            a = s.add(Dequantize(self.dtype, None), q, index["x_scale"])
        q = s.add(Quantize(dtypes.int8, self.weight_axis), index["weight"], index["weight_scale"])
        b = s.add(Dequantize(self.dtype, self.weight_axis), q, index["weight_scale"])
        nk = types["weight"].shape[::-1] if self.weight_kn else types["weight"].shape
        rank = len(types["x"].shape)
        _linear_steps(s, a, b, rank, nk, self.weight_kn, index.get("bias"), index.get("residual"), self.gelu)
        return s.steps


@dataclass(frozen=True, slots=True)
class FloatLinear(Fused):
    """``x @ W.T (+ bias)`` in floating point: what ``tp.Linear`` without quantization writes.

    ``tp.Linear`` makes it directly, and the rewrites in :mod:`tripy.trace.fusions` from its steps.
    Inputs: ``x`` (rank >= 2, last dimension K), the weight ((N, K), or (K, N) when ``weight_kn``), a bias
    of N elements when ``biased``, and with ``residual`` a tensor of the result's shape added last, all of
    ``x``'s dtype. On the GPU, a few rows run as one kernel that reads the weight once, with the bias, the
    GELU and the residual in its epilogue.
    """

    arity: ClassVar[int | None] = None
    weight_kn: bool
    biased: bool
    #: A last input, of the result's shape and dtype, added to the result (a residual connection).
    residual: bool = False
    #: Whether the result goes through :class:`Gelu` (before the residual is added).
    gelu: bool = False

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        x, weight = inputs[0].shape, inputs[1].shape
        return (*x[:-1], weight[1] if self.weight_kn else weight[0]), inputs[0].dtype

    def steps(self, inputs: Sequence[Typed]) -> Steps:
        """The permute, broadcast reshapes, product and bias add, as ``tp.Linear`` records them."""
        x, weight = inputs[0], inputs[1]
        s = _Steps(len(inputs))
        nk = weight.shape[::-1] if self.weight_kn else weight.shape
        residual = len(inputs) - 1 if self.residual else None
        _linear_steps(s, 0, 1, len(x.shape), nk, self.weight_kn, 2 if self.biased else None, residual, self.gelu)
        return s.steps


@dataclass(frozen=True, slots=True)
class UpdateSlice(Fused):
    """The first input with the second written into it along ``dim``, from the index the third holds.

    Inputs: the operand, the update (the operand's shape except along ``dim``, where it has ``n`` <= the
    operand's size) and an int32 start of shape ``(1,)`` (a value on the device: it may change between
    calls of a compiled function). The start is clamped to ``0 .. size - n`` so the update always fits.
    A compiled function whose operand is a donated argument writes the update in place.
    """

    arity: ClassVar[int | None] = 3
    dim: int

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return inputs[0].shape, inputs[0].dtype

    def steps(self, inputs: Sequence[Typed]) -> Steps:
        """``where(start <= i < start + n, update[clamp(i - start)], operand)`` along ``dim``."""
        operand, update = inputs[0], inputs[1]
        size, n, rank = operand.shape[self.dim], update.shape[self.dim], len(operand.shape)
        i32 = dtypes.int32
        s = _Steps(3)
        zero = s.add(Full((1,), 0, i32))
        last = s.add(Full((1,), size - n, i32))
        start = s.add(Binary(BinaryOp.MIN), s.add(Binary(BinaryOp.MAX), 2, zero), last)
        local = s.add(Binary(BinaryOp.SUB), s.add(Iota((size,), 0, i32)), start)  # i - start
        top = s.add(Full((1,), n - 1, i32))
        inside = s.add(
            Binary(BinaryOp.AND),
            s.add(Binary(BinaryOp.GE), local, zero),
            s.add(Binary(BinaryOp.LE), local, top),
        )
        picked = s.add(Gather(self.dim), 1, s.add(Binary(BinaryOp.MIN), s.add(Binary(BinaryOp.MAX), local, zero), top))
        along = tuple(size if d == self.dim else 1 for d in range(rank))
        mask = s.add(Reshape(along), inside)
        s.add(Where(), mask, picked, 0)
        return s.steps


@dataclass(frozen=True, slots=True)
class LayerNorm(Fused):
    """``(x - mean) * rsqrt(var + eps)`` over the last ``dims`` dimensions of ``x`` (computed in float32),
    then ``* weight + bias`` in their dtype, the result in ``dtype``.

    Inputs: ``x`` (any float dtype), ``weight`` and ``bias`` (the shape of the last ``dims`` dimensions, one
    dtype). This is ``tp.LayerNorm``'s composite, and that of ``tp.layer_norm``; on the GPU, one kernel.
    """

    arity: ClassVar[int | None] = 3
    dims: int
    eps: float
    dtype: DataType

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return inputs[0].shape, self.dtype

    def steps(self, inputs: Sequence[Typed]) -> Steps:
        """Cast to float32, the two means, the normalisation, the scale and shift, as the frontend writes them."""
        x, weight = inputs[0], inputs[1]
        rank, f32 = len(x.shape), dtypes.float32
        axes = tuple(range(rank - self.dims, rank))
        count = 1
        for a in axes:
            count *= x.shape[a]
        s = _Steps(3)
        ones = (1,) * rank

        def mean(v: int) -> int:
            return s.add(
                Binary(BinaryOp.DIV), s.add(Reduce(ReduceOp.SUM, axes, True), v), s.add(Full(ones, float(count), f32))
            )

        wide = 0 if x.dtype == f32 else s.add(Cast(f32), 0)
        centred = s.add(Binary(BinaryOp.SUB), wide, mean(wide))
        variance = mean(s.add(Binary(BinaryOp.MUL), centred, centred))
        root = s.add(Unary(UnaryOp.RSQRT), s.add(Binary(BinaryOp.ADD), variance, s.add(Full(ones, self.eps, f32))))
        out = s.add(Binary(BinaryOp.MUL), centred, root)
        if weight.dtype != f32:
            out = s.add(Cast(weight.dtype), out)
        lead = (1,) * (rank - self.dims) + tuple(weight.shape)
        out = s.add(Binary(BinaryOp.MUL), out, s.add(Reshape(lead), 1))
        out = s.add(Binary(BinaryOp.ADD), out, s.add(Reshape(lead), 2))
        if weight.dtype != self.dtype:
            out = s.add(Cast(self.dtype), out)
        return s.steps


@dataclass(frozen=True, slots=True)
class Attention(Fused):
    """Scaled dot-product attention of queries ``q`` (..., S, D) over keys ``k`` and values ``v`` (..., T, D).

    ``softmax(mask(float32(q @ k^T * scale))) @ v`` in the inputs' dtype, the scores and the softmax in
    float32. With ``causal``, a fourth input, an int32 ``start`` of shape ``(1,)``, places query i at
    position ``start + i``: it sees keys ``0 .. start + i`` (a KV cache of T positions holds the keys
    written so far); without, every key is visible.
    """

    arity: ClassVar[int | None] = None
    scale: float
    causal: bool

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return (*inputs[0].shape[:-1], inputs[2].shape[-1]), inputs[0].dtype

    def steps(self, inputs: Sequence[Typed]) -> Steps:
        """The primitives of the unfused attention, as ``examples/nanogpt`` wrote them before this existed."""
        q, k = inputs[0], inputs[1]
        rank, dtype = len(q.shape), q.dtype
        seq, total = q.shape[-2], k.shape[-2]
        f32 = dtypes.float32
        s = _Steps(len(inputs))
        perm = (*range(rank - 2), rank - 1, rank - 2)
        scores = s.add(Matmul(), 0, s.add(Permute(perm), 1))
        scale = s.add(Full((1,) * rank, self.scale, dtype))
        scores = s.add(Cast(f32), s.add(Binary(BinaryOp.MUL), scores, scale))
        if self.causal:
            i32 = dtypes.int32
            lead = (1,) * (rank - 2)
            key = s.add(Iota((*lead, seq, total), rank - 1, i32))
            query = s.add(Iota((*lead, seq, total), rank - 2, i32))
            start = s.add(Reshape((1,) * rank), 3)
            future = s.add(Binary(BinaryOp.GT), key, s.add(Binary(BinaryOp.ADD), query, start))
            scores = s.add(Where(), future, s.add(Full((1,) * rank, float("-inf"), f32)), scores)
        high = s.add(Reduce(ReduceOp.MAX, (rank - 1,), True), scores)
        e = s.add(Unary(UnaryOp.EXP), s.add(Binary(BinaryOp.SUB), scores, high))
        probs = s.add(Binary(BinaryOp.DIV), e, s.add(Reduce(ReduceOp.SUM, (rank - 1,), True), e))
        s.add(Matmul(), s.add(Cast(dtype), probs), 2)
        return s.steps


#: The program of a fused chain: its steps numbered as in :data:`Steps` (a tuple, so it can be a field).
Program = tuple[tuple["Primitive", tuple[int, ...]], ...]


class _ProgramFused(Fused):
    """A fused primitive whose fields ``program``, ``shape`` and ``dtype`` are its meaning and its result."""

    program: Program
    shape: Shape
    dtype: DataType

    def infer(self, inputs: Sequence[Typed]) -> tuple[Shape, DataType]:
        return self.shape, self.dtype

    def steps(self, inputs: Sequence[Typed]) -> Steps:
        """The program's steps."""
        return list(self.program)


@dataclass(frozen=True, slots=True)
class FusedElementwise(_ProgramFused):
    """A connected chain of elementwise primitives computed as one: ``program`` lists them (unary, binary,
    where, casts, and reshapes and expands that only broadcast), numbered as in :data:`Steps`; the last
    step's value, of ``shape`` and ``dtype``, is the result.

    Made only by :func:`tripy.trace.elementwise_fusion.fuse_elementwise`; its meaning is its program.
    """

    arity: ClassVar[int | None] = None
    program: Program
    shape: Shape
    dtype: DataType


@dataclass(frozen=True, slots=True)
class FusedReduce(_ProgramFused):
    """A :class:`Reduce` of an elementwise chain computed as one: ``program`` is the chain (as in
    :class:`FusedElementwise`) followed by the reduction; the last step's value, of ``shape`` and
    ``dtype``, is the result.

    Made only by :func:`tripy.trace.elementwise_fusion.fuse_elementwise`; its meaning is its program.
    """

    arity: ClassVar[int | None] = None
    program: Program
    shape: Shape
    dtype: DataType


#: Every primitive class: each backend table and the TensorRT lowering cover all of them.
ALL_PRIMITIVES: tuple[type[Primitive], ...] = (
    Input,
    Iota,
    Full,
    Unary,
    Binary,
    Where,
    Cast,
    Reduce,
    Argmax,
    Matmul,
    Reshape,
    Permute,
    Expand,
    Slice,
    Concat,
    Gather,
    Quantize,
    Dequantize,
    Int8Linear,
    FloatLinear,
    UpdateSlice,
    Attention,
    LayerNorm,
    Gelu,
    FusedElementwise,
    FusedReduce,
)
