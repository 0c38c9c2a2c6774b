"""The fused attention kernel of the cuda backend against the numpy reference (the primitive's steps).

Tolerance. The kernel rounds as the steps do (scores to the input dtype before and after the scale, the
probabilities to the input dtype before the value product); it differs only in the order of its float32
sums, and CUDA's ``expf`` is not NumPy's. :func:`bound` adds up what that can change, worst case, for
inputs of unit roundoff-relative ``e`` (``EPS``: 2**-10 for float16, 2**-23 for float32) and float32's
``f = 2**-23``:

- a score: both float32 dot products are within ``D f/2 * sum_d |q_d k_d|`` of the exact one; the two
  roundings to the dtype may then land one ulp apart (``e * |q.k|``), and after the scale again
  (``e * |s|``): ``ds = scale * sum|qk| * (D f + e) + e |s|``;
- a probability: scores moved by ``ds`` move ``p_j`` by a factor within ``exp(+-2 ds)``; float32
  ``exp(s - max)`` (a few ulps, and the rounding of ``s - max``), the sum over T keys and the division add
  ``2 (4 + spread + T) f``; the rounding to the dtype may land one ulp apart (``e``);
- the output: ``sum_j p_j v_j`` in float32 (``T f`` apart) and its rounding (one ulp, ``e * max|v|``).

So ``|got - ref| <= max|v| * (2 ds + 2 (4 + spread + T) f + 2 e + T f)`` (slightly enlarged for the
probabilities' sum exceeding 1 by their roundings). Worst cases rarely meet: the float32 sums almost never
round to another float16 score or probability, so what is left is the output's own rounding. For float16
(and bfloat16) the tests also require almost every element (99 %) to be within one ulp of
``sum_j p_j |v_j|``, the size of the terms it sums (one ulp of the output itself is less where they cancel).
For float32, where nothing is rounded to a coarser type and the sums' orders are all that differs, a score
moves by a few ulps of itself, which moves the output by as many ulps times the score (the exponential's
derivative): 99 % within ``4 (1 + max|s|)`` ulps of that size.
"""

from __future__ import annotations

import numpy as np
import pytest
from cuda_testing import EPS, cuda_backend, numpy_backend

import tripy as tp
from tripy.trace.primitives import Attention

pytestmark = pytest.mark.gpu

F32 = 2.0**-23


def _scale_in(dtype, scale: float) -> float:
    """The scale as the steps hold it: a ``Full`` of the inputs' dtype."""
    return float(np.asarray(np.float32(scale)).astype(dtype.numpy).astype(np.float64))


def _visible(s: int, t: int, causal: bool, start: int) -> np.ndarray:
    """(S, T) mask of the keys each query row sees."""
    if not causal:
        return np.ones((s, t), bool)
    return np.arange(t)[None, :] <= start + np.arange(s)[:, None]


def bound(q, k, v, scale: float, dtype, causal: bool, start: int) -> float:
    """The largest difference the kernel may have from the steps (see the module docstring)."""
    e = EPS[dtype]
    q64, k64, v64 = (np.asarray(a, np.float64) for a in (q, k, v))
    d, t = q.shape[-1], k.shape[-2]
    sd = _scale_in(dtype, scale)
    seen = np.broadcast_to(_visible(q.shape[-2], t, causal, start), (*q.shape[:-1], t))
    l1 = np.abs(q64) @ np.abs(k64).swapaxes(-1, -2)
    s = sd * (q64 @ k64.swapaxes(-1, -2))
    if not seen.any():
        return 0.0
    ds = np.max(np.where(seen, sd * l1 * (d * F32 + e) + e * np.abs(s), 0.0))
    high = np.max(np.where(seen, s, -np.inf), axis=-1)
    low = np.min(np.where(seen, s, np.inf), axis=-1)
    spread = float(np.max(np.where(np.isfinite(high), high - low, 0.0)))
    last = t if not causal else max(0, min(t, start + q.shape[-2]))
    vmax = float(np.abs(v64[..., :last, :]).max()) if last else 0.0
    rel = 2 * ds + 2 * (4 + spread + t) * F32 + e
    return vmax * (1.01 * rel + t * F32 + e)


