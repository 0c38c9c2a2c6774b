"""The fusions of the trace: the int8 Linear, defined once for every backend and for ``tp.compile``.

The pattern is what ``tp.Linear(quant_dtype=tp.int8)`` writes (and anyone may write by hand)::

    matmul(dequantize(quantize(x, sx)), permute(dequantize(quantize(w, sw, axis)), (1, 0))) [+ bias]

with a per-tensor ``sx`` (or no input quantization at all: weight-only), ``sw`` per-tensor or per output
channel, ``w`` (N, K) permuted or (K, N) used as is, and the leading-1 reshapes that broadcasting adds. It
becomes one :class:`Int8Linear`, whose meaning is exactly those primitives (:func:`int8_linear_steps`):
the NumPy backend runs them, the TensorRT lowering lowers them, the CUDA backend runs an int8 GEMM.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.trace.primitives import (
    Binary,
    BinaryOp,
    Dequantize,
    FloatLinear,
    Gelu,
    Int8Linear,
    Matmul,
    Permute,
    Primitive,
    Quantize,
    Reshape,
    Steps,
    TensorType,
)
from tripy.trace.rewrite import Capture, Match, OneOf, Pattern, PatternLike, Rewrite

if TYPE_CHECKING:
    from tripy.tensor import Tensor

_FLOATS = (dtypes.float32, dtypes.float16, dtypes.bfloat16)
P = TypeVar("P", bound=Primitive)


def _adds_leading_ones(t: Tensor) -> bool:
    source = t.node.inputs[0] if t.node is not None else t
    extra = len(t.shape) - len(source.shape)
    return extra > 0 and t.shape[extra:] == source.shape and all(d == 1 for d in t.shape[:extra])


def _broadcast_view(inner: PatternLike) -> OneOf:
    """``inner``, possibly reshaped with leading 1s (as the frontend does to equalise ranks)."""
    return OneOf((Pattern(Reshape, (inner,), when=_adds_leading_ones), inner))


def _quantized(prefix: str) -> Pattern:
    """``dequantize(quantize(source, scale, int8), scale)`` with one scale tensor for both."""
    scale = Capture(f"{prefix}_scale")
    quantize = Pattern(Quantize, (Capture(prefix), scale), name=f"{prefix}_quantize")
    return Pattern(Dequantize, (quantize, scale), name=f"{prefix}_dequantize")


def _swaps_matrix(t: Tensor) -> bool:
    return t.node is not None and getattr(t.node.prim, "perm", None) == (1, 0)


def _adds(t: Tensor) -> bool:
    return t.node is not None and getattr(t.node.prim, "op", None) is BinaryOp.ADD


_WEIGHT = OneOf((Pattern(Permute, (_quantized("weight"),), _swaps_matrix, "weight_permute"), _quantized("weight")))
_PRODUCT = Pattern(Matmul, (OneOf((_quantized("x"), Capture("x"))), _broadcast_view(_WEIGHT)), name="product")
_WITH_BIAS = Pattern(Binary, (_PRODUCT, _broadcast_view(Capture("bias"))), _adds, "root")


def int8_linear(
    x: Tensor,
    x_scale: Tensor | None,
    weight: Tensor,
    weight_scale: Tensor,
    bias: Tensor | None,
    axis: int | None,
    dtype: DataType,
    weight_kn: bool = False,
) -> tuple[Int8Linear, tuple[Tensor, ...]] | None:
    """The fused int8 Linear of ``x @ W.T (+ bias)`` (``x @ W`` with ``weight_kn``), both operands quantized
    to int8 (``x`` only with an ``x_scale``), the weight per-tensor or per output channel (``axis``), the
    result in ``dtype``; None where the int8 GEMM would not compute the same thing. ``tp.Linear`` makes it
    directly; the rewrites make it from what it stands for."""
    if dtype not in _FLOATS or weight.dtype not in _FLOATS or x.dtype not in _FLOATS:
        return None
    if len(x.shape) < 2 or len(weight.shape) != 2:
        return None
    if len(weight_scale.shape) != (0 if axis is None else 1):
        return None  # block-wise scales
    if axis is not None and axis != (1 if weight_kn else 0):
        return None  # a scale along K does not factor out of the sum
    if x_scale is not None and len(x_scale.shape) != 0:
        return None
    n = weight.shape[1] if weight_kn else weight.shape[0]
    if bias is not None and (bias.shape != (n,) or bias.dtype != dtype):
        return None
    inputs = tuple(t for t in (x, x_scale, weight, weight_scale, bias) if t is not None)
    return Int8Linear(x_scale is not None, weight_kn, axis, bias is not None, dtype), inputs


def _build(found: Match) -> tuple[Primitive, tuple[Tensor, ...]] | None:
    """The fused primitive for a match, or None where the int8 GEMM would not compute the same thing."""
    product = found["product"]
    root = found.get("root")
    out = product if root is None else root
    w_quantize = _prim(found["weight_quantize"], Quantize)
    if w_quantize.dtype is not dtypes.int8 or w_quantize.axis != _prim(found["weight_dequantize"], Dequantize).axis:
        return None
    x_scale = found.get("x_scale")
    if x_scale is not None:
        x_quantize = _prim(found["x_quantize"], Quantize)
        if x_quantize.dtype is not dtypes.int8 or x_quantize.axis is not None:
            return None
    bias = found.get("bias")
    if bias is not None and product.shape != out.shape:
        return None
    weight_kn = found.get("weight_permute") is None
    return int8_linear(
        found["x"], x_scale, found["weight"], found["weight_scale"], bias, w_quantize.axis, out.dtype, weight_kn
    )


def _prim(tensor: Tensor, kind: type[P]) -> P:
    prim = tensor.node.prim  # type: ignore[union-attr]
    assert isinstance(prim, kind)
    return prim


def _with_residual(build: Callable[[Match], tuple[Primitive, tuple[Tensor, ...]] | None]):
    """``build`` for ``residual + linear``: the Linear's primitive with ``residual`` set and the residual as
    its last input, where the residual has the Linear's shape and dtype (no broadcast)."""

    def build_outer(found: Match) -> tuple[Primitive, tuple[Tensor, ...]] | None:
        built = build(found)
        if built is None:
            return None
        prim, inputs = built
        residual, outer = found["residual"], found["outer"]
        root = found.get("root")
        linear = found["product"] if root is None else root
        if residual.shape != outer.shape or residual.dtype != outer.dtype or linear.shape != outer.shape:
            return None
        assert isinstance(prim, (Int8Linear, FloatLinear))
        return dataclasses.replace(prim, residual=True), (*inputs, residual)

    return build_outer


