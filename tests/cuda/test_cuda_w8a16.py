"""The weight-only int8 Linear for few rows (:mod:`tripy.backend.cuda.w8a16_gemv`) against the NumPy reference.

Error model (every tolerance below is this bound). With ``P[m, n] = sum_k |x[m, k] * q[n, k] * s[n]|`` and
``u`` the unit roundoff of the Linear's type (2**-11 float16, 2**-8 bfloat16, 2**-24 float32):

- the reference rounds each dequantized weight ``q * s`` to the type (at most ``u * P`` in all), sums K
  products in float32 (at most ``K * 2**-24 * P``), rounds the product to the type and rounds again after
  adding the bias (``u`` of each);
- the kernel multiplies exact int8 values (float16, bfloat16 and int8 products are exact in float32), sums
  them in float32 (at most ``K * 2**-23 * P``, allowing tensor cores to truncate rather than round), applies
  ``s`` and the bias in float32 and rounds once to the type.

So ``|kernel - reference| <= (u + 3 K 2**-24) P + 3 u (|reference| + |bias|) + 2**-24`` (the last term: one
float16 subnormal step). A wrong pairing of weights with activations errs by about ``P / sqrt(K)``, far above.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from cuda_testing import cuda_backend, numpy_backend

import tripy as tp
from tripy.trace.primitives import Dequantize, Quantize

pytestmark = pytest.mark.gpu

UNIT_ROUNDOFF = {tp.float32: 2.0**-24, tp.float16: 2.0**-11, tp.bfloat16: 2.0**-8}


@pytest.fixture
def on():
    """Run a function under a backend and restore the setting afterwards."""
    previous = tp.config.backend

    def run(name, fn):
        tp.config.backend = name
        try:
            return fn()
        finally:
            tp.config.backend = previous

    return run


def _weights(k: int, n: int, axis, bias: bool, seed: int):
    rng = np.random.default_rng(seed)
    weight = rng.uniform(-1, 1, size=(n, k)).astype(np.float32)
    scale = (np.abs(weight).max(axis={0: 1, None: None}[axis]) / 127).astype(np.float32)
    b = rng.uniform(-1, 1, size=(n,)).astype(np.float32) if bias else None
    return weight, scale, b


def _layer(weight, scale, b, dtype, axis, input_scale=None) -> tp.Linear:
    n, k = weight.shape
    layer = tp.Linear(k, n, bias=b is not None, dtype=dtype, quant_dtype=tp.int8, weight_quant_dim=axis)
    layer.weight = tp.Parameter(weight, dtype=dtype)
    if b is not None:
        layer.bias = tp.Parameter(b, dtype=dtype)
    layer.weight_scale = tp.Parameter(scale)
    if input_scale is not None:
        layer.input_scale = tp.Parameter(np.float32(input_scale))
    return layer  # without an input scale: weight-only


def _abs_products(x: np.ndarray, weight: np.ndarray, scale: np.ndarray, dtype, axis) -> np.ndarray:
    """``P`` of the error model: sum over k of |x * q * s|, from the reference's own quantization."""
    nb = numpy_backend()
    w = nb.from_numpy(weight.astype(dtype.numpy), dtype)
    q = nb.kernels[Quantize](Quantize(tp.int8, axis), w, scale)
    deq = nb.kernels[Dequantize](Dequantize(tp.float32, axis), q, scale).astype(np.float64)
    return np.abs(x.astype(np.float64)).reshape(-1, x.shape[-1]) @ np.abs(deq).T


def _check(got: np.ndarray, ref: np.ndarray, p: np.ndarray, bias, dtype, k: int) -> None:
    u = UNIT_ROUNDOFF[dtype]
    g, r = got.astype(np.float64).reshape(p.shape), ref.astype(np.float64).reshape(p.shape)
    b = np.abs(bias.astype(dtype.numpy).astype(np.float64)) if bias is not None else 0.0
    tol = (u + 3 * k * 2.0**-24) * p + 3 * u * (np.abs(r) + b) + 2.0**-24
    err = np.abs(g - r)
    assert np.all(err <= tol), f"max error {err.max():.3g}, worst excess {(err - tol).max():.3g}"


SHAPES = [(1, 256, 192), (16, 320, 96), (4, 1024, 64), (9, 64, 40), (2, 3, 100, 37), (7, 33, 5), (16, 48, 129)]


