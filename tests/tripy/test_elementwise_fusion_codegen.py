"""The generated CUDA code of fused elementwise programs, run on the host: the function that a fused
kernel calls per element is compiled with ``g++`` (the CUDA intrinsics it uses defined as the IEEE
operations they are, float16 through ``_Float16``) and must give the NumPy reference's bits for programs
of arithmetic, comparisons, wheres and casts on every plain dtype (rounding to float16 where the unfused
primitives round, int8 wrapping, saturating casts). Transcendental functions are left out: the host's
libm is not CUDA's."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from tripy import dtypes
from tripy.backend.cuda.elementwise_codegen import COMMON_HELPERS, HELPERS, IN, elementwise_source, value_types
from tripy.backend.registry import get_backend
from tripy.trace.primitives import (
    Binary,
    BinaryOp,
    Cast,
    FusedElementwise,
    Primitive,
    TensorType,
    Unary,
    UnaryOp,
    Where,
)

#: The CUDA intrinsics and float16 conversions of the generated code, as host C++.
HOST_PRELUDE = r"""
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#define __device__
#define __forceinline__ inline
using std::max;
using std::min;
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __int2float_rn(int a) { return (float)a; }
static inline int __float2int_rz(float a) {
    if (a != a) return 0;
    if (a >= 2147483648.0f) return INT_MAX;
    if (a <= -2147483648.0f) return INT_MIN;
    return (int)a;
}
static inline float tripy_h2f(unsigned short h) { _Float16 v; std::memcpy(&v, &h, 2); return (float)v; }
static inline unsigned short tripy_f2h(float f) {
    _Float16 v = (_Float16)f;
    unsigned short h;
    std::memcpy(&h, &v, 2);
    return h;
}
static inline float load_f32(uint32_t bits) { float f; std::memcpy(&f, &bits, 4); return f; }
"""

_C_TYPES = {
    dtypes.float32: ("float", "uint32_t", np.uint32),
    dtypes.float16: ("unsigned short", "unsigned short", np.uint16),
    dtypes.int32: ("int", "int", np.int32),
    dtypes.int8: ("signed char", "signed char", np.int8),
    dtypes.bool: ("bool", "bool", np.bool_),
}
_N = 96


def _host_program(program, types: list[TensorType], arrays: list[np.ndarray]) -> str:
    """A host C++ program writing, element after element, the bits of every value of ``program`` (the
    generated function of each prefix of the program, so that no value is dead code)."""
    lines = [HOST_PRELUDE, COMMON_HELPERS]
    for end in range(1, len(program) + 1):
        source = elementwise_source(tuple(program[:end]), types)
        function = source.preamble[len(HELPERS) :]
        assert function.startswith("__device__") and f"{IN}0" not in function  # its parameters are x0, x1...
        lines.append(function.replace("tripy_fused(", f"tripy_fused_{end}(", 1))
    for i, (t, a) in enumerate(zip(types, arrays, strict=True)):
        _, data_type, view = _C_TYPES[t.dtype]
        values = ", ".join(str(int(v)) if t.dtype is not dtypes.bool else str(bool(v)).lower() for v in a.view(view))
        lines.append(f"static const {data_type} data{i}[{_N}] = {{{values}}};")
    loads = ", ".join(
        f"load_f32(data{i}[k])" if t.dtype is dtypes.float32 else f"data{i}[k]" for i, t in enumerate(types)
    )
    body = []
    for end in range(1, len(program) + 1):
        out_c = _C_TYPES[value_types(tuple(program[:end]), types)[-1].dtype][0]
        body.append(f"        {{ {out_c} y = tripy_fused_{end}({loads}); std::fwrite(&y, sizeof y, 1, stdout); }}")
    lines.append(
        f"int main() {{\n    for (int k = 0; k < {_N}; k++) {{\n" + "\n".join(body) + "\n    }\n    return 0;\n}\n"
    )
    return "\n".join(lines)


def _run_on_host(program, types, arrays, tmp_path) -> list[np.ndarray]:
    """Every value of ``program`` computed by the generated code on the host."""
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not installed")
    text = _host_program(program, types, arrays)
    path = tmp_path / "fused.cpp"
    path.write_text(text)
    binary = tmp_path / "fused"
    command = [gxx, "-std=c++17", "-O1", "-ffp-contract=off", "-fno-fast-math", "-w", "-o", str(binary), str(path)]
    built = subprocess.run(command, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr + "\n" + text
    out = subprocess.run([str(binary)], capture_output=True, check=True).stdout
    kinds = [np.dtype(value_types(tuple(program[:end]), types)[-1].dtype.numpy) for end in range(1, len(program) + 1)]
    record = np.dtype([(f"v{k}", kind) for k, kind in enumerate(kinds)])
    rows = np.frombuffer(out, dtype=record)
    return [np.ascontiguousarray(rows[f"v{k}"]) for k in range(len(kinds))]


def _references(program, types, arrays) -> list[np.ndarray]:
    """Every value of ``program`` on the NumPy reference (the fused primitive's steps)."""
    numpy = get_backend("numpy")
    values = []
    for end in range(1, len(program) + 1):
        prefix = tuple(program[:end])
        prim = FusedElementwise(prefix, (_N,), value_types(prefix, types)[-1].dtype)
        values.append(np.asarray(numpy.kernels[FusedElementwise](prim, *arrays)))
    return values


def _assert_same_values(got: list[np.ndarray], expected: list[np.ndarray], program) -> None:
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g.dtype == e.dtype, (k, g.dtype, e.dtype)
        same = g.tobytes() == e.tobytes() or np.array_equal(g, e, equal_nan=e.dtype.kind == "f")
        assert same, (k, program[k], np.flatnonzero(g != e)[:8], g[g != e][:4], e[g != e][:4])


def _values(dtype: dtypes.DataType, rng: np.random.Generator) -> np.ndarray:
    if dtype is dtypes.bool:
        return rng.random(_N) < 0.5
    if dtype.is_float:
        v = rng.uniform(-300, 300, _N).astype(np.float32)
        v[: _N // 3] = rng.uniform(-3, 3, _N // 3)  # small values and their float16 roundings
        # no -0.0: the maximum of zeros of opposite signs is either, on every library (a later quotient
        # would turn the two zeros into infinities of opposite signs)
        v[:8] = [0.0, 2.5, np.inf, -np.inf, np.nan, 1e-8, 65519.0, 70000.0]
        return v.astype(dtype.numpy)
    info = np.iinfo(dtype.numpy)
    v = rng.integers(info.min, info.max, _N, endpoint=True)
    v[:4] = [info.min, info.max, 0, -1]
    return v.astype(dtype.numpy)


_FLOAT_OPS = [BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV, BinaryOp.MAX, BinaryOp.MIN]
_INT_OPS = [BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.MAX, BinaryOp.MIN]
_COMPARE = [BinaryOp.LT, BinaryOp.LE, BinaryOp.GT, BinaryOp.GE, BinaryOp.EQ, BinaryOp.NE]
_PLAIN = [dtypes.float32, dtypes.float16, dtypes.int32, dtypes.int8, dtypes.bool]


def _random_program(rng: np.random.Generator, dtype: dtypes.DataType) -> tuple[list, list[TensorType]]:
    """A program over two inputs of ``dtype`` and a bool, mixing every arithmetic kind and cast."""
    types = [TensorType((_N,), dtype), TensorType((_N,), dtype), TensorType((_N,), dtypes.bool)]
    kinds = [dtype, dtype, dtypes.bool]
    program: list[tuple[Primitive, tuple[int, ...]]] = []

    def pick(kind) -> int | None:
        found = [i for i, t in enumerate(kinds) if kind(t)]
        return int(rng.choice(found)) if found else None

    for _ in range(14):
        choice = rng.integers(6)
        if choice == 0:  # a cast
            src = pick(lambda t: True)
            target = _PLAIN[rng.integers(len(_PLAIN))]
            if kinds[src].is_float and target is dtypes.int32:
                target = dtypes.int8  # NumPy's float-to-int32 of infinities is undefined: see the cast test
            program.append((Cast(target), (src,)))
            kinds.append(target)
        elif choice == 1:  # a comparison
            a = pick(lambda t: t is not dtypes.bool)
            b = pick(lambda t, a=a: t is kinds[a])
            program.append((Binary(_COMPARE[rng.integers(len(_COMPARE))]), (a, b)))
            kinds.append(dtypes.bool)
        elif choice == 2:  # a where
            a = pick(lambda t: True)
            b = pick(lambda t, a=a: t is kinds[a])
            program.append((Where(), (pick(lambda t: t is dtypes.bool), a, b)))
            kinds.append(kinds[a])
        elif choice == 3:  # a unary
            a = pick(lambda t: True)
            t = kinds[a]
            op = UnaryOp.NOT if t is dtypes.bool else [UnaryOp.NEG, UnaryOp.ABS][rng.integers(2)]
            if t in (dtypes.float32, dtypes.float16) and rng.random() < 0.4:
                op = [UnaryOp.SQRT, UnaryOp.RSQRT][rng.integers(2)]  # correctly rounded on both sides
            program.append((Unary(op), (a,)))
            kinds.append(t)
        else:  # arithmetic
            a = pick(lambda t: True)
            b = pick(lambda t, a=a: t is kinds[a])
            t = kinds[a]
            ops = [BinaryOp.AND, BinaryOp.OR] if t is dtypes.bool else _FLOAT_OPS if t.is_float else _INT_OPS
            program.append((Binary(ops[rng.integers(len(ops))]), (a, b)))
            kinds.append(t)
    return program, types


@pytest.mark.parametrize("dtype", _PLAIN[:4])
@pytest.mark.parametrize("seed", range(6))
def test_generated_code_gives_the_reference_bits_on_the_host(dtype, seed, tmp_path):
    rng = np.random.default_rng(seed * 10 + _PLAIN.index(dtype))
    program, types = _random_program(rng, dtype)
    arrays = [_values(t.dtype, rng) for t in types]
    with np.errstate(all="ignore"):
        expected = _references(program, types, arrays)
    _assert_same_values(_run_on_host(program, types, arrays, tmp_path), expected, program)


@pytest.mark.parametrize("target", _PLAIN)
@pytest.mark.parametrize("source", _PLAIN)
def test_every_cast_gives_the_reference_bits_on_the_host(source, target, tmp_path):
    rng = np.random.default_rng(_PLAIN.index(source) * 5 + _PLAIN.index(target))
    types = [TensorType((_N,), source)]
    arrays = [_values(source, rng)]
    if source.is_float and target is dtypes.int32:
        arrays[0][np.isinf(arrays[0])] = 7.5  # NumPy's own float-to-int of infinities is undefined
    program = [(Cast(target), (0,))]
    if not (source is dtypes.int32 and target.is_float):  # back, unless int32 beyond 2**31 came back as float
        program.append((Cast(source), (1,)))
    with np.errstate(all="ignore"):
        expected = _references(program, types, arrays)
    _assert_same_values(_run_on_host(program, types, arrays, tmp_path), expected, program)