def magnitude(q, k, v, scale: float, dtype, causal: bool, start: int) -> np.ndarray:
    """``sum_j p_j |v_j|`` in float64: the size of the terms each output sums (an output may cancel to less)."""
    q64, k64, v64 = (np.asarray(a, np.float64) for a in (q, k, v))
    s = _scale_in(dtype, scale) * (q64 @ k64.swapaxes(-1, -2))
    seen = _visible(q.shape[-2], k.shape[-2], causal, start)
    s = np.where(seen, s, -np.inf)
    with np.errstate(invalid="ignore"):
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
    last = k.shape[-2] if not causal else max(0, min(k.shape[-2], start + q.shape[-2]))
    return np.nan_to_num(p[..., :last]) @ np.abs(v64[..., :last, :])


def largest_score(q, k, scale: float, dtype, causal: bool, start: int) -> float:
    """``max |q . k_j| * scale`` over the visible keys (0 where none is)."""
    s = np.abs(_scale_in(dtype, scale) * (np.asarray(q, np.float64) @ np.asarray(k, np.float64).swapaxes(-1, -2)))
    seen = _visible(q.shape[-2], k.shape[-2], causal, start)
    return float(np.max(np.where(seen, s, 0.0), initial=0.0))


def _ulp(x: np.ndarray, dtype) -> np.ndarray:
    """One ulp of ``dtype`` at each value of ``x`` (the smallest subnormal's at 0)."""
    a = np.abs(np.asarray(x, np.float64))
    tiny = {tp.float16: 2.0**-24, tp.bfloat16: 2.0**-133, tp.float32: 2.0**-149}[dtype]
    with np.errstate(divide="ignore"):
        return np.maximum(np.exp2(np.floor(np.log2(np.where(a > 0, a, 1.0)))) * EPS[dtype], tiny)


def _run(backend, prim, arrays, dtype):
    values = [backend.from_numpy(a, dtype) for a in arrays[:3]]
    if len(arrays) > 3:
        values.append(backend.from_numpy(arrays[3], tp.int32))
    out = backend.kernels[Attention](prim, *values)
    return backend.to_numpy(out, dtype)


def _inputs(shape_q, t, dtype, seed, dv=None, low=-2.0, high=2.0):
    rng = np.random.default_rng(seed)
    *lead, s, d = shape_q
    dv = d if dv is None else dv

    def draw(shape):
        return rng.uniform(low, high, size=shape).astype(np.float32).astype(dtype.numpy)

    return draw((*lead, s, d)), draw((*lead, t, d)), draw((*lead, t, dv))


def _compare(q, k, v, dtype, causal, start, scale, *, garbage=None, expect_kernel=True, tol=None):
    """Kernel vs steps; returns the cuda result. ``garbage``: (k, v) to give the kernel instead of the clean ones;
    ``tol``: a tighter bound than :func:`bound` where the case allows one."""
    prim = Attention(scale, causal)
    pos = [np.array([start], np.int32)] if causal else []
    ref = _run(numpy_backend(), prim, [q, k, v, *pos], dtype)
    stats = cuda_backend().kernels[Attention].stats
    before = dict(stats)
    kk, vv = garbage if garbage is not None else (k, v)
    got = _run(cuda_backend(), prim, [q, kk, vv, *pos], dtype)
    used = "kernel" if expect_kernel else "steps"
    assert stats[used] == before[used] + 1, (before, stats)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    tol = bound(q, k, v, scale, dtype, causal, start) if tol is None else tol
    g, r = got.astype(np.float64), ref.astype(np.float64)
    assert np.array_equal(np.isnan(g), np.isnan(r)), "NaN where the steps have none (or the reverse)"
    fin = ~np.isnan(r)
    err = np.abs(g - r)[fin]
    assert err.size == 0 or err.max() <= tol, f"max error {err.max():.3g} > bound {tol:.3g}"
    if err.size:
        ulps = 1 if dtype is not tp.float32 else 4 * (1 + largest_score(q, k, scale, dtype, causal, start))
        unit = _ulp(magnitude(q, k, v, scale, dtype, causal, start), dtype)[fin]
        within = np.mean(err <= ulps * unit)
        assert within >= 0.99, f"only {within:.4f} of the elements within {ulps:.1f} ulp (max error {err.max():.3g})"
    return got


