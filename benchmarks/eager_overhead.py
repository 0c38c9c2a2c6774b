"""Cost of building and evaluating small tripy ops against the same work in raw NumPy.

Run: ``python benchmarks/eager_overhead.py`` (numpy backend unless TRIPY_BACKEND says otherwise).
Prints a table: the median time per call of each case and tripy's overhead over NumPy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tripy as tp
from tripy.backend.registry import current_backend


def _median_us(fn, repeat: int, number: int) -> float:
    fn()  # warm up caches and lazy imports
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()

    a_np = np.arange(12, dtype=np.float32).reshape(3, 4)
    b_np = np.ones((3, 4), dtype=np.float32)
    a, b = tp.Tensor(a_np), tp.Tensor(b_np)

    linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=None)
    linear.weight_scale = tp.Parameter(1.0)
    linear.input_scale = tp.Parameter(1.0)
    x = tp.iota((3, 4))
    w_np, bias_np = linear.weight.numpy(), linear.bias.numpy()

    def np_linear():
        xq = np.clip(np.rint(a_np / np.float32(1.0)), -128, 127).astype(np.int8).astype(np.float32)
        wq = np.clip(np.rint(w_np / np.float32(1.0)), -128, 127).astype(np.int8).astype(np.float32)
        return xq @ wq.T + bias_np

    cases = [
        ("a + b (build + eval)", lambda: (a + b).eval(), lambda: a_np + b_np),
        ("tp.exp(a) (build + eval)", lambda: tp.exp(a).eval(), lambda: np.exp(a_np)),
        ("a + b (build only)", lambda: a + b, None),
        ("seed guide's quantized Linear forward", lambda: linear(x).eval(), np_linear),
    ]
    print(f"backend: {current_backend().name}; median of {args.repeat} x {args.number} calls")
    print(f"{'case':<40} {'tripy µs':>10} {'numpy µs':>10} {'overhead µs':>12}")
    for name, tripy_fn, numpy_fn in cases:
        t = _median_us(tripy_fn, args.repeat, args.number)
        n = _median_us(numpy_fn, args.repeat, args.number) if numpy_fn else float("nan")
        over = t - n if numpy_fn else t
        print(f"{name:<40} {t:>10.2f} {n:>10.2f} {over:>12.2f}")


if __name__ == "__main__":
    main()
