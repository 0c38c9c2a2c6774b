"""The elementwise fusion pass: what it groups, what it leaves alone, and that a fused plan computes on the
NumPy reference exactly (bit for bit) what the unfused plan computes."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

import tripy as tp
from tripy.backend.cuda.elementwise_codegen import elementwise_source, reduction_source, standalone
from tripy.backend.registry import get_backend
from tripy.trace.elementwise_fusion import RECOMPUTE_LIMIT, RECOMPUTE_READS, computes, fuse_elementwise
from tripy.trace.evaluate import run_steps
from tripy.trace.node import topological_order
from tripy.trace.primitives import (
    Binary,
    BinaryOp,
    Cast,
    FusedElementwise,
    FusedReduce,
    Matmul,
    Reduce,
    ReduceOp,
    TensorType,
    Unary,
    UnaryOp,
    Where,
)
from tripy.trace.rewrite import Step, plan


def _planned(fn, *inputs):
    """The unfused plan of ``fn`` on evaluated tensors, and its output."""
    out = fn(*inputs)
    return plan(topological_order([out]), [out], ()), out


def _kernels(steps: list[Step]) -> list[Step]:
    """The steps that launch a kernel (arithmetic; views, slices and no-op casts do not)."""
    return [s for s in steps if computes(s) and type(s.prim).__name__ not in ("Permute", "Slice")]


def _has(tensors, tensor) -> bool:
    """Whether ``tensor`` is one of ``tensors`` (tensors compare elementwise, so by identity)."""
    return any(t is tensor for t in tensors)


def _ops(step: Step) -> list:
    """The operations of a fused step's program (enums, or class names for casts and wheres)."""
    return [getattr(p, "op", type(p).__name__) for p, _ in step.prim.program]


def _tensor(shape, dtype, seed=0, low=-3.0, high=3.0):
    rng = np.random.default_rng(seed)
    if dtype == tp.bool:
        return tp.Tensor(rng.random(shape) < 0.5)
    if dtype.is_float:
        return tp.Tensor(rng.uniform(low, high, shape).astype(np.float32), dtype=dtype)
    return tp.Tensor(rng.integers(-100, 100, shape).astype(np.int32), dtype=dtype)


def _same_bits(steps, fused, out):
    """Both plans on the NumPy backend: identical results, bit for bit."""
    numpy = get_backend("numpy")
    a = np.asarray(run_steps(steps, numpy)[id(out)])
    b = np.asarray(run_steps(fused, numpy)[id(out)])
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), np.abs(a.astype(np.float64) - b.astype(np.float64)).max()


def _layernorm(n=64, dtype=tp.float16, seed=3):
    """A LayerNorm over the last dimension written with the primitives, as the frontend composes it
    (``tp.LayerNorm`` itself may be one fused primitive with a kernel of its own)."""
    rng = np.random.default_rng(seed)
    weight = tp.Tensor(rng.uniform(0.5, 1.5, n).astype(np.float32))
    bias = tp.Tensor(rng.uniform(-1, 1, n).astype(np.float32))

    def norm(x):
        wide = tp.cast(x, tp.float32)
        centred = wide - tp.mean(wide, -1, keepdim=True)
        variance = tp.mean(centred * centred, -1, keepdim=True)
        return tp.cast(centred * tp.rsqrt(variance + 1e-5) * weight + bias, dtype)

    return norm


def _gelu_chain(x):
    """GPT-2's tanh GELU written with elementwise ops in float32 (``tp.gelu`` is one primitive of its own)."""
    wide = tp.cast(x, tp.float32)
    return tp.cast(0.5 * wide * (1.0 + tp.tanh(0.7978845608 * (wide + 0.044715 * wide * wide * wide))), x.dtype)