@pytest.fixture(
    params=[(1, False), (8, False), (1, True), (8, True)],
    ids=["one-block", "cluster-8", "one-block-prefetch", "cluster-8-prefetch"],
)
def cluster(request):
    """Query rows on one block each or split over a cluster of 8 (where the GPU has clusters), with values
    loaded after the softmax or prefetched with the first keys."""
    import cupy

    kernel = cuda_backend().kernels[Attention]
    previous, before = (kernel.cluster, kernel.prefetch), kernel.stats["cluster"]
    kernel.cluster, kernel.prefetch = request.param
    yield request.param[0]
    kernel.cluster, kernel.prefetch = previous
    if request.param[0] > 1 and int(cupy.cuda.Device().compute_capability) >= 90:
        assert kernel.stats["cluster"] > before, "the cluster kernel did not run"


@pytest.mark.parametrize("dtype", [tp.float16, tp.float32])
@pytest.mark.parametrize("t", [1, 7, 96, 1024])
@pytest.mark.parametrize("s", [1, 32])
@pytest.mark.parametrize("mode", ["full", "causal-0", "causal-end"])
def test_kernel_matches_the_steps(dtype, t, s, mode, cluster):
    q, k, v = _inputs((2, 3, s, 64), t, dtype, seed=t * 100 + s)
    causal = mode != "full"
    start = t - s if mode == "causal-end" else 0
    _compare(q, k, v, dtype, causal, start, 1 / 8)


@pytest.mark.parametrize("dtype", [tp.float16, tp.float32])
@pytest.mark.parametrize("s, t, start", [(1, 96, 40), (1, 1024, 511), (32, 1024, 100), (32, 96, 0), (1, 7, 0)])
def test_unwritten_cache_positions_never_reach_the_result(dtype, s, t, start, cluster):
    # Positions from start + s on are not written: NaN, inf and -inf there give the result of a zeroed cache.
    q, k, v = _inputs((2, 3, s, 64), t, dtype, seed=start + t)
    written = start + s
    k[..., written:, :], v[..., written:, :] = 0, 0
    junk_k, junk_v = k.copy(), v.copy()
    pattern = np.array([np.nan, np.inf, -np.inf, 6.0e4 if dtype is tp.float16 else 3e38], np.float32)
    for a in (junk_k, junk_v):
        tail = a[..., written:, :]
        tail[...] = np.resize(pattern, tail.shape).astype(dtype.numpy)
    clean = _compare(q, k, v, dtype, True, start, 1 / 8)
    dirty = _compare(q, k, v, dtype, True, start, 1 / 8, garbage=(junk_k, junk_v))
    assert np.isfinite(dirty.astype(np.float64)).all()
    np.testing.assert_array_equal(dirty, clean)


def test_rows_that_see_no_key_are_nan_as_in_the_steps(cluster):
    q, k, v = _inputs((1, 2, 4, 64), 8, tp.float16, seed=3)
    got = _compare(q, k, v, tp.float16, True, -2, 1 / 8)  # rows 0 and 1 see nothing, rows 2 and 3 keys 0..1
    assert np.isnan(got[..., :2, :].astype(np.float32)).all() and np.isfinite(got[..., 2:, :].astype(np.float32)).all()


