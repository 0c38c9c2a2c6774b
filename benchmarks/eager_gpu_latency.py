"""Eager latency of a tiny op on the GPU: build the trace, evaluate it on the ``cuda`` backend, read back.

Run on a GPU machine: ``PYTHONPATH=. python benchmarks/eager_gpu_latency.py``. Prints the median
microseconds per round trip of each case, CuPy alone doing the same work, and each case against CuPy's.
Goal: ``(a + b).tolist()`` within 35 µs where CuPy takes 29 µs (1.21x CuPy's time).

Measured on lent NVIDIA H200s (the host's speed differs between machines, so the CuPy row matters),
2026-12-01, latest: 34.1 µs against CuPy's 30.3 (1.12x) and, on a faster host, 24.7 against 21.4 (1.15x).
Earlier: ``(a + b).tolist()`` 27.5 µs against CuPy's 22.8 (1.21x), read back through a pinned buffer;
on a slower host, before the cases were interleaved, 42.6 against 32.5 (1.31x). Before the pinned read-back
it was 27.6 against 21.8 (1.27x) and 41.0 against 29.5 (1.39x). ``(a * 2 + 1).tolist()`` is two kernels and
an evaluation of a two-node trace: 85.1 µs (3.7x CuPy's single op) in the first of those runs.
"""

from __future__ import annotations

import statistics
import time

import cupy
import numpy as np

import tripy as tp


def interleaved_us(cases, rounds: int = 7, number: int = 500) -> dict[str, float]:
    """Median microseconds per call of each case: all warmed first, then timed in turn, ``rounds`` times
    over (a host that speeds up or slows down during the run affects every case alike)."""
    for _, fn in cases:
        for _ in range(200):
            fn()
    samples: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(rounds):
        for name, fn in cases:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
    return {name: statistics.median(values) * 1e6 for name, values in samples.items()}


def main() -> None:
    tp.config.backend = "cuda"
    a, b = tp.Tensor([1.0, 2.0, 3.0]), tp.Tensor([4.0, 5.0, 6.0])
    ca, cb = cupy.asarray([1.0, 2.0, 3.0], dtype=np.float32), cupy.asarray([4.0, 5.0, 6.0], dtype=np.float32)
    stream = cupy.cuda.get_current_stream()
    cases = [
        ("tripy: (a + b).tolist(), a and b on the GPU", lambda: (a + b).tolist()),
        ("tripy: (a * 2 + 1).tolist()", lambda: (a * 2 + 1).tolist()),
        ("tripy: (a + b).eval() + stream sync (no read back)", lambda: ((a + b).eval(), stream.synchronize())),
        ("tripy: (tp.Tensor([1., 2., 3.]) + 1).tolist(), from host", lambda: (tp.Tensor([1.0, 2.0, 3.0]) + 1).tolist()),
        ("tripy: build a + b only (no evaluation)", lambda: a + b),
        ("cupy:  (ca + cb).tolist()", lambda: (ca + cb).tolist()),
    ]
    props = cupy.cuda.runtime.getDeviceProperties(0)
    print(f"device: {props['name'].decode()}, CuPy {cupy.__version__}")
    times = interleaved_us(cases)
    cupy_us = times[cases[-1][0]]
    print(f"{'case':<62} {'median µs':>10} {'x CuPy':>7}")
    for name, us in times.items():
        print(f"{name:<62} {us:10.1f} {us / cupy_us:7.2f}")


if __name__ == "__main__":
    main()