@pytest.mark.parametrize("dtype", [tp.float16, tp.bfloat16, tp.float32])
@pytest.mark.parametrize("axis", [0, None])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_w8a16_matches_the_reference(on, dtype, axis, bias, shape):
    *lead, k, n = shape
    x = np.random.default_rng(1).uniform(-2, 2, size=(*lead, k)).astype(np.float32)
    x = x.astype(dtype.numpy).astype(np.float32)  # representable in the type: both sides see the same input
    weight, scale, b = _weights(k, n, axis, bias, seed=2)
    ref = on("numpy", lambda: _layer(weight, scale, b, dtype, axis)(tp.Tensor(x, dtype=dtype)).numpy())
    stats = cuda_backend().int8.stats
    before = stats["w8a16"]
    got = on("cuda", lambda: _layer(weight, scale, b, dtype, axis)(tp.Tensor(x, dtype=dtype)).numpy())
    assert stats["w8a16"] == before + 1  # the int8-weight kernel ran, not the float GEMM
    assert got.dtype == ref.dtype and got.shape == ref.shape == (*lead, n)
    _check(got, ref, _abs_products(x, weight, scale, dtype, axis), b, dtype, k)


@pytest.mark.parametrize("dtype", [tp.float16, tp.float32])
def test_more_rows_than_the_kernel_takes_use_the_float_gemm(on, dtype):
    k, n = 96, 40
    x = np.random.default_rng(3).uniform(-2, 2, size=(17, k)).astype(dtype.numpy).astype(np.float32)
    weight, scale, b = _weights(k, n, 0, True, seed=4)
    ref = on("numpy", lambda: _layer(weight, scale, b, dtype, 0)(tp.Tensor(x, dtype=dtype)).numpy())
    stats = cuda_backend().int8.stats
    before = dict(stats)
    got = on("cuda", lambda: _layer(weight, scale, b, dtype, 0)(tp.Tensor(x, dtype=dtype)).numpy())
    assert stats["w8a16"] == before["w8a16"] and stats["weight_only"] == before["weight_only"] + 1
    _check(got, ref, _abs_products(x, weight, scale, dtype, 0), b, dtype, k)


def test_a_layer_switches_between_the_kernel_and_the_float_gemm(on):
    """One cached weight serves both paths (decode rows, then a prefill of many rows)."""
    dtype, k, n = tp.float16, 128, 72
    weight, scale, b = _weights(k, n, 0, True, seed=5)
    rng = np.random.default_rng(6)
    xs = [rng.uniform(-2, 2, size=(m, k)).astype(np.float16).astype(np.float32) for m in (1, 40, 16)]
    refs = [on("numpy", lambda x=x: _layer(weight, scale, b, dtype, 0)(tp.Tensor(x, dtype=dtype)).numpy()) for x in xs]

    def run():
        layer = _layer(weight, scale, b, dtype, 0)
        return [layer(tp.Tensor(x, dtype=dtype)).numpy() for x in xs]

    for x, got, ref in zip(xs, on("cuda", run), refs, strict=True):
        _check(got, ref, _abs_products(x, weight, scale, dtype, 0), b, dtype, k)