def test_start_past_the_cache_sees_every_key():
    q, k, v = _inputs((1, 2, 3, 64), 16, tp.float16, seed=4)
    full = _compare(q, k, v, tp.float16, False, 0, 1 / 8)
    late = _compare(q, k, v, tp.float16, True, 1000, 1 / 8)
    np.testing.assert_array_equal(late, full)


def test_scores_are_rounded_to_the_input_dtype_as_the_steps_round_them():
    # Exact dot products 2048 + m/4 (m = 0..7): float16 rounds them to 2048 or 2050 (ties to even), which the
    # softmax then weighs by e**-2 or e**0; unrounded scores would give weights e**(m/4). The products are
    # exact in float32 on both sides, so the scores agree exactly: what remains is float32 exp, sum and
    # division (a few ulps each, T for the sum), the probabilities' and the output's roundings.
    t = 64
    q = np.zeros((1, 1, 1, 64), np.float16)
    q[..., :2] = 1
    k = np.zeros((1, 1, t, 64), np.float16)
    k[..., 0] = 2048
    k[..., 1] = (np.arange(t) % 8) / 4
    v = np.zeros((1, 1, t, 64), np.float16)
    v[..., 0] = np.arange(t) % 8
    e = EPS[tp.float16]
    tol = 7.0 * (1.01 * (e + 2 * (6 + t) * F32) + t * F32 + e)
    got = _compare(q, k, v, tp.float16, False, 0, 1.0, tol=tol)
    m = np.arange(t) % 8
    weights = np.exp(np.where(m >= 5, 0.0, -2.0))
    rounded = float((weights * m).sum() / weights.sum())
    assert abs(float(got[0, 0, 0, 0]) - rounded) <= tol
    unrounded = np.exp(m / 4)
    assert abs(float(got[0, 0, 0, 0]) - float((unrounded * m).sum() / unrounded.sum())) > 10 * tol


@pytest.mark.parametrize(
    "dtype, d, seed", [(tp.bfloat16, 64, 0), (tp.float16, 128, 1), (tp.float16, 32, 2), (tp.float32, 128, 3)]
)
def test_other_dtypes_and_head_dims(dtype, d, seed, cluster):
    q, k, v = _inputs((3, 2, 5, d), 200, dtype, seed=seed)
    _compare(q, k, v, dtype, True, 150, 1 / np.sqrt(d))
    _compare(q, k, v, dtype, False, 0, 0.3)


@pytest.mark.parametrize("d, dv", [(48, 48), (64, 32), (512, 512)])
def test_shapes_the_kernel_does_not_take_run_the_steps(d, dv):
    q, k, v = _inputs((1, 2, 3, d), 10, tp.float16, seed=d, dv=dv)
    _compare(q, k, v, tp.float16, True, 4, 0.125, expect_kernel=False)


def test_strided_inputs_and_rank_3():
    import cupy

    cb = cuda_backend()
    q, k, v = _inputs((4, 6, 64), 50, tp.float16, seed=9)
    ref = _run(numpy_backend(), Attention(0.125, True), [q, k, v, np.array([20], np.int32)], tp.float16)
    kt = cupy.asarray(np.ascontiguousarray(k.swapaxes(-1, -2))).swapaxes(-1, -2)  # a transposed view
    got = cb.kernels[Attention](
        Attention(0.125, True),
        cupy.asarray(q),
        kt,
        cupy.asarray(v)[:, :, :],
        cupy.asarray(np.array([20], np.int32)),
    )
    g, r = cupy.asnumpy(got).astype(np.float64), ref.astype(np.float64)
    assert np.abs(g - r).max() <= bound(q, k, v, 0.125, tp.float16, True, 20)