def _residual(linear: PatternLike) -> Pattern:
    return Pattern(Binary, (Capture("residual"), linear), _adds, "outer")


def _with_gelu(build: Callable[[Match], tuple[Primitive, tuple[Tensor, ...]] | None]):
    """``build`` for ``gelu(linear)``: the Linear's primitive with ``gelu`` set."""

    def build_outer(found: Match) -> tuple[Primitive, tuple[Tensor, ...]] | None:
        built = build(found)
        if built is None:
            return None
        prim, inputs = built
        assert isinstance(prim, (Int8Linear, FloatLinear))
        return dataclasses.replace(prim, gelu=True), inputs

    return build_outer


def _gelu(linear: PatternLike) -> Pattern:
    return Pattern(Gelu, (linear,), name="gelu")


def _fused_linear(kind: type[Int8Linear | FloatLinear], arities: range, gelu_ok: bool) -> OneOf:
    """A tensor made by a fused Linear (``tp.Linear`` makes them directly) of one of these arities, without
    a residual (and without a GELU unless ``gelu_ok``): its epilogue can still take one."""

    def open_epilogue(t: Tensor) -> bool:
        prim = t.node.prim if t.node is not None else None
        return isinstance(prim, (Int8Linear, FloatLinear)) and not prim.residual and (gelu_ok or not prim.gelu)

    captures = [Capture(f"fused_input_{i}") for i in range(max(arities))]
    return OneOf(tuple(Pattern(kind, tuple(captures[:n]), open_epilogue, "fused") for n in arities))


def _fused_with_residual(found: Match) -> tuple[Primitive, tuple[Tensor, ...]] | None:
    """``residual + fused Linear``: the residual in the Linear's epilogue, where it has the result's shape."""
    fused, residual, outer = found["fused"], found["residual"], found["outer"]
    if residual.shape != outer.shape or residual.dtype != outer.dtype or fused.shape != outer.shape:
        return None
    node = fused.node
    assert node is not None and isinstance(node.prim, (Int8Linear, FloatLinear))
    return dataclasses.replace(node.prim, residual=True), (*node.inputs, residual)


def _fused_with_gelu(found: Match) -> tuple[Primitive, tuple[Tensor, ...]] | None:
    """``gelu(fused Linear)``: the GELU in the Linear's epilogue."""
    node = found["fused"].node
    assert node is not None and isinstance(node.prim, (Int8Linear, FloatLinear))
    return dataclasses.replace(node.prim, gelu=True), node.inputs


_INT8_ARITIES, _FLOAT_ARITIES = range(3, 6), range(2, 4)