def _kernel_case(m, k, n, dtype_name, seed=7):
    import cupy

    from tripy.backend.cuda import w8a16_gemv

    rng = np.random.default_rng(seed)
    q = rng.integers(-128, 128, size=(n, k)).astype(np.int8)
    s = rng.uniform(0.001, 0.01, size=(n,)).astype(np.float32)
    x = rng.uniform(-2, 2, size=(m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, size=(n,)).astype(np.float32)
    dtype = {"float16": tp.float16, "bfloat16": tp.bfloat16, "float32": tp.float32}[dtype_name]
    cb = cuda_backend()
    x = x.astype(dtype.numpy)
    b = b.astype(dtype.numpy)
    args = (
        cb.from_numpy(x, dtype),
        w8a16_gemv.prepare_weight(cupy.asarray(q)),
        cupy.asarray(s),
        cb.from_numpy(b, dtype),
    )
    exact = x.astype(np.float64) @ (q.astype(np.float64) * s[:, None]).T + b.astype(np.float64)
    p = np.abs(x.astype(np.float64)) @ np.abs(q.astype(np.float64) * s[:, None]).T + np.abs(b.astype(np.float64))
    return args, exact, p, dtype


def _config(text: str):
    from tripy.backend.cuda.w8a16_gemv import Config

    kind, *numbers = text.split("/")
    return Config(kind, *map(int, numbers))


#: (configuration, rows, type, K) covering each configuration the benchmark compares, with partial blocks
#: (N = 131), a partial last chunk of K, vector loads (K % 16 == 0) and element loads (K odd).
KERNEL_CASES = [
    ("mma/16/4/1", 1, "float16", 1025),
    ("mma/16/8/4", 16, "bfloat16", 1040),
    ("mma/16/4/2", 1, "float16", 1040),
    ("mma/16/8/2", 16, "float16", 1025),
    ("mma/16/16/1", 3, "float16", 1040),
    ("mma/16/16/2", 16, "float16", 1040),
    ("mma/16/8/4/1", 1, "float16", 1040),
    ("mma/32/8/2", 5, "float16", 1040),
    ("mma/32/8/4", 1, "float16", 1040),
    ("mma/32/8/4/1", 16, "float16", 1040),
    ("mma/32/8/4/2", 1, "bfloat16", 1040),
    ("mma/32/4/4", 16, "float16", 1040),
    ("mma/32/16/2", 16, "float16", 1025),
    ("mma/64/8/2", 9, "bfloat16", 1040),
    ("mma/64/8/2", 16, "float16", 1040),
    ("simt/1/4/1", 1, "float16", 1040),
    ("simt/2/4/2", 5, "float32", 1025),
    ("simt/4/8/2", 1, "bfloat16", 1040),
    ("simt/4/4/2", 1, "float16", 1040),
    ("simt/4/4/2/1", 2, "float16", 1040),
    ("simt/8/4/1", 16, "float32", 1040),
]


@pytest.mark.parametrize("case", KERNEL_CASES, ids=lambda c: "-".join(map(str, c)).replace("/", "_"))
def test_every_kernel_configuration_is_right(case):
    """Within the kernel's own part of the error model, against the exact float64 result."""
    from tripy.backend.cuda import w8a16_gemv

    config, m, dtype_name, k = case
    n = 131
    (x, w, s, b), exact, p, dtype = _kernel_case(m, k, n, dtype_name)
    out = w8a16_gemv.gemv(x, dtype_name, w, s, b, n, config=_config(config))
    got = cuda_backend().to_numpy(out, dtype).astype(np.float64)
    tol = 3 * k * 2.0**-24 * p + UNIT_ROUNDOFF[dtype] * np.abs(exact) + 2.0**-24
    err = np.abs(got - exact)
    assert np.all(err <= tol), f"max error {err.max():.3g}, worst excess {(err - tol).max():.3g}"


def test_unaligned_activations_are_read_without_vector_loads():
    """A view starting 2 bytes into its buffer (not 16-byte aligned) takes the element-wise loads."""
    import cupy

    from tripy.backend.cuda import w8a16_gemv

    (x, w, s, b), exact, p, dtype = _kernel_case(3, 64, 32, "float16")
    shifted = cupy.empty(x.size + 1, dtype=x.dtype)[1:].reshape(x.shape)
    shifted[...] = x
    assert shifted.data.ptr % 16 != 0
    got = cuda_backend().to_numpy(w8a16_gemv.gemv(shifted, "float16", w, s, b, 32), dtype).astype(np.float64)
    err = np.abs(got - exact)
    assert np.all(err <= 3 * 64 * 2.0**-24 * p + 2.0**-11 * np.abs(exact) + 2.0**-24)


def test_results_do_not_depend_on_the_run(on):
    """Partial sums are added in a fixed order: two calls give the same bits."""
    weight, scale, b = _weights(4096, 64, 0, True, seed=8)
    x = np.random.default_rng(9).uniform(-2, 2, size=(16, 4096)).astype(np.float32)

    def run():
        layer = _layer(weight, scale, b, tp.float16, 0)
        return layer(tp.Tensor(x, dtype=tp.float16)).numpy(), layer(tp.Tensor(x, dtype=tp.float16)).numpy()

    first, second = on("cuda", run)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("m", [1, 16])
@pytest.mark.parametrize("dtype", [tp.float16, tp.bfloat16])
@pytest.mark.parametrize("input_scale", [None, 0.02], ids=["weight-only", "int8"])
def test_w8a16_runs_inside_a_captured_cuda_graph(on, m, dtype, input_scale):
    """``tp.compile`` on cuda captures the kernel in a CUDA graph; replays equal eager evaluation bit for bit
    (the same kernel on the same inputs) and the reference within the error model (weight-only)."""
    k, n = 512, 80
    weight, scale, b = _weights(k, n, 0, True, seed=10)
    rng = np.random.default_rng(11)
    xs = [rng.uniform(-2, 2, size=(m, k)).astype(dtype.numpy).astype(np.float32) for _ in range(2)]
    # int8 Linears take the one-kernel path up to W8A8_MAX_ROWS rows; every input-scaled call counts as fused
    counter = "w8a16" if input_scale is None else ("w8a8" if m <= 8 else "fused")

    def run():
        layer = _layer(weight, scale, b, dtype, 0, input_scale)
        stats = cuda_backend().int8.stats
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TensorRT may not run on this GPU: the CUDA-graph path is the point
            exe = tp.compile(layer, args=[tp.InputInfo((m, k), dtype)])
        assert exe.backend == "cuda-graph"
        exe(tp.Tensor(xs[0], dtype=dtype)).numpy()  # plans and captures the bucket if not done yet
        before = stats[counter]
        replays = [exe(tp.Tensor(x, dtype=dtype)).numpy() for x in xs]
        assert stats[counter] == before  # replays launch the captured kernel; no Python kernel call
        eager = [layer(tp.Tensor(x, dtype=dtype)).numpy() for x in xs]
        assert stats[counter] == before + len(xs)
        return replays, eager

    replays, eager = on("cuda", run)
    for x, got, again in zip(xs, replays, eager, strict=True):
        np.testing.assert_array_equal(got, again)
        if input_scale is None:
            ref = on("numpy", lambda x=x: _layer(weight, scale, b, dtype, 0)(tp.Tensor(x, dtype=dtype)).numpy())
            _check(got, ref, _abs_products(x, weight, scale, dtype, 0), b, dtype, k)


def _gelu64(v: np.ndarray) -> np.ndarray:
    return 0.5 * v * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (v + 0.044715 * v**3)))


