"""CUDA source for fused elementwise programs (:class:`~tripy.trace.primitives.FusedElementwise` and the
prologue of :class:`~tripy.trace.primitives.FusedReduce`), in plain Python: no CuPy here, so the source
can be generated and compile-checked (``nvcc``) on a machine without a GPU.

A program becomes one ``__device__`` function of its inputs, one statement per value, each value kept in
its own type, so the result is what the unfused CuPy kernels of :mod:`tripy.backend.cuda.kernels` give:

* float32 values are ``float``; float16 values are ``float`` holding a float16 number: every float16 result
  is rounded to float16 (``cvt.rn.f16.f32``) where the unfused kernel stores it. One float32 operation
  rounded to float16 is the correctly rounded float16 result (float32 has more than twice float16's
  precision), which is what CuPy's float16 arithmetic gives.
* Additions, subtractions, products and quotients use the ``__f*_rn`` intrinsics, which the compiler never
  contracts into fused multiply-adds (an unfused kernel cannot contract across kernels either).
* Transcendental functions (``expf``, ``tanhf``, ``logf``, ``erff`` ...) are the ones CuPy's kernels call,
  compiled with the same NVRTC options; they may still differ from the unfused kernel by an ulp if the
  compiler inlines them differently, and the tests allow that.
* int8 values are ``int`` wrapped back to int8 after each operation (CuPy computes int8 work in int32 and
  wraps once per primitive); int32 arithmetic wraps (done in ``unsigned``).
* Casts truncate toward zero, turn NaN into 0 and saturate, as :func:`tripy.backend.cuda.kernels.cast_array`.

float16 arrays are passed as ``uint16`` (their bits), so no CuPy header is needed for them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.trace.primitives import (
    Binary,
    BinaryOp,
    Cast,
    Expand,
    Primitive,
    Program,
    Reduce,
    ReduceOp,
    Reshape,
    TensorType,
    Unary,
    UnaryOp,
    Where,
)

#: The float16 conversions (PTX: correctly rounded, overflow to infinity).
HALF_HELPERS = r"""
__device__ __forceinline__ float tripy_h2f(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ unsigned short tripy_f2h(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
"""
#: The other helpers, in plain C++ with CUDA intrinsics.
COMMON_HELPERS = r"""
__device__ __forceinline__ float tripy_round_h(float f) { return tripy_h2f(tripy_f2h(f)); }
__device__ __forceinline__ int tripy_wrap8(int v) { return (int)(signed char)v; }
__device__ __forceinline__ float tripy_nan() { return __int_as_float(0x7fffffff); }
__device__ __forceinline__ float tripy_fmax(float a, float b) { return (a != a || b != b) ? tripy_nan() : fmaxf(a, b); }
__device__ __forceinline__ float tripy_fmin(float a, float b) { return (a != a || b != b) ? tripy_nan() : fminf(a, b); }
__device__ __forceinline__ int tripy_f2i8(float a) {
    return a != a ? 0 : (int)fminf(fmaxf(truncf(a), -128.0f), 127.0f);
}
__device__ __forceinline__ int tripy_i2i8(int a) { return a < -128 ? -128 : (a > 127 ? 127 : a); }
__device__ __forceinline__ float tripy_rmax(float a, float b) { return (a != a || a > b) ? a : b; }
__device__ __forceinline__ float tripy_rmin(float a, float b) { return (a != a || a < b) ? a : b; }
"""
#: Device helpers every generated source starts with.
HELPERS = HALF_HELPERS + COMMON_HELPERS

_FLOATS = (dtypes.float32, dtypes.float16)
_INTS = (dtypes.int32, dtypes.int8)
#: The C type a value of each dtype is computed in.
_VALUE_TYPE = {
    dtypes.float32: "float",
    dtypes.float16: "float",
    dtypes.int32: "int",
    dtypes.int8: "int",
    dtypes.bool: "bool",
}
#: The CuPy parameter dtype (and its C type) an array of each dtype is passed as.
STORAGE = {
    dtypes.float32: ("float32", "float"),
    dtypes.float16: ("uint16", "unsigned short"),
    dtypes.int32: ("int32", "int"),
    dtypes.int8: ("int8", "signed char"),
    dtypes.bool: ("bool", "bool"),
}
_FLOAT_UNARY = {
    UnaryOp.NEG: "(-{0})",
    UnaryOp.ABS: "fabsf({0})",
    UnaryOp.EXP: "expf({0})",
    UnaryOp.LOG: "logf({0})",
    UnaryOp.SQRT: "sqrtf({0})",
    UnaryOp.RSQRT: "__fdiv_rn(1.0f, sqrtf({0}))",  # CuPy: reciprocal(sqrt(x)), two roundings
    UnaryOp.TANH: "tanhf({0})",
    UnaryOp.SIN: "sinf({0})",
    UnaryOp.COS: "cosf({0})",
    UnaryOp.ERF: "erff({0})",
}
_INT_UNARY = {
    UnaryOp.NEG: "(int)(0u - (unsigned){0})",
    UnaryOp.ABS: "({0} > 0 ? {0} : (int)(0u - (unsigned){0}))",
}
_FLOAT_BINARY = {
    BinaryOp.ADD: "__fadd_rn({0}, {1})",
    BinaryOp.SUB: "__fsub_rn({0}, {1})",
    BinaryOp.MUL: "__fmul_rn({0}, {1})",
    BinaryOp.DIV: "__fdiv_rn({0}, {1})",
    BinaryOp.POW: "powf({0}, {1})",
    BinaryOp.MAX: "tripy_fmax({0}, {1})",
    BinaryOp.MIN: "tripy_fmin({0}, {1})",
}
_INT_BINARY = {
    BinaryOp.ADD: "(int)((unsigned){0} + (unsigned){1})",
    BinaryOp.SUB: "(int)((unsigned){0} - (unsigned){1})",
    BinaryOp.MUL: "(int)((unsigned){0} * (unsigned){1})",
    BinaryOp.MAX: "({0} > {1} ? {0} : {1})",  # no int max(): NVRTC without CUDA's headers lacks it
    BinaryOp.MIN: "({0} < {1} ? {0} : {1})",
}
_BOOL_BINARY = {BinaryOp.AND: "({0} && {1})", BinaryOp.OR: "({0} || {1})"}
_COMPARISON = {
    BinaryOp.EQ: "==",
    BinaryOp.NE: "!=",
    BinaryOp.LT: "<",
    BinaryOp.LE: "<=",
    BinaryOp.GT: ">",
    BinaryOp.GE: ">=",
}
#: Per reduction: the combining expression of partial results ``a`` and ``b``, and the identity.
REDUCTIONS = {
    ReduceOp.SUM: ("a + b", "0"),
    ReduceOp.MAX: ("tripy_rmax(a, b)", "__int_as_float((int)0xff800000)"),  # -inf; NaN propagates
    ReduceOp.MIN: ("tripy_rmin(a, b)", "__int_as_float(0x7f800000)"),  # +inf
}


#: The names of the kernels' parameters: distinctive, as CuPy renames a one-input reduction's by text
#: replacement (``tripy_in0`` to ``in0``, ``tripy_out`` to ``out0``) when it runs it through CUB.
IN, OUT = "tripy_in", "tripy_out"


@dataclass(frozen=True)
class Source:
    """A generated function ``tripy_fused(x0, x1, ...)`` and how a CuPy kernel calls it.

    ``in_params`` and ``out_param`` are CuPy parameter lists (``"float32 tripy_in0"``, ``"uint16 tripy_out"``);
    ``call`` is the expression of the function's value; ``name`` is unique to the source.
    """

    preamble: str
    in_params: str
    out_param: str
    call: str
    name: str
    out_dtype: DataType


def value_types(program: Program, inputs: Sequence[TensorType]) -> list[TensorType]:
    """The type of every value of ``program``: its inputs', then each step's result."""
    types = list(inputs)
    for prim, args in program:
        shape, dtype = prim.infer([types[i] for i in args])
        types.append(TensorType(tuple(shape), dtype))
    return types


def _expression(prim: Primitive, args: list[str], arg_types: list[DataType], out: DataType) -> str:
    """The C expression of one step, in the value type of ``out``."""
    if isinstance(prim, Unary):
        (a,), (dt,) = args, arg_types
        if dt in _FLOATS:
            expr = _FLOAT_UNARY[prim.op].format(a)
            return f"tripy_round_h({expr})" if out is dtypes.float16 else expr
        if dt in _INTS:
            expr = _INT_UNARY[prim.op].format(a)
            return f"tripy_wrap8({expr})" if out is dtypes.int8 else expr
        return f"(!{a})"
    if isinstance(prim, Binary):
        (a, b), dt = args, arg_types[0]
        if prim.op in _COMPARISON:
            return f"({a} {_COMPARISON[prim.op]} {b})"
        if dt in _FLOATS:
            expr = _FLOAT_BINARY[prim.op].format(a, b)
            return f"tripy_round_h({expr})" if out is dtypes.float16 else expr
        if dt in _INTS:
            expr = _INT_BINARY[prim.op].format(a, b)
            return f"tripy_wrap8({expr})" if out is dtypes.int8 else expr
        return _BOOL_BINARY[prim.op].format(a, b)
    if isinstance(prim, Where):
        c, a, b = args
        return f"({c} ? {a} : {b})"
    if isinstance(prim, Cast):
        return _cast(args[0], arg_types[0], out)
    if isinstance(prim, (Reshape, Expand)):
        return args[0]
    raise NotImplementedError(f"no fused code for {prim}")


def _cast(a: str, src: DataType, dst: DataType) -> str:
    """``a`` (a value of ``src``) converted as :func:`tripy.backend.cuda.kernels.cast_array` converts."""
    if src is dst or (src in _FLOATS and dst is dtypes.float32) or (src in _INTS and dst is dtypes.int32):
        return a
    if src in _FLOATS:
        return {
            dtypes.float16: f"tripy_round_h({a})",
            dtypes.int32: f"__float2int_rz({a})",  # truncates, saturates, NaN -> 0
            dtypes.int8: f"tripy_f2i8({a})",
            dtypes.bool: f"({a} != 0.0f)",
        }[dst]
    if src in _INTS:
        return {
            dtypes.float32: f"__int2float_rn({a})",
            dtypes.float16: f"tripy_round_h(__int2float_rn({a}))",
            dtypes.int8: f"tripy_i2i8({a})",
            dtypes.bool: f"({a} != 0)",
        }[dst]
    return {
        dtypes.float32: f"({a} ? 1.0f : 0.0f)",
        dtypes.float16: f"({a} ? 1.0f : 0.0f)",
        dtypes.int32: f"({a} ? 1 : 0)",
        dtypes.int8: f"({a} ? 1 : 0)",
    }[dst]


def _load(name: str, dtype: DataType) -> str:
    return f"tripy_h2f({name})" if dtype is dtypes.float16 else name


def _function(
    program: Program, inputs: Sequence[TensorType], result: int, returns_storage: bool
) -> tuple[str, DataType]:
    """The device function computing value ``result`` of ``program``; it returns the value in its storage
    type (``returns_storage``) or in its value type (a reduction's map)."""
    types = value_types(program, inputs)
    params = ", ".join(f"{STORAGE[t.dtype][1]} x{i}" for i, t in enumerate(inputs))
    names: list[str] = []
    lines: list[str] = []
    for i, t in enumerate(inputs):
        names.append(f"v{i}")
        lines.append(f"    const {_VALUE_TYPE[t.dtype]} v{i} = {_load(f'x{i}', t.dtype)};")
    for k, (prim, args) in enumerate(program):
        number = len(inputs) + k
        out = types[number].dtype
        expr = _expression(prim, [names[a] for a in args], [types[a].dtype for a in args], out)
        if isinstance(prim, (Reshape, Expand)) or expr in names:
            names.append(expr)  # a view (or a no-op cast) is its operand
            continue
        names.append(f"v{number}")
        lines.append(f"    const {_VALUE_TYPE[out]} v{number} = {expr};")
    dtype = types[result].dtype
    value = names[result]
    if returns_storage:
        ret_type = STORAGE[dtype][1]
        value = f"tripy_f2h({value})" if dtype is dtypes.float16 else f"({ret_type}){value}"
    else:
        ret_type = _VALUE_TYPE[dtype]
    body = "\n".join(lines)
    return f"__device__ __forceinline__ {ret_type} tripy_fused({params}) {{\n{body}\n    return {value};\n}}\n", dtype


def _params(inputs: Sequence[TensorType]) -> tuple[str, str]:
    """The CuPy parameter list of the inputs, and the arguments of the call."""
    params = ", ".join(f"{STORAGE[t.dtype][0]} {IN}{i}" for i, t in enumerate(inputs))
    return params, ", ".join(f"{IN}{i}" for i in range(len(inputs)))


def _name(kind: str, text: str) -> str:
    return f"tripy_{kind}_{hashlib.sha1(text.encode()).hexdigest()[:16]}"


def elementwise_source(program: Program, inputs: Sequence[TensorType]) -> Source:
    """The source of a :class:`~tripy.trace.primitives.FusedElementwise` program for inputs of these types."""
    function, dtype = _function(program, inputs, len(inputs) + len(program) - 1, returns_storage=True)
    preamble = HELPERS + function
    in_params, args = _params(inputs)
    return Source(
        preamble, in_params, f"{STORAGE[dtype][0]} {OUT}", f"tripy_fused({args})", _name("fused", preamble), dtype
    )


@dataclass(frozen=True)
class ReductionSource:
    """A generated reduction: ``source.call`` is the map (the prologue's value, in float), combined with
    ``reduce_expr`` from ``identity``; ``post_map`` stores the result ``a`` into the output."""

    source: Source
    reduce_expr: str
    identity: str
    post_map: str
    axes: tuple[int, ...]
    keepdim: bool


def reduction_source(program: Program, inputs: Sequence[TensorType]) -> ReductionSource:
    """The source of a :class:`~tripy.trace.primitives.FusedReduce` program for inputs of these types."""
    reduce, (mapped,) = program[-1]
    assert isinstance(reduce, Reduce)
    prologue = program[:-1]
    function, _ = _function(prologue, inputs, mapped, returns_storage=False)
    out = value_types(program, inputs)[-1].dtype
    reduce_expr, identity = REDUCTIONS[reduce.op]
    post_map = f"{OUT} = tripy_f2h(a)" if out is dtypes.float16 else f"{OUT} = a"
    preamble = HELPERS + function
    in_params, args = _params(inputs)
    name = _name("fused_reduce", preamble + reduce_expr + post_map)
    source = Source(preamble, in_params, f"{STORAGE[out][0]} {OUT}", f"tripy_fused({args})", name, out)
    return ReductionSource(source, reduce_expr, identity, post_map, reduce.axes, reduce.keepdim)


def standalone(source: Source, reduction: ReductionSource | None = None) -> str:
    """A translation unit for ``nvcc`` that calls the generated function as a CuPy kernel would (for compile
    checks without CuPy)."""
    c_types = {name: c for name, c in STORAGE.values()}
    params = [p.split() for p in source.in_params.split(", ")] if source.in_params else []
    out_dtype, _ = source.out_param.split()
    args = ", ".join(f"const {c_types[d]}* p{n}" for d, n in params)
    loads = ", ".join(f"p{n}[i]" for _, n in params)
    out_c = c_types[out_dtype]
    if reduction is None:
        body = f"out[i] = tripy_fused({loads});"
    else:
        body = (
            f"float a = {reduction.identity}; float b = tripy_fused({loads}); a = {reduction.reduce_expr}; "
            f"{out_c} {OUT}; {reduction.post_map}; out[i] = {OUT};"
        )
    return (
        f"{source.preamble}\n"
        f'extern "C" __global__ void {source.name}({args}{", " if args else ""}{out_c}* out, int n) {{\n'
        f"    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
        f"    if (i < n) {{ {body} }}\n"
        f"}}\n"
    )
