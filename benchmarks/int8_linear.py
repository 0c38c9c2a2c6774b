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
the GPU, is the bottleneck (small shapes). Every case is warmed, then the cases are timed in turn, five
rounds over, and each row is the median of its rounds: the lent machines' hosts speed up and slow down
within a run, and this way every case sees the same host. For small shapes a breakdown says where the
time goes.

Then the decode table (``--decode`` for it alone): weight-only int8 (W8A16) against float16 ``tp.Linear``
at few rows, where reading the weight is the cost. There times are GPU times: each Linear's planned
kernels (what ``tp.compile`` captures) for enough layers of distinct weights to fill three times the L2
cache, at most 128 (decoding runs through a model's layers, so no weight is in L2 when read), captured once each into
one CUDA graph, the graph replayed 10 times per measure, the median of 5 measures, per call. Achieved
bandwidth counts the bytes a call must move (weight, scales, bias, input, output) and is given as a
fraction of the card's memory bandwidth. ``--variants`` adds the W8A16 kernel's configurations alone.

Measured on a lent NVIDIA H200 (4.8 TB/s nominal; GPU us per call; W8A16 = int8 weight-only tp.Linear,
float16 activations; 2026-12-01, ratios within one run. The K = N = 8192 and 4096 rows are from a run
earlier that day with the same kernels; the later runs gave the same ratios: 1.98x-2.00x, 1.98x-2.01x,
1.72x and 1.90x-1.91x)::

    M     K     N   float16 tp.Linear   W8A16 tp.Linear   speed-up   W8A16 bandwidth
    1  8192  8192        38.72             19.45            1.99x       72% (3.46 TB/s)
   16  8192  8192        41.40             20.47            2.02x       69% (3.31 TB/s)
    1  4096  4096        11.20              6.51            1.72x       54% (2.59 TB/s)
   16  4096  4096        13.90              7.26            1.91x       49% (2.35 TB/s)

At GPT-2's shapes (K -> N: 768 -> 2304, 768 -> 768, 768 -> 3072, 3072 -> 768) both are a few microseconds
of launch and latency, not bandwidth. There the float16 GEMV now issues all its loads in one step (a later
run the same day): float16 3.4-4.2 us at M = 1 and 3.0-5.0 at M = 16, W8A16 1.12x-1.27x faster.

The Hopper int8 Linear (input and weight scales) against the raw cuBLAS int8 GEMM on operands quantized
beforehand, same run (2026-12-01, H200, ms per call): 8192^3 0.781 against 0.770 (98.6%); 4096^3 0.1005
against 0.0919 (91.5%; its GEMM alone 0.0843, 1630 TOPS, the quantize kernel 0.0147 back to back). At
512x768->2304 the compiled int8 Linear took 1.13x torch's float16 matmul and the eager one 2.45x; in the
latest run 1.16x and 1.85x, and 4096^3 reached 92.5% of the raw GEMM, 8192^3 99.0%.
"""

from __future__ import annotations

import argparse
import copy
import gc
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import cupy
import numpy as np

import tripy as tp
from tripy.backend.cuda import fused_gemm, w8a16_gemv
from tripy.backend.cuda import int8_kernels as kernels
from tripy.backend.cuda.int8_gemm import int8_gemm_padded
from tripy.backend.registry import get_backend
from tripy.trace.evaluate import run_steps
from tripy.trace.node import topological_order
from tripy.trace.primitives import Quantize
from tripy.trace.rewrite import plan

SHAPES = [(8192, 8192, 8192), (4096, 4096, 4096), (512, 768, 2304), (16, 768, 2304)]
#: Decode shapes (M, K, N): square layers of a 7B/70B-class model, and GPT-2's (qkv, proj, fc, fc proj).
DECODE_SHAPES = [(m, k, n) for k, n in [(8192, 8192), (4096, 4096)] for m in (1, 16)]
GPT2_SHAPES = [(m, k, n) for k, n in [(768, 2304), (768, 768), (768, 3072), (3072, 768)] for m in (1, 16)]
#: W8A16 kernel configurations compared with ``--variants`` (kind/rows/warps/unroll[/load hints]).
VARIANTS = ["mma/16/8/4/1", "mma/16/8/1/1", "mma/16/16/1/1", "mma/16/16/2/1"]
#: Configurations compared at the GPT-2 shapes (small N or K: fewer rows per block, more warps on K).
GPT2_VARIANTS: list[str] = []
#: Nominal memory bandwidth (bytes/s) of cards whose device properties understate it.
NOMINAL_BANDWIDTH = {"H200": 4.8e12, "H100 80GB HBM3": 3.35e12, "H100 PCIe": 2.0e12}


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


def make_linear(
    w: cupy.ndarray, w_scale: cupy.ndarray, bias: cupy.ndarray, x_scale: float | None, template: Any = None
) -> tp.Linear:
    """A float16 Linear with these parameters (int8 where ``w_scale`` is given); ``template``, a Linear of
    the same kind and shape, is copied rather than built (its placeholder weights are made on the host)."""
    n, k = w.shape
    quant = w_scale is not None
    if template is not None:
        layer = copy.copy(template)
    else:
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


def interleaved_ms(cases: Sequence[tuple[str, Callable[[], Any]]], iters: int, rounds: int = 5) -> dict[str, float]:
    """Milliseconds per call of each case: every case warmed first, then :func:`gpu_ms` of each in turn,
    ``rounds`` times over, and the median of its rounds (so a host that speeds up or slows down during the
    run affects every case alike)."""
    for _, fn in cases:
        gpu_ms(fn, max(1, iters // 4), warmup=10)
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(rounds):
        for name, fn in cases:
            times[name].append(gpu_ms(fn, iters, warmup=2))
    return {name: float(np.median(values)) for name, values in times.items()}


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
    stats0 = dict(cb.int8.stats)
    int8_layer(xt).eval()  # which path runs, from the counters
    if cb.int8.stats["w8a8"] > stats0["w8a8"]:
        note = "one kernel for few rows (input quantized in it)"
    elif cb.int8.stats["fused_kernel"] > stats0["fused_kernel"]:
        note = "Hopper kernel, scales in its epilogue"
    else:
        note = "cuBLAS path"
    hopper = cb.int8.stats["fused_kernel"] > stats0["fused_kernel"]

    def cublas_path() -> None:  # the path other GPUs take (the flag's two writes are part of the time)
        cb.int8.use_fused_kernel = False
        try:
            int8_layer(xt).eval()
        finally:
            cb.int8.use_fused_kernel = True

    # The same layers compiled: one CUDA graph replayed per call (tp.compile on the cuda backend).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TensorRT cannot run on this GPU: the CUDA-graph path is what is timed
        info = [tp.InputInfo((m, k), tp.float16)]
        compiled = {
            name: tp.compile(layer, args=info)
            for name, layer in (("int8", int8_layer), ("float16", f16_layer), ("int8 weight-only", wo_layer))
        }
    kp, mp = (k + 3) // 4 * 4, (m + 3) // 4 * 4
    xs = cupy.asarray(np.float32(x_scale))
    x_q = kernels.quantize_rows(x, "float16", xs, mp, kp)
    w_q = cb.kernels[Quantize](Quantize(tp.int8, 0), w, cupy.asarray(w_scale))
    cases: list[tuple[str, Callable[[], Any]]] = [("tripy int8 Linear (x+w scales)", lambda: int8_layer(xt).eval())]
    if hopper:
        cases.append(("tripy int8 Linear, cuBLAS + epilogue", cublas_path))
    cases.append(("tripy int8 Linear (weight-only)", lambda: wo_layer(xt).eval()))
    for name, exe in compiled.items():
        cases.append((f"tripy {name} Linear, compiled", lambda exe=exe: exe(xt)))
    cases.append(("tripy float16 Linear", lambda: f16_layer(xt).eval()))
    cases.append(("raw cuBLAS int8 GEMM (int32 out)", lambda: int8_gemm_padded(x_q, w_q)))
    int_mm_error = None
    if torch is not None:
        tx, tw = torch.from_dlpack(x_q[:m]), torch.from_dlpack(w_q)
        twt = tw.t()
        try:
            torch._int_mm(tx, twt)
            cases.append(("torch._int_mm", lambda: torch._int_mm(tx, twt)))
        except RuntimeError as exc:
            int_mm_error = str(exc).splitlines()[0][:60]
        hx, hw = torch.from_dlpack(x), torch.from_dlpack(w)
        cases.append(("torch float16 matmul (x @ w.T)", lambda: hx @ hw.t()))
    times = interleaved_ms(cases, iters)
    notes = {"tripy int8 Linear (x+w scales)": note, "tripy int8 Linear, cuBLAS + epilogue": "the path for other GPUs"}
    for name, exe in compiled.items():
        notes[f"tripy {name} Linear, compiled"] = exe.backend
    rows = [(name, times[name], notes.get(name, "")) for name, _ in cases]
    if int_mm_error is not None:
        rows.insert(len(rows) - 1, ("torch._int_mm", float("nan"), int_mm_error))
    assert cb.int8.stats["fused"] > stats0["fused"] and cb.int8.stats["weight_only"] > stats0["weight_only"]

    # Exactness of the GEMM on this shape, checked on a slice against int64 on the host.
    acc = cupy.asnumpy(int8_gemm_padded(x_q, w_q)[:8, :64])
    ref = cupy.asnumpy(x_q[:8]).astype(np.int64) @ cupy.asnumpy(w_q[:64]).astype(np.int64).T
    assert np.array_equal(acc, ref), "int8 GEMM is not exact"

    # Where the time of one tripy int8 call goes: its kernels alone, back to back.
    out_ms = gpu_ms(lambda: kernels.quantize_rows(x, "float16", xs, mp, kp), iters)
    rows.append(("  stage: quantize input kernel", out_ms, "back-to-back launches"))
    hopper = fused_gemm.kernel()
    if hopper is not None and hopper.supports(n, k, "float16"):
        alpha, out = cupy.asarray(w_scale * np.float32(x_scale)), cupy.empty((m, n), cupy.float16)
        ms = gpu_ms(lambda: hopper(x_q, m, w_q, alpha, bias, out, "float16"), iters)
        tops = f"{2.0 * m * n * k / ms / 1e9:.1f} TOPS, {hopper.config(m, n)}"
        rows.append(("  stage: Hopper GEMM + scales kernel", ms, tops))
    if m * n * k < 2**33:  # small shapes: the host's share
        acc_full = int8_gemm_padded(x_q, w_q)
        epi = gpu_ms(
            lambda: kernels.epilogue(acc_full, m, n, xs, w_scale, bias, np.dtype(np.float16), "float16"), iters
        )
        rows.append(("  stage: epilogue kernel", epi, "back-to-back launches"))
        rows.append(("  host: build the trace (forward)", host_us(lambda: int8_layer(xt), iters) / 1e3, "CPU"))
        rows.append(("  host: build + evaluate (no sync)", host_us(lambda: int8_layer(xt).eval(), iters) / 1e3, "CPU"))
    return rows


def memory_bandwidth() -> tuple[float, str]:
    """The card's memory bandwidth in bytes/s and where the number comes from."""
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode()
    for key, value in NOMINAL_BANDWIDTH.items():
        if key in name:
            return value, f"{name} nominal"
    try:
        clock_khz = cupy.cuda.runtime.deviceGetAttribute(cupy.cuda.runtime.cudaDevAttrMemoryClockRate, 0)
        bus_bits = cupy.cuda.runtime.deviceGetAttribute(cupy.cuda.runtime.cudaDevAttrGlobalMemoryBusWidth, 0)
    except Exception:  # noqa: BLE001 - an older CuPy or runtime: the properties carry the same numbers
        clock_khz, bus_bits = props.get("memoryClockRate", 0), props.get("memoryBusWidth", 0)
    return 2.0 * clock_khz * 1e3 * bus_bits / 8, f"{name}, from its memory clock and bus width"


def graph_gpu_ms(calls: Sequence[Callable[..., Any]], replays: int = 10, repeats: int = 5) -> float:
    """GPU milliseconds per call: ``calls`` (one per layer) run once to warm, captured once each into one
    CUDA graph, the graph replayed ``replays`` times per measure with CUDA events; the median of ``repeats``."""
    stream = cupy.cuda.Stream(non_blocking=True)
    stream.wait_event(cupy.cuda.get_current_stream().record())
    with stream:
        warm = [call() for call in calls]  # held, then freed: the pool has a block for each captured result
        stream.synchronize()
        del warm
        keep = []  # what the captured kernels read and write stays allocated while the graph is used
        stream.begin_capture()
        try:
            for call in calls:
                keep.append(call())
        finally:
            graph = stream.end_capture()
        graph.launch(stream)
        stream.synchronize()
        times = []
        for _ in range(repeats):
            start, stop = cupy.cuda.Event(), cupy.cuda.Event()
            start.record(stream)
            for _ in range(replays):
                graph.launch(stream)
            stop.record(stream)
            stop.synchronize()
            times.append(cupy.cuda.get_elapsed_time(start, stop) / (replays * len(calls)))
    del keep
    return float(np.median(times))


def planned(layer: tp.Linear, x: tp.Tensor) -> Callable[[], Any]:
    """One call of ``layer`` on ``x`` as ``tp.compile`` captures it: its planned steps (fusions applied)."""
    cb = get_backend("cuda")
    out = layer(x)
    steps = plan(topological_order([out]), [out], cb.rewrites)
    return lambda: run_steps(steps, cb)


def _config(text: str) -> w8a16_gemv.Config:
    kind, *numbers = text.split("/")
    return w8a16_gemv.Config(kind, *map(int, numbers))


def torch_graph_ms(torch, calls: Sequence[Callable[[], Any]], replays: int = 10, repeats: int = 5) -> float:
    """:func:`graph_gpu_ms` for torch work: captured with ``torch.cuda.graph``, replayed the same way."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for call in calls:
            call()
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        keep = [call() for call in calls]
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(replays):
            graph.replay()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / (replays * len(calls)))
    del keep
    return float(np.median(times))


def bench_decode(m: int, k: int, n: int, variants: Sequence[str], torch, report: Callable[..., None]) -> float:
    """The decode rows of one shape, each given to ``report(case, ms, bytes moved)`` as measured; returns
    the W8A16 tp.Linear's speed-up over the float16 tp.Linear."""
    cb = get_backend("cuda")
    l2 = cupy.cuda.runtime.getDeviceProperties(0)["l2CacheSize"]
    layers = min(128, max(2, math.ceil(3 * l2 / (n * k))))
    rng = cupy.random.default_rng(0)
    x = rng.uniform(-1, 1, (m, k), dtype=cupy.float32).astype(cupy.float16)
    xt = tp.Tensor(x)
    f16_calls, w8_calls, a8_calls, kernel_args, weights = [], [], [], [], []
    x_scale = float(cupy.abs(x.astype(cupy.float32)).max()) / 127
    t_f16 = tp.Linear(k, n, dtype=tp.float16)
    t_q = tp.Linear(k, n, dtype=tp.float16, quant_dtype=tp.int8, weight_quant_dim=0)
    for _ in range(layers):
        w = rng.uniform(-1, 1, (n, k), dtype=cupy.float32).astype(cupy.float16)
        bias = rng.uniform(-1, 1, (n,), dtype=cupy.float32).astype(cupy.float16)
        w_scale = (cupy.abs(w.astype(cupy.float32)).max(axis=1) / 127).astype(cupy.float32)
        f16_calls.append(planned(make_linear(w, None, bias, None, t_f16), xt))
        w8_calls.append(planned(make_linear(w, w_scale, bias, None, t_q), xt))
        a8_calls.append(planned(make_linear(w, w_scale, bias, x_scale, t_q), xt))
        q = cb.kernels[Quantize](Quantize(tp.int8, 0), w, w_scale)
        kernel_args.append((w8a16_gemv.prepare_weight(q), w_scale, bias))
        weights.append((w, bias))
    small = 2 * n + 2 * m * k + 2 * m * n  # bias, input, output
    f16_bytes, w8_bytes = 2 * n * k + small, n * k + 4 * n + small
    f16 = graph_gpu_ms(f16_calls)
    report("tp.Linear float16", f16, f16_bytes, f16)
    before = cb.int8.stats["w8a16"]
    w8 = graph_gpu_ms(w8_calls)
    assert cb.int8.stats["w8a16"] > before, "the W8A16 kernel did not run"
    report("tp.Linear W8A16 (int8 weight-only)", w8, w8_bytes, f16)
    if torch is not None:
        tx = torch.from_dlpack(x)
        tw = [(torch.from_dlpack(w), torch.from_dlpack(b)) for w, b in weights]
        linear = torch.nn.functional.linear
        ms = torch_graph_ms(torch, [lambda w=w, b=b: linear(tx, w, b) for w, b in tw])
        report("torch float16 F.linear(x, w, b), CUDA graph", ms, f16_bytes, f16)
    before = cb.int8.stats["w8a8"]
    ms = graph_gpu_ms(a8_calls)
    path = "one kernel" if cb.int8.stats["w8a8"] > before else "quantize + int8 GEMM"
    report(f"tp.Linear int8 x+w scales ({path})", ms, w8_bytes, f16)
    cb.int8.use_w8a16 = False
    try:
        ms = graph_gpu_ms(w8_calls)
        report("tp int8 weight-only before (fp16 GEMM, W^T cached)", ms, f16_bytes, f16)
        ms = graph_gpu_ms(a8_calls)
        report("tp int8 x+w scales before (quantize + int8 GEMM)", ms, w8_bytes, f16)
    finally:
        cb.int8.use_w8a16 = True
    fp16_default = w8a16_gemv.choose(m, n, k, "float16", float_weight=True)
    calls = [lambda w=w, b=b: w8a16_gemv.gemv(x, "float16", w, None, b, n) for w, b in weights]
    report(f"  same GEMV, float16 weight: {fp16_default}", graph_gpu_ms(calls), f16_bytes, f16)
    default = w8a16_gemv.choose(m, n, k, "float16")
    configs = [default] + [c for c in map(_config, variants) if c != default and m > 8]
    for config in configs:
        if config.kind == "simt" and m > 4:
            continue  # float32 FMAs: compute-bound at many rows
        calls = [
            lambda a=a, config=config: w8a16_gemv.gemv(x, "float16", a[0], a[1], a[2], n, config=config)
            for a in kernel_args
        ]
        try:
            ms = graph_gpu_ms(calls)
        except Exception as exc:  # noqa: BLE001 - a configuration that does not build or launch here
            print(f"  kernel {config}: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
            continue
        mark = " *" if config == default else ""
        report(f"  kernel alone: {config}{mark}", ms, w8_bytes, f16)
    return f16 / w8


def decode_table(
    shapes: Sequence[tuple[int, int, int]], variants: Sequence[str], title: str, torch, budget: float = 0.0
) -> None:
    """Print the decode table for ``shapes``, row by row, then the W8A16 speed-up per shape."""
    peak, source = memory_bandwidth()
    print(f"\n{title}: GPU time per call (graph replays, cold L2); {source} = {peak / 1e12:.2f} TB/s")
    print(f"  {'M':>3} {'K':>5} {'N':>5}  {'case':<52} {'us/call':>8} {'GB/s':>6} {'of peak':>7} {'vs fp16':>7}")
    speedups = {}
    t0 = time.perf_counter()
    for m, k, n in shapes:
        if budget and time.perf_counter() - t0 > budget:
            print(f"  {m:>3} {k:>5} {n:>5}  skipped: past the time budget of {budget:.0f} s")
            continue

        def report(name: str, ms: float, moved: int, f16: float, m=m, k=k, n=n) -> None:
            bw = moved / (ms * 1e-3)
            shape = f"{m:>3} {k:>5} {n:>5}"
            print(f"  {shape}  {name:<52} {ms * 1e3:8.2f} {bw / 1e9:6.0f} {bw / peak:7.1%} {f16 / ms:6.2f}x")

        try:
            speedups[(m, k, n)] = bench_decode(m, k, n, variants, torch, report)
        except Exception as exc:  # noqa: BLE001 - report and go on to the next shape
            print(f"  {m:>3} {k:>5} {n:>5}  failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        print(f"  ({time.perf_counter() - t0:.0f} s)")
    for (m, k, n), speedup in speedups.items():
        verdict = "meets" if speedup >= 1.6 else "misses"
        print(f"  M={m} K={k} N={n}: W8A16 tp.Linear {speedup:.2f}x float16 tp.Linear ({verdict} 1.6x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only 4096^3 and the GPT-2 shapes")
    parser.add_argument("--decode", action="store_true", help="only the decode (W8A16 against float16) tables")
    parser.add_argument("--variants", action="store_true", help="the W8A16 kernel's configurations too")
    parser.add_argument("--no-decode", action="store_true", help="leave out the decode tables")
    parser.add_argument("--no-gpt2", action="store_true", help="leave out the GPT-2 decode shapes")
    parser.add_argument("--m", type=int, action="append", help="decode shapes of these rows only (repeatable)")
    parser.add_argument("--budget", type=float, default=0.0, help="seconds after which no new decode shape starts")
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
    shapes = DECODE_SHAPES if args.m is None else [s for s in DECODE_SHAPES if s[0] in args.m]
    t0 = time.perf_counter()
    if not args.no_decode:
        decode_table(shapes, VARIANTS if args.variants else [], "Decode, W8A16 against float16", torch, args.budget)
    if not args.no_gpt2 and not args.no_decode:
        gpt2_variants = GPT2_VARIANTS if args.variants else []
        left = max(1.0, args.budget - (time.perf_counter() - t0)) if args.budget else 0.0
        decode_table(GPT2_SHAPES, gpt2_variants, "GPT-2 decode shapes, W8A16 against float16", torch, left)
    if args.decode:
        return
    summary = {}
    for m, k, n in SHAPES[1:] if args.quick else SHAPES:
        iters = 100 if m * n * k >= 2**36 else 200
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