@pytest.mark.parametrize("s", [1, 5])
def test_a_query_viewed_from_a_fused_projection_is_read_in_place(s, cluster):
    # As in GPT-2: q is (B, S, H, D) slices of a (B, S, 3 H D) projection, transposed to (B, H, S, D).
    import cupy

    from tripy.backend.cuda.attention import query_layout

    b, h, d, t, start = 2, 12, 64, 300, 290
    rng = np.random.default_rng(s)
    qkv = rng.uniform(-2, 2, (b, s, 3 * h * d)).astype(np.float16)
    q = np.ascontiguousarray(qkv[:, :, : h * d].reshape(b, s, h, d).transpose(0, 2, 1, 3))
    _, k, v = _inputs((b, h, s, d), t, tp.float16, seed=s + 20)
    view = cupy.asarray(qkv)[:, :, : h * d].reshape(b, s, h, d).transpose(0, 2, 1, 3)
    assert not view.flags.c_contiguous and query_layout(view)[0] is view
    prim, pos = Attention(0.125, True), np.array([start], np.int32)
    ref = _run(numpy_backend(), prim, [q, k, v, pos], tp.float16).astype(np.float64)
    got = cuda_backend().kernels[Attention](prim, view, cupy.asarray(k), cupy.asarray(v), cupy.asarray(pos))
    err = np.abs(cupy.asnumpy(got).astype(np.float64) - ref).max()
    assert err <= bound(q, k, v, 0.125, tp.float16, True, start)


def test_the_kernel_replays_in_a_cuda_graph_with_start_changed_on_the_device(cluster):
    import cupy

    cb = cuda_backend()
    q, k, v = _inputs((1, 12, 1, 64), 300, tp.float16, seed=5)
    prim = Attention(0.125, True)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        args = [cupy.asarray(a) for a in (q, k, v)]
        start = cupy.zeros((1,), np.int32)
        cb.kernels[Attention](prim, *args, start)  # compile and warm the pool outside the capture
        stream.synchronize()
        stream.begin_capture()
        out = cb.kernels[Attention](prim, *args, start)
        graph = stream.end_capture()
        for position in (0, 17, 299, 3, 150):
            start[...] = position  # a device write on the stream: the graph reads it when it runs
            graph.launch(stream)
            got = cupy.asnumpy(out, stream=stream)
            stream.synchronize()
            ref = _run(numpy_backend(), prim, [q, k, v, np.array([position], np.int32)], tp.float16)
            err = np.abs(got.astype(np.float64) - ref.astype(np.float64)).max()
            assert err <= bound(q, k, v, 0.125, tp.float16, True, position), (position, err)


def test_long_caches_of_few_rows_are_split_over_a_cluster_on_gpus_that_have_clusters():
    import cupy

    if int(cupy.cuda.Device().compute_capability) < 90:
        pytest.skip("thread block clusters need compute capability 9.0")
    kernel = cuda_backend().kernels[Attention]
    q, k, v = _inputs((1, 12, 1, 64), 1024, tp.float16, seed=11)
    before = kernel.stats["cluster"]
    _compare(q, k, v, tp.float16, True, 700, 0.125)
    assert kernel.stats["cluster"] == before + 1
    q, k, v = _inputs((16, 12, 1, 64), 1024, tp.float16, seed=12)  # enough rows: one block each
    _compare(q, k, v, tp.float16, True, 1023, 0.125)
    assert kernel.stats["cluster"] == before + 1


def test_scaled_dot_product_attention_runs_the_kernel_on_the_cuda_backend():
    q, k, v = _inputs((2, 12, 1, 64), 96, tp.float16, seed=6)
    previous = tp.config.backend
    outs = {}
    stats = cuda_backend().kernels[Attention].stats
    before = stats["kernel"]
    try:
        for name in ("numpy", "cuda"):
            tp.config.backend = name
            out = tp.scaled_dot_product_attention(
                tp.Tensor(q), tp.Tensor(k), tp.Tensor(v), causal=True, start=tp.Tensor(np.array([30], np.int32))
            )
            outs[name] = out.numpy().astype(np.float64)
    finally:
        tp.config.backend = previous
    assert stats["kernel"] == before + 1
    assert np.abs(outs["cuda"] - outs["numpy"]).max() <= bound(q, k, v, 0.125, tp.float16, True, 30)