@pytest.mark.parametrize("dtype_name", ["float16", "bfloat16"])
@pytest.mark.parametrize("m", [1, 16])
@pytest.mark.parametrize("k", [1040, 1025])
@pytest.mark.parametrize("epilogue", ["none", "gelu", "residual", "gelu+residual"])
@pytest.mark.parametrize("weight_type", ["int8", "float"])
def test_float_weights_and_epilogues(dtype_name, m, k, epilogue, weight_type):
    """16-bit weights (no scale), the tanh GELU and the residual: against float64, the error model's kernel
    part per step (the GELU's slope is at most 1.13; tanhf and the float32 steps add 2**-21 of the value)."""
    import cupy

    from tripy.backend.cuda import w8a16_gemv

    n = 131
    (x, w8, s, b), exact, p, dtype = _kernel_case(m, k, n, dtype_name, seed=12)
    cb = cuda_backend()
    rng = np.random.default_rng(13)
    if weight_type == "float":  # a float weight of the activations' type, no scale
        wf = rng.uniform(-1, 1, size=(n, k)).astype(dtype.numpy)
        weight, scale = cb.from_numpy(wf, dtype), None
        xs = cb.to_numpy(x, dtype).astype(np.float64)
        exact = xs @ wf.astype(np.float64).T + cb.to_numpy(b, dtype).astype(np.float64)
        p = np.abs(xs) @ np.abs(wf.astype(np.float64)).T + np.abs(cb.to_numpy(b, dtype).astype(np.float64))
    else:
        weight, scale = w8, s
    residual = None
    if "residual" in epilogue:
        res_host = rng.uniform(-4, 4, size=(m, n)).astype(dtype.numpy)
        residual = cb.from_numpy(res_host, dtype)
    out = w8a16_gemv.gemv(x, dtype_name, weight, scale, b, n, residual=residual, gelu="gelu" in epilogue)
    got = cb.to_numpy(out, dtype).astype(np.float64)
    u = UNIT_ROUNDOFF[dtype]
    ref, err = exact, 3 * k * 2.0**-24 * p + u * np.abs(exact) + 2.0**-24
    if "gelu" in epilogue:
        ref = _gelu64(exact)
        err = 1.13 * (err + u * np.abs(exact)) + (u + 2.0**-21) * np.abs(ref) + 2.0**-24
    if residual is not None:
        ref = res_host.astype(np.float64) + ref
        err = err + u * np.abs(ref) + 2.0**-24
    assert np.all(np.abs(got - ref) <= err), f"max error {np.abs(got - ref).max():.3g}"
    assert isinstance(out, cupy.ndarray) and out.shape == (m, n)