# -- what is grouped -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [tp.float32, tp.float16])
def test_a_gelu_chain_is_one_kernel(dtype):
    steps, out = _planned(_gelu_chain, _tensor((4, 32), dtype))
    assert len(_kernels(steps)) >= 8
    fused = fuse_elementwise(steps, [out])
    assert len(_kernels(fused)) == 1
    (step,) = _kernels(fused)
    assert isinstance(step.prim, FusedElementwise) and step.tensor is out
    assert UnaryOp.TANH in _ops(step) and _ops(step).count(BinaryOp.MUL) >= 5
    assert step.prim.shape == (4, 32) and step.prim.dtype == dtype
    _same_bits(steps, fused, out)


def test_bias_and_residual_adds_are_one_kernel():
    x, y, bias = _tensor((2, 3, 16), tp.float16, 1), _tensor((2, 3, 16), tp.float16, 2), _tensor((16,), tp.float16, 3)
    steps, out = _planned(lambda x, y, b: x + (y + b), x, y, bias)
    fused = fuse_elementwise(steps, [out])
    (step,) = _kernels(fused)
    assert isinstance(step.prim, FusedElementwise) and _ops(step).count(BinaryOp.ADD) == 2
    assert {id(t) for t in step.inputs} == {id(x), id(y), id(bias)}  # the bias enters without its reshape
    _same_bits(steps, fused, out)


def test_layernorm_is_three_kernels_two_of_them_sums():
    x = _tensor((2, 5, 64), tp.float16, 4)
    steps, out = _planned(_layernorm(), x)
    assert len(_kernels(steps)) >= 12
    fused = fuse_elementwise(steps, [out])
    kinds = [type(s.prim) for s in _kernels(fused)]
    assert kinds == [FusedReduce, FusedReduce, FusedElementwise]
    first, second, last = _kernels(fused)
    assert _ops(first) == ["Cast", ReduceOp.SUM]  # sum(float32(x)): each kernel recomputes the cast
    assert _ops(second)[-3:] == [BinaryOp.SUB, BinaryOp.MUL, ReduceOp.SUM]  # sum((x - mean)^2)
    assert UnaryOp.RSQRT in _ops(last) and last.tensor is out
    assert _has(second.inputs, first.tensor) and _has(last.inputs, second.tensor)
    _same_bits(steps, fused, out)


def test_layernorm_without_reduction_fusion_fuses_the_normalisation():
    steps, out = _planned(_layernorm(), _tensor((2, 5, 64), tp.float16, 5))
    fused = fuse_elementwise(steps, [out], reductions=False)
    reductions = [s for s in _kernels(fused) if isinstance(s.prim, Reduce)]
    assert len(reductions) == 2  # the sums stay CuPy's
    last = _kernels(fused)[-1]
    assert isinstance(last.prim, FusedElementwise) and last.tensor is out
    # variance / n + eps, rsqrt, the products with the centred input and the weight, the bias, the cast
    assert [op for op in _ops(last) if op in (UnaryOp.RSQRT, BinaryOp.ADD, BinaryOp.MUL)] == [
        BinaryOp.ADD,
        UnaryOp.RSQRT,
        BinaryOp.MUL,
        BinaryOp.MUL,
        BinaryOp.ADD,
    ]
    assert len(_kernels(fused)) <= 6 < len(_kernels(steps))
    _same_bits(steps, fused, out)


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16])
def test_softmax_is_three_kernels(dtype):
    steps, out = _planned(lambda x: tp.softmax(x * 0.125, dim=-1), _tensor((3, 4, 40), dtype, 6))
    fused = fuse_elementwise(steps, [out])
    high, total, probs = _kernels(fused)
    assert isinstance(high.prim, FusedReduce) and _ops(high)[-1] is ReduceOp.MAX
    assert isinstance(total.prim, FusedReduce) and _ops(total)[-3:] == [BinaryOp.SUB, UnaryOp.EXP, ReduceOp.SUM]
    assert isinstance(probs.prim, FusedElementwise) and BinaryOp.DIV in _ops(probs) and probs.tensor is out
    _same_bits(steps, fused, out)


