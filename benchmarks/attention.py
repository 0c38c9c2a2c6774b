"""The fused attention kernel of the cuda backend against the primitive's steps, at GPT-2 decoding shapes.

Run on a GPU machine: ``PYTHONPATH=. python benchmarks/attention.py``. For each shape (B batches, H=12
heads, S=1 query, a float16 KV cache of T positions, all written: ``start = T - 1``, D=64) it prints the GPU
time per call of:

- ``kernel``: :class:`tripy.backend.cuda.attention.AttentionKernel` (one kernel; ``cl`` blocks per query
  row, a thread block cluster where few rows meet a long cache), and ``1-block``: the same with one block
  per row;
- ``steps``: the same primitive run as its steps (the generic fallback: about fifteen CuPy kernels and a
  cuBLAS call per call).

``eager`` times back-to-back calls with CUDA events (host launch overhead included where it, not the GPU,
is the bottleneck); ``graph`` replays 10 calls captured in one CUDA graph, so it is GPU time only. Every
number is the median of 5 repeats after warming up. ``GB/s`` is the kernel's K and V bytes per graph time.
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
from collections.abc import Callable

import cupy
import numpy as np

from tripy.backend.registry import get_backend
from tripy.trace.primitives import Attention

SHAPES = [(1, 96), (1, 1024), (16, 96), (16, 1024)]  # (B, T)
HEADS, HEAD_DIM = 12, 64


def eager_us(fn: Callable[[], object], iters: int) -> float:
    """Microseconds per call of ``fn``, CUDA events around ``iters`` back-to-back calls."""
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
    return cupy.cuda.get_elapsed_time(start, stop) * 1e3 / iters


def graph_us(fn: Callable[[], object], iters: int, per_graph: int = 10) -> float | None:
    """Microseconds per call of ``fn`` replayed from a CUDA graph of ``per_graph`` calls (None if it does not
    capture)."""
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        fn()
        stream.synchronize()
        try:
            stream.begin_capture()
            try:
                for _ in range(per_graph):
                    fn()
            finally:
                graph = stream.end_capture()
        except Exception as error:  # noqa: BLE001 - report and go on
            print(f"  (capture failed: {type(error).__name__}: {error})")
            return None
        graph.launch(stream)
        stream.synchronize()
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record(stream)
        for _ in range(iters):
            graph.launch(stream)
        stop.record(stream)
        stop.synchronize()
    return cupy.cuda.get_elapsed_time(start, stop) * 1e3 / (iters * per_graph)


def median(measure: Callable[[], float | None], repeats: int) -> float | None:
    values = [measure() for _ in range(repeats)]
    return None if any(v is None for v in values) else statistics.median(v for v in values if v is not None)


def _decode_inputs(b: int, t: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    q = cupy.asarray(rng.uniform(-2, 2, (b, HEADS, 1, HEAD_DIM)).astype(np.float16))
    k = cupy.asarray(rng.uniform(-2, 2, (b, HEADS, t, HEAD_DIM)).astype(np.float16))
    v = cupy.asarray(rng.uniform(-2, 2, (b, HEADS, t, HEAD_DIM)).astype(np.float16))
    return q, k, v, cupy.asarray(np.array([t - 1], np.int32))


def sweep(kernel, repeats: int) -> None:
    """CUDA-graph time of the kernel per (cluster, prefetch) and block size, at each decoding shape."""
    sizes = (128, 256, 512, 1024)
    prim = Attention(1 / 8, True)
    print(f"{'B':>3} {'T':>5} {'cl':>2} {'pf':>2} | " + " ".join(f"{n:>6}" for n in sizes) + "   (us, graph)")
    for b, t in [(1, 96), (1, 1024), (4, 1024), (16, 96), (16, 1024)]:
        q, k, v, start = _decode_inputs(b, t)
        for cluster in (1, 2, 4, 8):
            for prefetch in (False, True):
                kernel.cluster, kernel.prefetch = cluster, prefetch
                row = []
                for n in sizes:
                    kernel.threads = n
                    launch = kernel.plan(q, k, v, start)
                    if launch is None or launch.threads != n:
                        row.append(f"{'-':>6}")
                        continue
                    call = functools.partial(kernel, prim, q, k, v, start)
                    us = median(lambda call=call: graph_us(call, 20), repeats)
                    row.append(f"{us:6.1f}" if us is not None else f"{'n/a':>6}")
                print(f"{b:>3} {t:>5} {cluster:>2} {int(prefetch):>2} | " + " ".join(row))
        kernel.cluster = kernel.prefetch = kernel.threads = None
        auto = kernel.plan(q, k, v, start)
        print(f"    automatic: {auto}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sweep", action="store_true", help="time every cluster size, block size and prefetch")
    args = parser.parse_args()

    backend = get_backend("cuda")
    kernel = backend.kernels[Attention]
    if args.sweep:
        sweep(kernel, args.repeats)
        return
    print(f"card: {backend.device_description()}   (float16, H={HEADS}, S=1, D={HEAD_DIM}, causal, start=T-1)")
    header = (
        f"{'B':>3} {'T':>5} | {'cl':>2} {'kernel eager':>12} {'kernel graph':>12} {'1-block graph':>13} | "
        f"{'steps eager':>11} {'steps graph':>11} | {'speedup':>7} {'GB/s':>6} {'max|diff|':>9}"
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for b, t in SHAPES:
        q = cupy.asarray(rng.uniform(-2, 2, (b, HEADS, 1, HEAD_DIM)).astype(np.float16))
        k = cupy.asarray(rng.uniform(-2, 2, (b, HEADS, t, HEAD_DIM)).astype(np.float16))
        v = cupy.asarray(rng.uniform(-2, 2, (b, HEADS, t, HEAD_DIM)).astype(np.float16))
        start = cupy.asarray(np.array([t - 1], np.int32))
        prim = Attention(1 / 8, True)

        def fused(q=q, k=k, v=v, start=start, prim=prim):
            return kernel(prim, q, k, v, start)

        def steps(q=q, k=k, v=v, start=start, prim=prim):
            return kernel.steps(prim, q, k, v, start)

        diff = float(cupy.abs(fused().astype(cupy.float32) - steps().astype(cupy.float32)).max())
        for fn in (fused, steps):  # warm: compiled kernels, pool blocks, cuBLAS handles
            for _ in range(5):
                fn()
        cupy.cuda.Device().synchronize()
        times = {}
        cluster = kernel.plan(q, k, v, start).cluster  # type: ignore[union-attr]
        for name, fn in (("kernel", fused), ("steps", steps)):
            times[name, "eager"] = median(lambda fn=fn: eager_us(fn, args.iters), args.repeats)
            times[name, "graph"] = median(lambda fn=fn: graph_us(fn, max(1, args.iters // 10)), args.repeats)
        kernel.cluster = 1
        try:
            one = median(lambda: graph_us(fused, max(1, args.iters // 10)), args.repeats)
        finally:
            kernel.cluster = None

        def show(x: float | None, width: int) -> str:
            return f"{x:{width}.1f}" if x is not None else f"{'n/a':>{width}}"

        kg, sg = times["kernel", "graph"], times["steps", "graph"]
        ke, se = times["kernel", "eager"], times["steps", "eager"]
        speedup = f"{sg / kg:7.1f}" if kg and sg else f"{se / ke:6.1f}e" if ke and se else f"{'n/a':>7}"
        gbs = f"{2 * k.nbytes / (kg * 1e3):6.0f}" if kg else f"{'n/a':>6}"
        print(
            f"{b:>3} {t:>5} | {cluster:>2} {show(times['kernel', 'eager'], 12)} {show(kg, 12)} {show(one, 13)} | "
            f"{show(times['steps', 'eager'], 11)} {show(sg, 11)} | {speedup} {gbs} {diff:9.2e}"
        )
    print("times in microseconds per call (GPU time, CUDA events; median of repeats); speedup: steps graph /")
    print("kernel graph (with an 'e': eager times, where the steps do not capture)")


if __name__ == "__main__":
    main()