@pytest.mark.parametrize("dtype", [tp.float16, tp.bfloat16, tp.float32])
@pytest.mark.parametrize("axis", [0, None])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 256, 192), (8, 320, 96), (2, 3, 100, 37), (7, 33, 5), (5, 64, 40)])
def test_w8a8_few_rows_match_the_int8_gemm_path(on, dtype, axis, bias, shape):
    """Input-scaled int8 Linears on up to 8 rows: the one-kernel path (input quantized in the kernel) and
    the quantize + int8 GEMM path form the same exact int32 sums and apply ``acc * (sx * sw[n]) + bias``
    in float32: they differ at most by the rounding of that step (FMA or not), one unit of the output type."""
    *lead, k, n = shape
    x = np.random.default_rng(14).uniform(-2, 2, size=(*lead, k)).astype(dtype.numpy).astype(np.float32)
    weight, scale, b = _weights(k, n, axis, bias, seed=15)
    cb = cuda_backend()

    def run():
        return _layer(weight, scale, b, dtype, axis, input_scale=0.02)(tp.Tensor(x, dtype=dtype)).numpy()

    before = cb.int8.stats["w8a8"]
    few = on("cuda", run)
    assert cb.int8.stats["w8a8"] == before + 1
    cb.int8.use_w8a16 = False
    try:
        gemm = on("cuda", run)
    finally:
        cb.int8.use_w8a16 = True
    assert cb.int8.stats["w8a8"] == before + 1
    assert few.dtype == gemm.dtype and few.shape == gemm.shape == (*lead, n)
    g, r = few.astype(np.float64), gemm.astype(np.float64)
    u = UNIT_ROUNDOFF[dtype]
    assert np.all(np.abs(g - r) <= 2 * u * np.abs(r) + 2.0**-24), f"max difference {np.abs(g - r).max():.3g}"


@pytest.mark.parametrize("m", [1, 5, 8, 12, 16])
def test_w8a8_sums_exactly_in_int32(on, m):
    """+-127 inputs and weights with unit scales: sums of 127 * 127 * 4096, past float32's 2**24 exact
    integers, are exact in int32 and scaled once: each output is float32(exact sum). Up to 8 rows through
    the int8 Linear, above that (the kernel takes 16) through the kernel itself."""
    import cupy

    from tripy.backend.cuda import w8a16_gemv

    k, n = 4096, 48
    rng = np.random.default_rng(16)
    weight = rng.choice(np.array([-127.0, 127.0], np.float32), size=(n, k))
    x = rng.choice(np.array([-127.0, 127.0], np.float32), size=(m, k))
    x[0] = weight[0]  # row 0 against weight row 0: every product positive
    ones = np.ones((n,), np.float32)
    cb = cuda_backend()
    if m <= w8a16_gemv.W8A8_MAX_ROWS:
        before = cb.int8.stats["w8a8"]
        got = on("cuda", lambda: _layer(weight, ones, None, tp.float32, 0, input_scale=1.0)(tp.Tensor(x)).numpy())
        assert cb.int8.stats["w8a8"] == before + 1
    else:
        w = w8a16_gemv.prepare_weight(cupy.asarray(weight.astype(np.int8)))
        one = cupy.ones((1,), np.float32)
        out = w8a16_gemv.w8a8_gemv(cupy.asarray(x), "float32", one, w, cupy.asarray(ones), None, n)
        got = cupy.asnumpy(out)
    exact = x.astype(np.int64) @ weight.astype(np.int64).T
    assert np.abs(exact).max() > 2**24
    np.testing.assert_array_equal(got, exact.astype(np.float32))