def test_softmax_pieces_without_reduction_fusion():
    steps, out = _planned(lambda x: tp.softmax(x, dim=-1), _tensor((3, 40), tp.float32, 7))
    fused = fuse_elementwise(steps, [out], reductions=False)
    kinds = [type(s.prim).__name__ for s in _kernels(fused)]
    # max, exp(x - max) stored (both the sum and the quotient read it), sum, the quotient
    assert kinds == ["Reduce", "FusedElementwise", "Reduce", "Binary"]
    assert _ops(_kernels(fused)[1]) == [BinaryOp.SUB, UnaryOp.EXP]
    _same_bits(steps, fused, out)


def test_masked_scores_fuse_with_casts_where_and_comparisons():
    def masked(scores):
        future = tp.iota((8, 8), 1, tp.int32) > tp.iota((8, 8), 0, tp.int32) + 2
        return tp.cast(tp.masked_fill(tp.cast(scores * 0.5, tp.float32), future, float("-inf")), tp.float16)

    steps, out = _planned(masked, _tensor((2, 8, 8), tp.float16, 8))
    fused = fuse_elementwise(steps, [out])
    (step,) = [s for s in _kernels(fused) if type(s.prim).__name__ != "Iota"]
    assert {"Where", "Cast"} <= {str(o) for o in _ops(step)} and BinaryOp.GT in _ops(step)
    _same_bits(steps, fused, out)


def test_integer_and_bool_chains():
    def fn(a, b, m):
        wide = tp.cast(a, tp.int32) * 3 - tp.cast(b, tp.int32)
        return tp.where(m & (wide > 0), tp.cast(wide, tp.int8), tp.cast(-tp.abs(a), tp.int8))

    inputs = _tensor((4, 9), tp.int8, 9), _tensor((4, 9), tp.int8, 10), _tensor((4, 9), tp.bool, 11)
    steps, out = _planned(fn, *inputs)
    fused = fuse_elementwise(steps, [out])
    assert [type(s.prim) for s in _kernels(fused)] == [FusedElementwise]
    _same_bits(steps, fused, out)


# -- what is not -------------------------------------------------------------------------------------------
def test_a_value_read_by_a_matmul_is_stored_and_ends_the_chain():
    w = _tensor((16, 16), tp.float32, 12)
    steps, out = _planned(lambda x: tp.exp(x * 2.0 + 1.0) @ w + tp.tanh(x * 2.0 + 1.0), _tensor((4, 16), tp.float32))
    fused = fuse_elementwise(steps, [out])
    matmul = next(s for s in fused if isinstance(s.prim, Matmul))
    (product_input,) = [t for t in matmul.inputs if t is not w]
    producer = next(s for s in fused if s.tensor is product_input)
    assert isinstance(producer.prim, FusedElementwise) and _ops(producer)[-1] is UnaryOp.EXP
    last = fused[-1]
    assert last.tensor is out and isinstance(last.prim, FusedElementwise)
    assert _has(last.inputs, matmul.tensor)  # the chain after the product is another kernel
    _same_bits(steps, fused, out)


def test_a_shared_value_read_outside_the_chains_is_stored_once():
    x = _tensor((4, 16), tp.float32)
    w = _tensor((16, 16), tp.float32, 13)
    steps, out = _planned(lambda x: (lambda h: (h @ w) * h + h)(tp.exp(x) * 3.0), x)
    fused = fuse_elementwise(steps, [out])
    h_step = next(s for s in fused if isinstance(s.prim, FusedElementwise) and UnaryOp.EXP in _ops(s))
    last = fused[-1]
    assert _has(last.inputs, h_step.tensor) and UnaryOp.EXP not in _ops(last)  # read, not recomputed
    _same_bits(steps, fused, out)


