"""Host time of eager GPU calls (build, build + evaluate) of the tripy on sys.path: run it for two trees on
one machine to compare them side by side."""

import time

import cupy
import numpy as np

import tripy as tp

tp.config.backend = "cuda"
rng = cupy.random.default_rng(0)


def layer_for(m, k, n):
    w = rng.uniform(-1, 1, (n, k), dtype=cupy.float32).astype(cupy.float16)
    layer = tp.Linear(k, n, dtype=tp.float16, quant_dtype=tp.int8, weight_quant_dim=0)
    layer.weight = tp.Parameter(w)
    layer.bias = tp.Parameter(rng.uniform(-1, 1, (n,), dtype=cupy.float32).astype(cupy.float16))
    layer.weight_scale = tp.Parameter((cupy.abs(w.astype(cupy.float32)).max(axis=1) / 127).astype(cupy.float32))
    layer.input_scale = tp.Parameter(np.float32(0.01))
    x = tp.Tensor(rng.uniform(-1, 1, (m, k), dtype=cupy.float32).astype(cupy.float16))
    return layer, x


def best_us(fn, reps=7, n=200):
    for _ in range(50):
        fn()
    cupy.cuda.Device().synchronize()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t) / n * 1e6)
        cupy.cuda.Device().synchronize()
    return min(times)


layer, x = layer_for(512, 768, 2304)
a = tp.Tensor(cupy.ones((3, 4), cupy.float32))
print(f"{tp.__file__}")
print(f"  int8 Linear 512x768->2304 build         {best_us(lambda: layer(x)):8.1f} us")
print(f"  int8 Linear 512x768->2304 build + eval  {best_us(lambda: layer(x).eval()):8.1f} us")
print(f"  (a + a).eval() 3x4                      {best_us(lambda: (a + a).eval()):8.1f} us")