#: The int8 Linear added to a residual or followed by a GELU, with a bias add, and without; and the epilogues
#: of an int8 Linear made directly.
INT8_LINEAR_REWRITES: tuple[Rewrite, ...] = (
    Rewrite("residual + int8 Linear", _residual(OneOf((_WITH_BIAS, _PRODUCT))), _with_residual(_build)),
    Rewrite("residual + Int8Linear", _residual(_fused_linear(Int8Linear, _INT8_ARITIES, True)), _fused_with_residual),
    Rewrite("gelu(int8 Linear)", _gelu(OneOf((_WITH_BIAS, _PRODUCT))), _with_gelu(_build)),
    Rewrite("gelu(Int8Linear)", _gelu(_fused_linear(Int8Linear, _INT8_ARITIES, False)), _fused_with_gelu),
    Rewrite("int8 Linear + bias", _WITH_BIAS, _build),
    Rewrite("int8 Linear", _PRODUCT, _build),
)

# The float Linear: ``x @ permute(w, (1, 0)) [+ bias]`` (or ``x @ w`` with a (K, N) weight), w 2-D.
_FLOAT_WEIGHT = OneOf((Pattern(Permute, (Capture("weight"),), _swaps_matrix, "weight_permute"), Capture("weight")))
_FLOAT_PRODUCT = Pattern(Matmul, (Capture("x"), _broadcast_view(_FLOAT_WEIGHT)), name="product")
_FLOAT_WITH_BIAS = Pattern(Binary, (_FLOAT_PRODUCT, _broadcast_view(Capture("bias"))), _adds, "root")


def float_linear(
    x: Tensor, weight: Tensor, bias: Tensor | None, weight_kn: bool = False
) -> tuple[FloatLinear, tuple[Tensor, ...]] | None:
    """The fused float Linear of ``x @ W.T (+ bias)`` (``x @ W`` with ``weight_kn``), or None where it is not
    one (a weight that is not 2-D, mixed dtypes, a bias that is not one value per output). ``tp.Linear``
    makes it directly; the rewrites make it from what it stands for."""
    if x.dtype not in _FLOATS or weight.dtype != x.dtype or len(weight.shape) != 2 or len(x.shape) < 2:
        return None
    n = weight.shape[1] if weight_kn else weight.shape[0]
    if bias is not None and (bias.dtype != x.dtype or bias.shape != (n,)):
        return None
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return FloatLinear(weight_kn, bias is not None), inputs


def _build_float(found: Match) -> tuple[Primitive, tuple[Tensor, ...]] | None:
    """The fused float Linear for a match, or None where it is not one."""
    product = found["product"]
    root = found.get("root")
    out = product if root is None else root
    if out.dtype != found["x"].dtype or (root is not None and product.shape != out.shape):
        return None
    return float_linear(found["x"], found["weight"], found.get("bias"), found.get("weight_permute") is None)


#: The float Linear with a residual, a GELU or a bias add, and without (after the int8 ones: a quantized
#: weight is theirs).
FLOAT_LINEAR_REWRITES: tuple[Rewrite, ...] = (
    Rewrite(
        "residual + float Linear", _residual(OneOf((_FLOAT_WITH_BIAS, _FLOAT_PRODUCT))), _with_residual(_build_float)
    ),
    Rewrite(
        "residual + FloatLinear", _residual(_fused_linear(FloatLinear, _FLOAT_ARITIES, True)), _fused_with_residual
    ),
    Rewrite("gelu(float Linear)", _gelu(OneOf((_FLOAT_WITH_BIAS, _FLOAT_PRODUCT))), _with_gelu(_build_float)),
    Rewrite("gelu(FloatLinear)", _gelu(_fused_linear(FloatLinear, _FLOAT_ARITIES, False)), _fused_with_gelu),
    Rewrite("float Linear + bias", _FLOAT_WITH_BIAS, _build_float),
    Rewrite("float Linear", _FLOAT_PRODUCT, _build_float),
)
#: Every rewrite of the trace (``tp.compile`` applies all of them; a backend lists those it runs fused).
ALL_REWRITES: tuple[Rewrite, ...] = INT8_LINEAR_REWRITES + FLOAT_LINEAR_REWRITES


def int8_linear_steps(prim: Int8Linear, inputs: Sequence[TensorType]) -> Steps:
    """The unfused primitives that ``prim`` stands for (:meth:`Int8Linear.steps`), in the order the
    frontend records them.

    Values are numbered: ``0 .. len(inputs) - 1`` are ``prim``'s inputs, and each step's result takes the
    next number; the last step's result is ``prim``'s.
    """
    return prim.steps(inputs)