def test_a_kept_value_stays_a_step_even_when_a_chain_reads_it():
    x = _tensor((8,), tp.float32)
    h = tp.exp(x) + 1.0
    out = tp.tanh(h) * 2.0
    steps = plan(topological_order([h, out]), [h, out], ())
    fused = fuse_elementwise(steps, [h, out])
    tensors = [s.tensor for s in fused]
    assert _has(tensors, h) and _has(tensors, out) and len(_kernels(fused)) == 2
    unkept = fuse_elementwise(steps, [out])
    assert [s.tensor for s in _kernels(unkept)] == [out]


@pytest.mark.parametrize("dtype", [tp.bfloat16, tp.float8, tp.int4])
def test_containers_are_not_fused(dtype):
    x = _tensor((4, 8), tp.float32)
    steps, out = _planned(lambda x: tp.cast(tp.cast(x, dtype) * tp.cast(x, dtype) + tp.cast(x, dtype), tp.float32), x)
    fused = fuse_elementwise(steps, [out])
    assert not any(isinstance(s.prim, (FusedElementwise, FusedReduce)) and s.prim.dtype == dtype for s in fused)
    for s in fused:
        if isinstance(s.prim, (FusedElementwise, FusedReduce)):
            types = [TensorType(t.shape, t.dtype) for t in s.inputs]
            assert all(t.dtype != dtype for t in types)
    assert any(isinstance(s.prim, Binary) and s.tensor.dtype == dtype for s in fused)
    _same_bits(steps, fused, out)


def test_bfloat16_arithmetic_between_plain_chains_splits_them():
    x = _tensor((4, 8), tp.float32)
    steps, out = _planned(lambda x: tp.exp(tp.cast(tp.cast(tp.exp(x) + 1.0, tp.bfloat16) * 2.0, tp.float32)) - 1.0, x)
    fused = fuse_elementwise(steps, [out])
    chains = [s for s in fused if isinstance(s.prim, FusedElementwise)]
    assert len(chains) == 2
    assert any(isinstance(s.prim, Binary) and s.tensor.dtype == tp.bfloat16 for s in fused)
    _same_bits(steps, fused, out)


def test_a_single_operation_with_reshapes_is_left_as_it_was():
    x, bias = _tensor((3, 8), tp.float32), _tensor((8,), tp.float32, 1)
    steps, out = _planned(lambda x: x + bias, x)
    assert fuse_elementwise(steps, [out]) == steps
    steps, out = _planned(lambda x: tp.sum(x, dim=1), x)
    assert fuse_elementwise(steps, [out]) == steps


