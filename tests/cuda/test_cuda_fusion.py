"""Fused elementwise chains and reductions on the GPU: compiled functions (CUDA graphs planned with
``CudaBackend.fuse_steps``) against eager, unfused CUDA evaluation.

Tolerances, per family:

* Arithmetic, casts, comparisons, where (float32, float16, int32, int8, bool): identical results.
* Chains with transcendental functions (exp, tanh, erf, log, sin, cos, pow): within one ulp of the result
  type. The fused kernels call the same CUDA functions with the same compiler options as the unfused ones,
  so the results are expected identical; the test allows the ulp that different inlining could change.
* Fused sums (LayerNorm, softmax): the float32 sum is added in another order than the unfused kernel's
  (CuPy's reduction kernel against CUB), which changes it by a few float32 roundings of the sum of
  magnitudes; after the division or normalisation that is a few float32 ulps of the result, plus one
  rounding where the result is float16. Maxima are exact.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from cuda_testing import EPS, cuda_backend

import tripy as tp
from tripy.trace.primitives import Unary, UnaryOp

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def fused_cuda():
    previous, backend = tp.config.backend, cuda_backend()
    tp.config.backend, fusion = "cuda", backend.fusion
    backend.fusion = "all"
    yield backend
    backend.fusion = fusion
    tp.config.backend = previous


def _compile(fn, *infos, donate=()):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TensorRT may not run here: the CUDA-graph path is the point
        return tp.compile(fn, args=list(infos), donate=donate)


def _input(shape, dtype, seed=0, low=-3.0, high=3.0):
    rng = np.random.default_rng(seed)
    if dtype == tp.bool:
        return tp.Tensor(rng.random(shape) < 0.5)
    if dtype.is_float:
        return tp.Tensor(rng.uniform(low, high, shape).astype(np.float32), dtype=dtype)
    return tp.Tensor(rng.integers(-120, 120, shape).astype(np.int32), dtype=dtype)


def _erf(x):
    return tp.Tensor.from_primitive(Unary(UnaryOp.ERF), (x,))  # no public op computes erf


def _run(fn, inputs):
    """``fn`` eagerly (unfused) and compiled (fused, in a CUDA graph): both results as host arrays."""
    expected = fn(*inputs).numpy()
    stats = cuda_backend().fused.stats
    before, failed = stats["elementwise"] + stats["reductions"], stats["failed"]
    exe = _compile(fn, *[tp.InputInfo(tuple(t.shape), t.dtype) for t in inputs])
    assert exe.backend == "cuda-graph"
    first, second = exe(*inputs).numpy(), exe(*inputs).numpy()
    np.testing.assert_array_equal(first, second)  # replays are deterministic
    assert stats["elementwise"] + stats["reductions"] > before  # fused kernels ran (warm-up and capture only)
    assert stats["failed"] == failed  # and none fell back to its steps
    launched = stats["elementwise"] + stats["reductions"]
    exe(*inputs)
    assert stats["elementwise"] + stats["reductions"] == launched  # replays launch the captured kernels
    return first, expected


def _ulps(got, ref, dtype):
    g, r = got.astype(np.float64), ref.astype(np.float64)
    scale = np.maximum(np.abs(r), np.finfo(np.float16 if dtype == tp.float16 else np.float32).tiny)
    same = (g == r) | (np.isnan(g) & np.isnan(r))  # infinities included
    with np.errstate(invalid="ignore"):
        return np.where(same, 0.0, np.abs(g - r) / (scale * EPS[dtype]))


ARITHMETIC = {
    "bias and residual": (lambda x, y, b: x + (y + b), [((2, 3, 64), None), ((2, 3, 64), None), ((64,), None)]),
    "scale, shift, clamp": (lambda x: tp.minimum(tp.maximum(x * 0.5 - 1.0, -1.0), 1.0) / 3.0, [((4, 33), None)]),
    "cast round trip": (
        lambda x: tp.cast(tp.cast(x * 3.0, tp.float16), tp.float32) - tp.cast(x, tp.float32),
        [((5, 7), None)],
    ),
}


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16])
@pytest.mark.parametrize("name", list(ARITHMETIC))
def test_arithmetic_chains_equal_eager_exactly(name, dtype):
    fn, shapes = ARITHMETIC[name]
    inputs = [_input(shape, dtype, seed) for seed, (shape, _) in enumerate(shapes)]
    got, expected = _run(fn, inputs)
    np.testing.assert_array_equal(got, expected)


def test_integer_bool_and_where_chains_equal_eager_exactly():
    def fn(a, b, m):
        wide = tp.cast(a, tp.int32) * 3 - tp.cast(b, tp.int32)
        return tp.where(m & (wide > 0), tp.cast(wide, tp.int8), tp.cast(-tp.abs(a), tp.int8) + b)

    inputs = [_input((6, 40), tp.int8, 1), _input((6, 40), tp.int8, 2), _input((6, 40), tp.bool, 3)]
    got, expected = _run(fn, inputs)
    np.testing.assert_array_equal(got, expected)


def test_float_to_integer_casts_truncate_and_saturate_as_eager():
    x = tp.Tensor(np.array([[-300.7, -128.5, -1.5, -0.5, 0.5, 1.5, 127.9, 300.2, np.nan, np.inf]], np.float32))
    got, expected = _run(lambda x: tp.cast(x * 1.0, tp.int8), [x])
    np.testing.assert_array_equal(got, expected)
    got, expected = _run(lambda x: tp.cast(x * 2.0, tp.int32) + 1, [x])
    np.testing.assert_array_equal(got, expected)


def _masked(x):
    future = tp.iota(x.shape, 2, tp.int32) > tp.iota(x.shape, 1, tp.int32)
    return tp.cast(tp.masked_fill(tp.cast(x * 0.125, tp.float32), future, float("-inf")), tp.float16)


TRANSCENDENTAL = {
    "gelu": lambda x: tp.gelu(x * 2.0 + 1.0),
    "exp, tanh": lambda x: tp.tanh(x) - tp.exp(-x),
    "erf, log, sqrt": lambda x: _erf(x) + tp.log(tp.abs(x) + 1.0) * tp.sqrt(tp.abs(x)),
    "sin, cos, pow": lambda x: tp.sin(x) * tp.cos(x) + tp.abs(x) ** 1.5,
    "masked scores": lambda x: _masked(x),
}


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16])
@pytest.mark.parametrize("name", list(TRANSCENDENTAL))
def test_transcendental_chains_equal_eager_within_an_ulp(name, dtype):
    got, expected = _run(TRANSCENDENTAL[name], [_input((2, 8, 96), dtype, 4)])
    out_dtype = tp.float16 if got.dtype == np.float16 else tp.float32
    ulps = _ulps(got, expected, out_dtype)
    assert ulps.max() <= 1.0, (ulps.max(), int((ulps > 0).sum()))
    assert np.array_equal(np.isinf(got), np.isinf(expected))


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16])
def test_softmax_is_three_fused_kernels_within_the_sum_order_tolerance(dtype):
    x = _input((2, 4, 7, 200), dtype, 5)
    fn = lambda x: tp.softmax(x * 0.3, dim=-1)  # noqa: E731
    got, expected = _run(fn, [x])
    # the sum of n positive terms in another order: a relative error within n float32 roundings, then the
    # quotient's own rounding and, for float16, the result's
    tolerance = 200 * EPS[tp.float32] + (EPS[tp.float16] if dtype == tp.float16 else 2 * EPS[tp.float32])
    np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64), rtol=tolerance, atol=1e-30)


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


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16])
@pytest.mark.parametrize("n", [64, 768])
def test_layernorm_within_the_sum_order_tolerance(dtype, n):
    fn = _layernorm(n, dtype, 6)
    x = _input((3, 5, n), dtype, 7, -4.0, 6.0)
    got, expected = _run(fn, [x])
    # mean and variance each off by up to n float32 roundings of their magnitude: the normalised value
    # (|y| <= ~3 here) moves by a few times n * eps32 * |y|, then float16 rounds once (one ulp).
    eps32 = EPS[tp.float32]
    atol = 8 * n * eps32 * 3.0
    rtol = EPS[tp.float16] if dtype == tp.float16 else 0.0
    np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol)


def test_max_reductions_of_chains_are_exact():
    got, expected = _run(lambda x: tp.max(tp.exp(x) * 2.0 - x, dim=-1, keepdim=True), [_input((5, 300), tp.float32, 8)])
    np.testing.assert_array_equal(got, expected)


def test_gpt2_block_step_fused_equals_unfused_within_tolerance():
    """A GPT-2 block decode step over a static cache (float16), compiled with and without fusion."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "nanogpt"))
    from model import Block, GPTConfig

    config = GPTConfig(n_layer=1, n_head=4, n_embd=64, dtype=tp.float16)
    block = Block(config)
    rng = np.random.default_rng(9)
    for name, param in block.named_parameters():
        module = block
        *path, last = name.split(".")
        for part in path:
            module = getattr(module, part)
        setattr(module, last, tp.Parameter(rng.normal(0, 0.2, param.shape).astype(np.float32), dtype=param.dtype))

    def step(x, k_cache, v_cache, start):
        return block.step(x, k_cache, v_cache, start)

    cache = (1, 4, 32, 16)
    infos = [tp.InputInfo((1, 1, 64), tp.float16), tp.InputInfo(cache, tp.float16), tp.InputInfo(cache, tp.float16)]
    infos.append(tp.InputInfo((1,), tp.int32))
    args = [
        _input((1, 1, 64), tp.float16, 10),
        _input(cache, tp.float16, 11, -1, 1),
        _input(cache, tp.float16, 12, -1, 1),
    ]
    args.append(tp.Tensor(np.array([5], np.int32)))
    backend = cuda_backend()
    results = {}
    for fusion in ("none", "all"):
        backend.fusion = fusion
        results[fusion] = [t.numpy() for t in _compile(step, *infos)(*args)]
    backend.fusion = "all"
    for got, expected in zip(results["all"], results["none"], strict=True):
        # LayerNorm sums in another order move a float16 activation by about one ulp; the products after it
        # carry that on (|out| stays below ~8 here): a few float16 ulps of the largest value
        scale = max(1.0, float(np.abs(expected.astype(np.float32)).max()))
        np.testing.assert_allclose(
            got.astype(np.float32), expected.astype(np.float32), atol=8 * EPS[tp.float16] * scale
        )
