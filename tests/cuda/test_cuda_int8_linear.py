"""The fused int8 path of the cuda backend: exact int32 accumulation, results equal to the numpy reference,
weight-only int8, alignment padding, the weight cache, and the patterns left unfused."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from cuda_testing import EPS, cuda_backend, numpy_backend

import tripy as tp

pytestmark = pytest.mark.gpu


@pytest.fixture
def on(request):
    """Run a function under a backend and restore the setting afterwards."""
    previous = tp.config.backend

    def run(name, fn):
        tp.config.backend = name
        try:
            return fn()
        finally:
            tp.config.backend = previous

    return run


@pytest.fixture
def large_rows_path():
    """Keep few-row Linears on the quantize + GEMM path (the tests that use it are about that path; the
    one-kernel path for up to 16 rows is tested in test_cuda_w8a16.py)."""
    cb = cuda_backend()
    cb.int8.use_w8a16 = False
    yield
    cb.int8.use_w8a16 = True


def _stats():
    return dict(cuda_backend().int8.stats)


def _linear(k, n, *, dtype=tp.float32, axis=0, input_scale=0.02, bias=True, seed=0, unit_scales=False):
    """A quantized Linear on the current backend with random weights and scales."""
    rng = np.random.default_rng(seed)
    linear = tp.Linear(k, n, bias=bias, dtype=dtype, quant_dtype=tp.int8, weight_quant_dim=axis)
    weight = rng.uniform(-1, 1, size=(n, k)).astype(np.float32)
    if unit_scales:
        weight = rng.integers(-127, 128, size=(n, k)).astype(np.float32)
    linear.weight = tp.Parameter(weight, dtype=dtype)
    if bias:
        linear.bias = tp.Parameter(rng.uniform(-1, 1, size=(n,)).astype(np.float32), dtype=dtype)
    if unit_scales:
        scale = np.ones((n,) if axis is not None else (), np.float32)
    else:
        scale = (np.abs(weight).max(axis={0: 1, 1: 0, None: None}[axis]) / 127).astype(np.float32)
    linear.weight_scale = tp.Parameter(scale)
    if input_scale is not None:
        linear.input_scale = tp.Parameter(np.float32(1.0 if unit_scales else input_scale))
    return linear


def _both(build, x: np.ndarray, dtype, on):
    """The layer built and applied on numpy and on cuda; returns (reference, cuda) host arrays."""
    ref = on("numpy", lambda: build()(tp.Tensor(x, dtype=dtype)).numpy())
    got = on("cuda", lambda: build()(tp.Tensor(x, dtype=dtype)).numpy())
    return ref, got


def test_int8_gemm_is_exact_past_float32_precision():
    from tripy.backend.cuda.int8_gemm import int8_gemm

    cb = cuda_backend()
    rng = np.random.default_rng(1)
    for m, k, n in [(64, 4096, 128), (1, 5, 3), (17, 33, 7), (16, 768, 2304)]:
        a = rng.integers(-128, 128, size=(m, k)).astype(np.int8)
        w = rng.integers(-128, 128, size=(n, k)).astype(np.int8)
        a[0, :], w[0, :] = 127, 127  # one sum of 127*127*k, past 2**24 for large k
        got = int8_gemm(cb.from_numpy(a, tp.int8), cb.from_numpy(w, tp.int8))
        assert got.dtype == np.int32 and got.shape == (m, n)
        np.testing.assert_array_equal(cb.to_numpy(got, tp.int32), a.astype(np.int64) @ w.T.astype(np.int64))


@pytest.mark.parametrize("m, k, n", [(8, 256, 64), (3, 30, 10), (5, 7, 9), (1, 64, 2304), (1, 8, 4), (3, 24, 5)])
@pytest.mark.parametrize("axis", [0, None])
def test_fused_linear_with_unit_scales_equals_the_reference_exactly(on, m, k, n, axis):
    # Integer weights and inputs with scale 1: every dequantized value is an integer, every sum is below
    # 2**24, so the reference's float32 product is exact and the fused int32 one must equal it bit for bit.
    x = np.random.default_rng(2).integers(-127, 128, size=(m, k)).astype(np.float32)
    before = _stats()["fused"]
    ref, got = _both(lambda: _linear(k, n, axis=axis, bias=False, unit_scales=True), x, tp.float32, on)
    assert _stats()["fused"] == before + 1
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.bfloat16])
@pytest.mark.parametrize("axis", [0, None])
@pytest.mark.parametrize("shape", [(32, 64), (2, 9, 64), (4, 64)])
def test_fused_linear_matches_the_reference(on, dtype, axis, shape):
    x = np.random.default_rng(3).uniform(-2, 2, size=shape).astype(np.float32)
    before = _stats()["fused"]
    ref, got = _both(lambda: _linear(64, 48, dtype=dtype, axis=axis), x, dtype, on)
    assert _stats()["fused"] == before + 1
    assert got.dtype == ref.dtype and got.shape == ref.shape == (*shape[:-1], 48)
    scale = np.abs(ref.astype(np.float32)).max()
    np.testing.assert_allclose(
        got.astype(np.float32), ref.astype(np.float32), rtol=4 * EPS[dtype], atol=4 * EPS[dtype] * scale
    )


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16])
def test_weight_only_int8_matches_the_reference_and_caches_the_weight(on, dtype):
    x = np.random.default_rng(4).uniform(-2, 2, size=(16, 96)).astype(np.float32)
    before = _stats()
    ref = on("numpy", lambda: _linear(96, 40, dtype=dtype, input_scale=None)(tp.Tensor(x, dtype=dtype)).numpy())

    def twice():
        layer = _linear(96, 40, dtype=dtype, input_scale=None)
        first = layer(tp.Tensor(x, dtype=dtype)).numpy()
        return first, layer(tp.Tensor(x, dtype=dtype)).numpy()

    first, second = on("cuda", twice)
    after = _stats()
    assert after["weight_only"] == before["weight_only"] + 2
    assert after["cache_hits"] >= before["cache_hits"] + 1
    np.testing.assert_array_equal(first, second)
    scale = np.abs(ref.astype(np.float32)).max()
    np.testing.assert_allclose(
        first.astype(np.float32), ref.astype(np.float32), rtol=8 * EPS[dtype], atol=8 * EPS[dtype] * scale
    )


def test_quantized_weight_is_cached_and_released(on):
    def run():
        cb = cuda_backend()
        layer = _linear(64, 32)
        x = tp.Tensor(np.ones((4, 64), np.float32))
        s0 = _stats()
        layer(x).eval()
        layer(x).eval()
        s1 = _stats()
        assert s1["cache_misses"] == s0["cache_misses"] + 1 and s1["cache_hits"] == s0["cache_hits"] + 1
        entries = len(cb.int8.cache)
        layer.weight = tp.Parameter(np.zeros((32, 64), np.float32))  # a new weight value: quantized again
        out = layer(x).numpy()
        assert _stats()["cache_misses"] == s1["cache_misses"] + 1
        np.testing.assert_array_equal(out, np.broadcast_to(layer.bias.numpy(), (4, 32)))
        del layer
        gc.collect()
        assert len(cb.int8.cache) <= entries - 1  # entries die with their weights

    on("cuda", run)


def test_scale_along_k_is_left_unfused_and_still_right(on):
    x = np.random.default_rng(5).uniform(-2, 2, size=(8, 64)).astype(np.float32)
    before = _stats()["fused"]
    ref, got = _both(lambda: _linear(64, 16, axis=1), x, tp.float32, on)
    assert _stats()["fused"] == before
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_hand_written_pattern_and_shared_intermediates(on):
    rng = np.random.default_rng(6)
    x_np, w_np = rng.uniform(-1, 1, (12, 32)).astype(np.float32), rng.uniform(-1, 1, (32, 20)).astype(np.float32)

    def build():
        x, w = tp.Tensor(x_np), tp.Tensor(w_np)  # weight stored (K, N): no transpose in the trace
        sx, sw = tp.Tensor(np.float32(0.01)), tp.Tensor(np.full((20,), 0.008, np.float32))
        xd = tp.dequantize(tp.quantize(x, sx, tp.int8), sx, tp.float32)
        wd = tp.dequantize(tp.quantize(w, sw, tp.int8, dim=1), sw, tp.float32, dim=1)
        out = xd @ wd
        return out, xd

    def run():
        out, xd = build()
        total = out + tp.sum(xd)  # the dequantized input is needed besides the product
        return total.numpy(), out.numpy()

    before = _stats()["fused"]
    ref = on("numpy", run)
    got = on("cuda", run)
    assert _stats()["fused"] >= before + 1
    for r, g in zip(ref, got, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())


def test_fusion_can_be_switched_off(on):
    """With the backend's rewrites off, a Linear written with the primitives runs unfused (``tp.Linear`` makes
    its fused primitive itself); fused, unfused and ``tp.Linear`` give the same values."""
    cb = cuda_backend()
    x = np.random.default_rng(7).uniform(-2, 2, size=(8, 64)).astype(np.float32)

    def written_out():
        layer = _linear(64, 16)

        def qdq(t, scale, dim=None):
            return tp.dequantize(tp.quantize(t, scale, tp.int8, dim), scale, tp.float32, dim)

        x_dq = qdq(tp.Tensor(x), layer.input_scale)
        return (x_dq @ tp.transpose(qdq(layer.weight, layer.weight_scale, 0), 0, 1) + layer.bias).numpy()

    before = _stats()["fused"]
    module = on("cuda", lambda: _linear(64, 16)(tp.Tensor(x)).numpy())
    fused = on("cuda", written_out)
    assert _stats()["fused"] == before + 2
    rewrites, cb.rewrites = cb.rewrites, ()
    try:
        plain = on("cuda", written_out)
        assert _stats()["fused"] == before + 2
    finally:
        cb.rewrites = rewrites
    np.testing.assert_array_equal(module, fused)
    np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-5 * np.abs(plain).max())
    assert numpy_backend() is not cb


# -- the Hopper kernel with the scales in its epilogue (tripy/backend/cuda/fused_gemm.py) ----------------------


def _hopper_kernel():
    from tripy.backend.cuda import fused_gemm

    kernel = fused_gemm.kernel()
    if kernel is None:
        pytest.skip("the fused int8 kernel is built for Hopper (sm_90) GPUs only")
    return kernel


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.bfloat16])
@pytest.mark.parametrize("axis", [0, None])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("m", [1, 16, 64, 65, 300])  # both tile configurations (<= 64 rows and more)
def test_hopper_kernel_matches_the_reference_and_the_cublas_path(on, large_rows_path, dtype, axis, bias, m):
    _hopper_kernel()
    cb = cuda_backend()
    x = np.random.default_rng(m).uniform(-2, 2, size=(m, 256)).astype(np.float32)
    before = _stats()["fused_kernel"]
    ref, got = _both(lambda: _linear(256, 80, dtype=dtype, axis=axis, bias=bias), x, dtype, on)
    assert _stats()["fused_kernel"] == before + 1
    cb.int8.use_fused_kernel = False
    try:
        layer = on("cuda", lambda: _linear(256, 80, dtype=dtype, axis=axis, bias=bias))
        cublas = on("cuda", lambda: layer(tp.Tensor(x, dtype=dtype)).numpy())
    finally:
        cb.int8.use_fused_kernel = True
    assert _stats()["fused_kernel"] == before + 1
    assert got.dtype == ref.dtype and got.shape == ref.shape == (m, 80)
    scale = np.abs(ref.astype(np.float32)).max()
    for other in (ref, cublas):
        np.testing.assert_allclose(
            got.astype(np.float32), other.astype(np.float32), rtol=4 * EPS[dtype], atol=4 * EPS[dtype] * scale
        )


def test_hopper_kernel_accumulates_exactly_in_int32(on):
    # Inputs and weights at +-127 with unit scales: sums of 127*127*4096 = 66 million, past float32's 2**24
    # of exact integers. Accumulated in int32 and scaled once, each output is float32(exact sum).
    _hopper_kernel()
    m, k, n = 96, 4096, 64
    rng = np.random.default_rng(8)
    x = rng.choice(np.array([-127.0, 127.0], np.float32), size=(m, k))
    layer_weights = []

    def run():
        layer = _linear(k, n, axis=0, bias=False, unit_scales=True, seed=9)
        layer_weights.append(layer.weight.numpy())
        x[0] = 127.0 * np.sign(layer_weights[0][0])  # row 0 against weight row 0: every product positive
        return layer(tp.Tensor(x)).numpy()

    before = _stats()["fused_kernel"]
    got = on("cuda", run)
    assert _stats()["fused_kernel"] == before + 1
    exact = x.astype(np.int64) @ layer_weights[0].astype(np.int64).T
    assert np.abs(exact).max() > 2**24
    np.testing.assert_array_equal(got, exact.astype(np.float32))


def _rows_for_each_configuration(kernel, n):
    """Row counts (not multiples of the tile) for which the library picks each of its configurations."""
    found = {}
    for tiles_m in (1, 2, 4, 8, 13, 17, 33, 66, 132, 149, 300):
        m = 128 * tiles_m - 37
        found.setdefault(kernel.config(m, n), m)
    return found


def test_every_tile_configuration_is_exact_after_the_quantize_kernel(on):
    # Integer inputs and weights with unit scales: every output is an exact integer, whichever configuration
    # (tile shape, cluster, schedule) the library picks, and whether or not its launch overlaps the quantize
    # kernel before it (programmatic dependent launch).
    from tripy.backend.cuda import fused_gemm

    kernel = _hopper_kernel()
    k, n = 64, 1024
    rows = _rows_for_each_configuration(kernel, n)
    assert sorted(rows) == sorted(fused_gemm.CONFIGS), rows
    layer = on("cuda", lambda: _linear(k, n, axis=0, bias=False, unit_scales=True, seed=11))
    weight = layer.weight.numpy().astype(np.float64)
    for config, m in rows.items():
        x = np.random.default_rng(m).integers(-127, 128, size=(m, k)).astype(np.float32)
        before = _stats()["fused_kernel"]
        got = on("cuda", lambda x=x: layer(tp.Tensor(x)).numpy())
        assert _stats()["fused_kernel"] == before + 1, config
        exact = (x.astype(np.float64) @ weight.T).astype(np.float32)  # |sums| <= 127 * 127 * 64: exact
        np.testing.assert_array_equal(got, exact, err_msg=f"{config}, M={m}")


@pytest.mark.parametrize("k, n", [(24, 80), (256, 20), (30, 10)])
def test_unaligned_shapes_keep_the_cublas_path(on, large_rows_path, k, n):
    # The kernel needs K % 16 == 0 and rows of N outputs in whole 16 bytes; other shapes use cuBLAS.
    _hopper_kernel()
    x = np.random.default_rng(10).uniform(-2, 2, size=(8, k)).astype(np.float32)
    stats = _stats()
    ref, got = _both(lambda: _linear(k, n, dtype=tp.float16), x, tp.float16, on)
    after = _stats()
    assert after["fused"] == stats["fused"] + 1 and after["fused_kernel"] == stats["fused_kernel"]
    scale = np.abs(ref.astype(np.float32)).max()
    np.testing.assert_allclose(
        got.astype(np.float32), ref.astype(np.float32), rtol=4 * EPS[tp.float16], atol=4 * EPS[tp.float16] * scale
    )


def _reference_quantize(x32: np.ndarray, scale: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        q = np.rint(x32 / np.float32(scale))
    return np.where(np.isnan(q), 0, np.clip(q, -128, 127)).astype(np.int8)


SCALES = [1 / 127, 0.02, 0.3, 1.0, 7.0, -0.05, 2.0**-10, 1e-6, 1e-19, 2e-20, 1e-38, 1e-40, 9e19, 3e38]


@pytest.mark.parametrize("dtype", [tp.float16, tp.bfloat16])
def test_input_quantization_kernel_is_exact_for_every_16_bit_value(dtype):
    # The linear path quantizes its input without a division per value (a reciprocal and one correction):
    # it must give rint(x / scale) bit for bit, for every float16/bfloat16 value and scales near and far from 1.
    from tripy.backend.cuda import int8_kernels as kernels

    cb = cuda_backend()
    bits = np.arange(65536, dtype=np.uint16)
    x = cb.from_numpy(bits.view(np.float16) if dtype is tp.float16 else bits.view(tp.bfloat16.numpy), dtype)
    x32 = cb.to_numpy(x, dtype).astype(np.float32)
    name = "float16" if dtype is tp.float16 else "bfloat16"
    for scale in SCALES:
        s = cb.from_numpy(np.float32(scale), tp.float32)
        got = cb.to_numpy(kernels.quantize_rows(x.reshape(64, 1024), name, s, 64, 1024), tp.int8).ravel()
        np.testing.assert_array_equal(got, _reference_quantize(x32, scale), err_msg=f"scale {scale}")


def test_input_quantization_kernel_is_exact_for_float32():
    from tripy.backend.cuda import int8_kernels as kernels

    cb = cuda_backend()
    rng = np.random.default_rng(11)
    x = np.concatenate(
        [
            rng.standard_normal(1 << 16).astype(np.float32) * 50,
            (rng.integers(-128, 128, 1 << 14) + 0.5).astype(np.float32),  # ties to even
            np.array([np.inf, -np.inf, np.nan, 3e38, -3e38, 1e-45, 0.0, -0.0], np.float32),
        ]
    )
    x = x[: x.size // 8 * 8].reshape(-1, 8)
    for scale in SCALES:
        s = cb.from_numpy(np.float32(scale), tp.float32)
        got = cb.to_numpy(kernels.quantize_rows(cb.from_numpy(x, tp.float32), "float32", s, *x.shape), tp.int8)
        np.testing.assert_array_equal(got, _reference_quantize(x, scale), err_msg=f"scale {scale}")


def test_hopper_kernel_reads_the_input_scale_of_each_call(on):
    # The kernel's per-channel factor sx * sw[n] is formed on every call: a new input scale on the same
    # layer (same cached weight) must give the new result.
    _hopper_kernel()
    x = np.random.default_rng(12).uniform(-2, 2, size=(70, 256)).astype(np.float32)

    def run(scales):
        layer = _linear(256, 264, dtype=tp.float16, axis=0)  # 264 outputs: several N tiles
        outs = []
        for sx in scales:
            layer.input_scale = tp.Parameter(np.float32(sx))
            outs.append(layer(tp.Tensor(x, dtype=tp.float16)).numpy().astype(np.float32))
        return outs

    before = _stats()["fused_kernel"]
    got = on("cuda", lambda: run([0.02, 0.05, 0.02]))
    ref = on("numpy", lambda: run([0.02, 0.05, 0.02]))
    assert _stats()["fused_kernel"] == before + 3
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r, rtol=4 * EPS[tp.float16], atol=4 * EPS[tp.float16] * np.abs(r).max())
    assert not np.allclose(got[0], got[1])


def test_inputs_not_on_16_byte_boundaries_are_quantized_right(on, large_rows_path):
    # A view starting 2 bytes into its buffer (float16): the vector loads need a 16-byte start, so it is copied.
    import cupy

    _hopper_kernel()
    host = np.random.default_rng(13).uniform(-2, 2, size=(8 * 256 + 1,)).astype(np.float16)
    view = cupy.asarray(host)[1:].reshape(8, 256)
    assert view.data.ptr % 16 != 0
    got = on("cuda", lambda: _linear(256, 64, dtype=tp.float16)(tp.Tensor(view)).numpy().astype(np.float32))
    ref = on(
        "numpy",
        lambda: (
            _linear(256, 64, dtype=tp.float16)(tp.Tensor(host[1:].reshape(8, 256), dtype=tp.float16))
            .numpy()
            .astype(np.float32)
        ),
    )
    np.testing.assert_allclose(got, ref, rtol=4 * EPS[tp.float16], atol=4 * EPS[tp.float16] * np.abs(ref).max())


def test_a_failing_hopper_kernel_falls_back_to_cublas(on, large_rows_path, monkeypatch):
    from tripy.backend.cuda import fused_gemm

    kernel = _hopper_kernel()
    cb = cuda_backend()

    def broken(*args, **kwargs):
        raise RuntimeError("fused int8 kernel failed with code 4001")

    monkeypatch.setattr(fused_gemm, "kernel", lambda: broken)
    broken.supports = kernel.supports
    broken.launcher = lambda *shape: broken  # launches worked out per shape fail the same way
    x = np.random.default_rng(14).uniform(-2, 2, size=(8, 256)).astype(np.float32)
    try:
        with pytest.warns(RuntimeWarning, match="using cuBLAS from now on"):
            got = on("cuda", lambda: _linear(256, 64)(tp.Tensor(x)).numpy())
        ref = on("numpy", lambda: _linear(256, 64)(tp.Tensor(x)).numpy())
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    finally:
        cb.int8.fused_failed = False