def test_unsupported_operations_are_not_fused():
    a, b = _tensor((6,), tp.int32, 1), _tensor((6,), tp.int32, 2)
    steps, out = _planned(lambda a, b: (a % (tp.abs(b) + 1)) // 2, a, b)
    fused = fuse_elementwise(steps, [out])
    ops = [s.prim.op for s in fused if isinstance(s.prim, Binary)]
    assert BinaryOp.MOD in ops and BinaryOp.FLOOR_DIV in ops
    _same_bits(steps, fused, out)


def test_a_long_chain_read_twice_is_stored_not_recomputed():
    def long(x):
        for _ in range(RECOMPUTE_LIMIT + 1):
            x = x * 1.0001 + 0.5
        return x

    x = _tensor((4, 8), tp.float32)
    steps, out = _planned(lambda x: (lambda h: tp.exp(h) + tp.sum(h, dim=1, keepdim=True))(long(x)), x)
    fused = fuse_elementwise(steps, [out])
    stored = [s for s in fused if isinstance(s.prim, FusedElementwise) and len(s.prim.program) > RECOMPUTE_LIMIT]
    assert len(stored) == 1
    assert all(
        len(s.prim.program) < RECOMPUTE_LIMIT for s in fused if s is not stored[0] and hasattr(s.prim, "program")
    )
    _same_bits(steps, fused, out)

    short = fuse_elementwise(*_planned(lambda x: (lambda h: tp.exp(h) + tp.sum(h, dim=1, keepdim=True))(x * 2.0), x))
    assert len(_kernels(short)) == 2  # the short chain is recomputed by the sum and by the last kernel


def test_programs_are_numbered_inputs_first():
    steps, out = _planned(_layernorm(), _tensor((2, 5, 64), tp.float16, 14))
    for s in fuse_elementwise(steps, [out]):
        if isinstance(s.prim, (FusedElementwise, FusedReduce)):
            n = len(s.inputs)
            assert len({id(t) for t in s.inputs}) == n
            for k, (_, args) in enumerate(s.prim.program):
                assert all(0 <= a < n + k for a in args)
            types = [TensorType(t.shape, t.dtype) for t in s.inputs]
            assert s.prim.steps(types) == list(s.prim.program)
            assert s.prim.infer(types) == (s.tensor.shape, s.tensor.dtype)


def test_backends_without_generated_kernels_plan_unchanged():
    steps, out = _planned(_gelu_chain, _tensor((4,), tp.float32))
    assert get_backend("numpy").fuse_steps(steps, [out]) is steps


def test_random_chains_compute_the_same_bits_fused():
    rng = np.random.default_rng(15)
    unary = [UnaryOp.EXP, UnaryOp.TANH, UnaryOp.NEG, UnaryOp.ABS, UnaryOp.SIN, UnaryOp.SQRT, UnaryOp.ERF]
    binary = [BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV, BinaryOp.MAX, BinaryOp.MIN]
    for trial in range(20):
        dtype = [tp.float32, tp.float16][trial % 2]
        x, y = _tensor((3, 1, 7), dtype, trial), _tensor((1, 5, 7), dtype, trial + 100)

        def chain(x, y):
            values = [x, y]
            for _ in range(8):
                if rng.random() < 0.4:
                    values.append(Tensor_unary(rng.choice(unary), values[rng.integers(len(values))]))
                else:
                    a, b = rng.choice(len(values), 2)
                    values.append(Tensor_binary(binary[rng.integers(len(binary))], values[a], values[b]))
            return values[-1] + values[-2]

        steps, out = _planned(chain, x, y)
        fused = fuse_elementwise(steps, [out])
        assert len(_kernels(fused)) == 1
        _same_bits(steps, fused, out)


def Tensor_unary(op: UnaryOp, x):  # noqa: N802 - builds a primitive directly, as the frontend does
    return tp.Tensor.from_primitive(Unary(op), (x,))


def Tensor_binary(op: BinaryOp, a, b):  # noqa: N802
    return tp.Tensor.from_primitive(Binary(op), (a, b))


# -- the generated CUDA source compiles --------------------------------------------------------------------
def _every_operation_programs():
    """Programs that use every operation the pass fuses, on every plain dtype."""
    f32, f16, i32, i8, b = tp.float32, tp.float16, tp.int32, tp.int8, tp.bool
    shape = (4,)
    cases = []
    for dt in (f32, f16):
        program = [(Unary(op), (0,)) for op in UnaryOp if op is not UnaryOp.NOT]
        program += [(Binary(op), (0, 1)) for op in BinaryOp if op not in (BinaryOp.AND, BinaryOp.OR)]
        program = [
            p for p in program if not (isinstance(p[0], Binary) and p[0].op in (BinaryOp.FLOOR_DIV, BinaryOp.MOD))
        ]
        program += [(Where(), (2, 0, 1)), (Cast(i32), (0,)), (Cast(i8), (0,)), (Cast(b), (0,)), (Cast(f16), (0,))]
        cases.append((program, [TensorType(shape, dt), TensorType(shape, dt), TensorType(shape, b)]))
    for dt in (i32, i8):
        program = [(Unary(UnaryOp.NEG), (0,)), (Unary(UnaryOp.ABS), (0,))]
        program += [
            (Binary(op), (0, 1)) for op in (BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.MAX, BinaryOp.MIN)
        ]
        program += [
            (Binary(BinaryOp.LT), (0, 1)),
            (Cast(f32), (0,)),
            (Cast(f16), (0,)),
            (Cast(i8), (0,)),
            (Cast(b), (0,)),
        ]
        cases.append((program, [TensorType(shape, dt), TensorType(shape, dt), TensorType(shape, b)]))
    program = [(Binary(BinaryOp.AND), (0, 1)), (Binary(BinaryOp.OR), (0, 1)), (Unary(UnaryOp.NOT), (0,))]
    program += [
        (Binary(BinaryOp.EQ), (0, 1)),
        (Cast(f32), (0,)),
        (Cast(f16), (0,)),
        (Cast(i32), (0,)),
        (Cast(i8), (0,)),
    ]
    cases.append((program, [TensorType(shape, b), TensorType(shape, b)]))
    return cases


def _nvcc_compiles(sources: list[str], tmp_path) -> None:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed")
    for k, text in enumerate(sources):
        path = tmp_path / f"fused{k}.cu"
        path.write_text(text)
        result = subprocess.run(
            [nvcc, "-c", "-o", str(tmp_path / f"fused{k}.o"), str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{result.stderr}\n{text}"


def test_generated_sources_of_every_operation_compile(tmp_path):
    sources = []
    for program, types in _every_operation_programs():
        for end in range(1, len(program) + 1):  # each value once as the result
            sources.append(elementwise_source(tuple(program[:end]), types))
    assert len({s.name for s in sources}) == len(sources)  # distinct programs, distinct kernels
    _nvcc_compiles([standalone(s) for s in sources[::9]] + [_every_result_unit(sources)], tmp_path)


def _every_result_unit(sources) -> str:
    """One translation unit with every generated function (helpers once), called from one kernel."""
    helpers_end = sources[0].preamble.index("__device__ __forceinline__", sources[0].preamble.index("tripy_rmin"))
    helpers = sources[0].preamble[:helpers_end]
    bodies = [s.preamble[helpers_end:].replace("tripy_fused(", f"tripy_fused_{k}(") for k, s in enumerate(sources)]
    return helpers + "\n".join(bodies)


def test_generated_reductions_compile(tmp_path):
    f16, f32 = tp.float16, tp.float32
    types = [TensorType((4, 8), f16), TensorType((4, 1), f32)]
    sources = []
    for op in (ReduceOp.SUM, ReduceOp.MAX, ReduceOp.MIN):
        for out in (f16, f32):
            program = (
                (Cast(f32), (0,)),
                (Binary(BinaryOp.SUB), (2, 1)),
                (Cast(out), (3,)),
                (Reduce(op, (1,), True), (4,)),
            )
            generated = reduction_source(program, types)
            sources.append(standalone(generated.source, generated))
    _nvcc_compiles(sources, tmp_path)


def test_a_residual_stream_is_stored_before_recomputing_it_reads_many_arrays():
    streams = []

    def layers(x, *deltas):
        total = None
        for d in deltas:
            x = x + d * 2.0
            streams.append(x)
            s = tp.sum(x, dim=-1, keepdim=True)
            total = s if total is None else total + s
        return x + total

    inputs = [_tensor((4, 32), tp.float32, seed) for seed in range(7)]
    steps, out = _planned(layers, *inputs)
    fused = fuse_elementwise(steps, [out])
    stored = [s for s in fused if any(s.tensor is x for x in streams)]
    assert stored and all(isinstance(s.prim, FusedElementwise) for s in stored)
    for s in fused:
        if isinstance(s.prim, FusedReduce):  # a sum recomputes its stream from a few arrays, not from all
            assert sum(t.shape == (4, 32) for t in s.inputs) <= RECOMPUTE_READS + 1
    _same_bits(steps, fused, out)
