"""tripy's int8 Linear on the GPU against the raw int8 GEMM, torch and float16, side by side.

Run on a GPU machine: ``PYTHONPATH=. python benchmarks/int8_linear.py`` (``--quick`` for fewer shapes).
For each shape (M rows, K in, N out) it prints the time per call and TOPS (2*M*N*K / time) of:

- tripy int8 Linear, input and weight scales (the input quantized in the call, output float16); on Hopper
  also the same Linear through the path other GPUs take (cuBLAS int32 GEMM, then an epilogue kernel)
- tripy int8 Linear, weight-only (weight scales only; the product is float16)
- tripy float16 Linear
- the raw cuBLAS int8 x int8 -> int32 GEMM alone, on operands quantized beforehand
- ``torch._int_mm`` and a torch float16 matmul

Times are CUDA-event times over back-to-back calls, so they include tripy's Python work where that, not
the GPU, is the bottleneck (small shapes). For those shapes a breakdown says where the time goes.
"""

from __future__ import annotations

import argparse
import gc
import time
import warnings

import cupy
import numpy as np

import tripy as tp
from tripy.backend.cuda import fused_gemm
from tripy.backend.cuda import int8_kernels as kernels
from tripy.backend.cuda.int8_gemm import int8_gemm_padded
from tripy.backend.registry import get_backend
from tripy.trace.primitives import Quantize

SHAPES = [(8192, 8192, 8192), (4096, 4096, 4096), (512, 768, 2304), (16, 768, 2304)]


def gpu_ms(fn, iters: int, warmup: int = 3) -> float:
    """Milliseconds per call of ``fn``, timed with CUDA events over ``iters`` back-to-back calls (the Python
    garbage collector paused meanwhile, as ``timeit`` does)."""
    for _ in range(warmup):
        fn()
    gc.collect()
    cupy.cuda.Device().synchronize()
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    gc.disable()
    try:
        start.record()
        for _ in range(iters):
            fn()
        stop.record()
        stop.synchronize()
    finally:
        gc.enable()
    return cupy.cuda.get_elapsed_time(start, stop) / iters


def host_us(fn, iters: int) -> float:
    """Microseconds of host time per call of ``fn`` (no synchronisation inside the loop)."""
    fn()
    cupy.cuda.Device().synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    elapsed = time.perf_counter() - t0
    cupy.cuda.Device().synchronize()
    return elapsed / iters * 1e6


def make_linear(w: cupy.ndarray, w_scale: cupy.ndarray, bias: cupy.ndarray, x_scale: float | None) -> tp.Linear:
    n, k = w.shape
    quant = w_scale is not None
    layer = tp.Linear(
        k, n, dtype=tp.float16, quant_dtype=tp.int8 if quant else None, weight_quant_dim=0 if quant else None
    )
    layer.weight = tp.Parameter(w)  # DLPack: no copy
    layer.bias = tp.Parameter(bias)
    if quant:
        layer.weight_scale = tp.Parameter(w_scale)
        if x_scale is not None:
            layer.input_scale = tp.Parameter(np.float32(x_scale))
    return layer


def bench_shape(m: int, k: int, n: int, iters: int, torch) -> list[tuple[str, float, str]]:
    cb = get_backend("cuda")
    rng = cupy.random.default_rng(0)
    x = rng.uniform(-1, 1, (m, k), dtype=cupy.float32).astype(cupy.float16)
    w = rng.uniform(-1, 1, (n, k), dtype=cupy.float32).astype(cupy.float16)
    bias = rng.uniform(-1, 1, (n,), dtype=cupy.float32).astype(cupy.float16)
    w_scale = (cupy.abs(w.astype(cupy.float32)).max(axis=1) / 127).astype(cupy.float32)
    x_scale = float(cupy.abs(x.astype(cupy.float32)).max()) / 127
    xt = tp.Tensor(x)

    int8_layer = make_linear(w, w_scale, bias, x_scale)
    wo_layer = make_linear(w, w_scale, bias, None)
    f16_layer = make_linear(w, None, bias, None)
    rows = []
    stats0 = dict(cb.int8.stats)
    fused0 = cb.int8.stats["fused_kernel"]
    rows.append(
        (
            "tripy int8 Linear (x+w scales)",
            gpu_ms(lambda: int8_layer(xt).eval(), iters),
            "Hopper kernel, scales in its epilogue" if cb.int8.stats["fused_kernel"] > fused0 else "cuBLAS path",
        )
    )
    if cb.int8.stats["fused_kernel"] > fused0:
        cb.int8.use_fused_kernel = False
        try:
            rows.append(
                (
                    "tripy int8 Linear, cuBLAS + epilogue",
                    gpu_ms(lambda: int8_layer(xt).eval(), iters),
                    "the path for other GPUs",
                )
            )
        finally:
            cb.int8.use_fused_kernel = True
    rows.append(("tripy int8 Linear (weight-only)", gpu_ms(lambda: wo_layer(xt).eval(), iters), ""))
    # The same layers compiled: one CUDA graph replayed per call (tp.compile on the cuda backend).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TensorRT cannot run on this GPU: the CUDA-graph path is what is timed
        info = [tp.InputInfo((m, k), tp.float16)]
        compiled = {
            name: tp.compile(layer, args=info) for name, layer in (("int8", int8_layer), ("float16", f16_layer))
        }
        compiled["int8 weight-only"] = tp.compile(wo_layer, args=info)
    for name, exe in compiled.items():
        rows.append((f"tripy {name} Linear, compiled", gpu_ms(lambda exe=exe: exe(xt), iters), exe.backend))
    rows.append(("tripy float16 Linear", gpu_ms(lambda: f16_layer(xt).eval(), iters), ""))
    assert cb.int8.stats["fused"] > stats0["fused"] and cb.int8.stats["weight_only"] > stats0["weight_only"]

    kp, mp = (k + 3) // 4 * 4, (m + 3) // 4 * 4
    xs = cupy.asarray(np.float32(x_scale))
    x_q = kernels.quantize_rows(x, "float16", xs, mp, kp)
    w_q = cb.kernels[Quantize](Quantize(tp.int8, 0), w, cupy.asarray(w_scale))
    rows.append(("raw cuBLAS int8 GEMM (int32 out)", gpu_ms(lambda: int8_gemm_padded(x_q, w_q), iters), ""))

    # Exactness of the GEMM on this shape, checked on a slice against int64 on the host.
    acc = cupy.asnumpy(int8_gemm_padded(x_q, w_q)[:8, :64])
    ref = cupy.asnumpy(x_q[:8]).astype(np.int64) @ cupy.asnumpy(w_q[:64]).astype(np.int64).T
    assert np.array_equal(acc, ref), "int8 GEMM is not exact"

    if torch is not None:
        tx, tw = torch.from_dlpack(x_q[:m]), torch.from_dlpack(w_q)
        twt = tw.t()
        try:
            rows.append(("torch._int_mm", gpu_ms(lambda: torch._int_mm(tx, twt), iters), ""))
        except RuntimeError as exc:
            rows.append(("torch._int_mm", float("nan"), str(exc).splitlines()[0][:60]))
        hx, hw = torch.from_dlpack(x), torch.from_dlpack(w)
        rows.append(("torch float16 matmul (x @ w.T)", gpu_ms(lambda: hx @ hw.t(), iters), ""))

    # Where the time of one tripy int8 call goes: its kernels alone, back to back.
    out_ms = gpu_ms(lambda: kernels.quantize_rows(x, "float16", xs, mp, kp), iters)
    rows.append(("  stage: quantize input kernel", out_ms, "back-to-back launches"))
    hopper = fused_gemm.kernel()
    if hopper is not None and hopper.supports(n, k, "float16"):
        alpha, out = cupy.asarray(w_scale * np.float32(x_scale)), cupy.empty((m, n), cupy.float16)
        ms = gpu_ms(lambda: hopper(x_q, m, w_q, alpha, bias, out, "float16"), iters)
        rows.append(("  stage: Hopper GEMM + scales kernel", ms, f"{2.0 * m * n * k / ms / 1e9:.1f} TOPS"))
    if m * n * k < 2**33:  # small shapes: the host's share
        acc_full = int8_gemm_padded(x_q, w_q)
        epi = gpu_ms(
            lambda: kernels.epilogue(acc_full, m, n, xs, w_scale, bias, np.dtype(np.float16), "float16"), iters
        )
        rows.append(("  stage: epilogue kernel", epi, "back-to-back launches"))
        rows.append(("  host: build the trace (forward)", host_us(lambda: int8_layer(xt), iters) / 1e3, "CPU"))
        rows.append(("  host: build + evaluate (no sync)", host_us(lambda: int8_layer(xt).eval(), iters) / 1e3, "CPU"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only 4096^3 and the GPT-2 shapes")
    args = parser.parse_args()
    tp.config.backend = "cuda"
    try:
        import torch
    except ImportError:
        torch = None
    props = cupy.cuda.runtime.getDeviceProperties(0)
    print(
        f"device: {props['name'].decode()}, CuPy {cupy.__version__}"
        + (f", torch {torch.__version__}" if torch is not None else "")
    )
    # Half a second of matrix products first, so the first shape is timed at working clocks too.
    warm = cupy.ones((4096, 4096), dtype=cupy.float16)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.5:
        warm @ warm
        cupy.cuda.Device().synchronize()
    summary = {}
    for m, k, n in SHAPES[1:] if args.quick else SHAPES:
        iters = 20 if m * n * k >= 2**36 else 200
        print(f"\nM={m} K={k} N={n}  ({iters} calls each)")
        print(f"  {'case':<40} {'ms/call':>10} {'TOPS':>9}")
        rows = bench_shape(m, k, n, iters, torch)
        ops = 2.0 * m * n * k
        for name, ms, note in rows:
            tops = ops / (ms * 1e-3) / 1e12 if not name.startswith("  ") and ms == ms else float("nan")
            tops_text = f"{tops:9.1f}" if tops == tops else f"{'':9}"
            print(f"  {name:<40} {ms:10.4f} {tops_text} {note}")
        summary[(m, k, n)] = {name: ms for name, ms, _ in rows}
    for shape, times in summary.items():
        raw, int8 = times["raw cuBLAS int8 GEMM (int32 out)"], times["tripy int8 Linear (x+w scales)"]
        f16 = times["tripy float16 Linear"]
        print(
            f"\n{shape}: tripy int8 Linear = {raw / int8:.1%} of the raw int8 GEMM's speed, "
            f"{f16 / int8:.2f}x tripy float16 Linear"
        )
        torch_f16 = times.get("torch float16 matmul (x @ w.T)")
        if torch_f16 is not None:
            compiled_int8 = times["tripy int8 Linear, compiled"]
            print(
                f"{shape}: per call against torch float16: tripy int8 eager {int8 / torch_f16:.2f}x, "
                f"compiled {compiled_int8 / torch_f16:.2f}x (lower is faster)"
            )


if __name__ == "__main__":
    main()
