"""tripy's int8 and float16 convolutions against ``torch.nn.functional.conv2d`` at ResNet-50 layer shapes.

Run on a GPU machine: ``PYTHONPATH=. python benchmarks/conv.py`` (``--batch N``, ``--quick`` for three
shapes). ``--device cpu`` runs the same table on the NumPy backend and torch's CPU convolution (float32
there, as NumPy has no fast float16 products), to check the script anywhere.

For each layer (input channels, output channels, kernel, stride, input size) it prints milliseconds per
call and TFLOPS (2 * N * O * C * kh * kw * Ho * Wo / time, groups 1) of:

- ``tripy int8``: a ``tp.Conv`` with ``quant_dtype=tp.int8``, per-channel weight scales and an input scale,
  so the products are int8 summed in int32 (input quantized in the call; float16 out on the GPU)
- ``tripy int8 compiled``: the same layer through ``tp.compile`` (a TensorRT engine, a CUDA graph on the
  cuda backend, or the eager fallback; the row says which)
- ``tripy fp16``: a float ``tp.Conv`` (float16 on the GPU)
- ``torch fp16``: ``torch.nn.functional.conv2d`` (cuDNN on the GPU)

and, as a check, the error of each tripy result relative to torch's float32 convolution of the same values
(the largest difference over the largest magnitude). Times are wall-clock means over back-to-back calls
after warm-up, with the device synchronized at both ends, in one run, so rows are comparable.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

import tripy as tp

#: (name, in channels, out channels, kernel, stride, input height = width) of ResNet-50's convolutions.
RESNET50 = [
    ("conv1", 3, 64, 7, 2, 224),
    ("layer1 3x3", 64, 64, 3, 1, 56),
    ("layer1 1x1 up", 64, 256, 1, 1, 56),
    ("layer2 3x3", 128, 128, 3, 1, 28),
    ("layer2 1x1 down", 256, 512, 1, 2, 56),
    ("layer3 3x3", 256, 256, 3, 1, 14),
    ("layer4 3x3", 512, 512, 3, 1, 7),
    ("layer4 1x1 up", 512, 2048, 1, 1, 7),
]
QUICK = ["layer1 3x3", "layer3 3x3", "layer4 1x1 up"]


def synchronize(device: str) -> None:
    if device == "gpu":
        import cupy

        cupy.cuda.Device().synchronize()
        torch.cuda.synchronize()


def mean_ms(fn: Callable[[], object], device: str, iters: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) * 1e3 / iters


def relative_error(got: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(got.astype(np.float64) - reference).max() / max(np.abs(reference).max(), 1e-30))


def run_layer(spec: tuple, batch: int, device: str, iters: int) -> list[tuple[str, float, float | None, str]]:
    name, cin, cout, k, stride, size = spec
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, cin, size, size)).astype(np.float32)
    w = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
    float_type, torch_float = (tp.float16, torch.float16) if device == "gpu" else (tp.float32, torch.float32)
    torch_device = "cuda" if device == "gpu" else "cpu"
    pad = k // 2

    reference = torch.nn.functional.conv2d(
        torch.from_numpy(x).double(), torch.from_numpy(w).double(), None, stride, pad
    )
    reference = reference.numpy()
    out_size = reference.shape[-1]
    flops = 2.0 * batch * cout * cin * k * k * out_size * out_size

    def layer(quant: bool) -> tp.Conv:
        opts = {"quant_dtype": tp.int8, "weight_quant_dim": 0} if quant else {}
        conv = tp.Conv(cin, cout, (k, k), stride=(stride, stride), padding=[(pad, pad)] * 2, bias=False,
                       dtype=float_type, **opts)  # fmt: skip
        conv.weight = tp.cast(tp.Tensor(w), float_type)
        if quant:
            conv.weight_scale = tp.Tensor(np.abs(w).reshape(cout, -1).max(axis=1) / 127.0)
            conv.input_scale = tp.Tensor(np.float32(np.abs(x).max() / 127.0))
        return conv

    tx = tp.cast(tp.Tensor(x), float_type).eval()
    rows = []
    float_label = "tripy fp16" if device == "gpu" else "tripy fp32"
    for label, conv in (("tripy int8", layer(True)), (float_label, layer(False))):
        ms = mean_ms(lambda conv=conv: conv(tx).eval(), device, iters)
        got = tp.cast(conv(tx), tp.float32).numpy()
        rows.append((label, ms, relative_error(got, reference), ""))
        if label == "tripy int8":
            rows.append(compiled_row(conv, tx, float_type, reference, device, iters))
    cx = torch.from_numpy(x).to(torch_device, torch_float)
    cw = torch.from_numpy(w).to(torch_device, torch_float)
    with torch.no_grad():
        ms = mean_ms(lambda: torch.nn.functional.conv2d(cx, cw, None, stride, pad), device, iters)
        got = torch.nn.functional.conv2d(cx, cw, None, stride, pad).float().cpu().numpy()
    rows.append(("torch fp16" if device == "gpu" else "torch fp32", ms, relative_error(got, reference), ""))
    return [
        (label, ms, error, f"{flops / (ms * 1e-3) / 1e12:.3f}" if ms == ms else "-", note)
        for label, ms, error, note in rows
    ]


def compiled_row(conv: tp.Conv, tx: tp.Tensor, float_type: tp.DataType, reference, device: str, iters: int) -> tuple:
    """The ``tripy int8 compiled`` row; a layer that does not compile says why instead of timings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compiled = tp.compile(conv, args=[tp.InputInfo(tx.shape, float_type)])
        except tp.TripyException as exc:
            reason = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc))
            return ("tripy int8 compiled", float("nan"), None, f"(does not compile: {reason[:90]})")
        ms = mean_ms(lambda: compiled(tx).eval(), device, iters)
        got = tp.cast(compiled(tx), tp.float32).numpy()
    return ("tripy int8 compiled", ms, relative_error(got, reference), f"({compiled.backend})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("gpu", "cpu"), default="gpu")
    parser.add_argument(
        "--batch", type=int, default=None, help="images per call (default: 32 on the GPU, 1 on the CPU)"
    )
    parser.add_argument("--iters", type=int, default=None, help="timed calls per row (default: 20 GPU, 2 CPU)")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    args = parser.parse_args()
    tp.config.backend = "cuda" if args.device == "gpu" else "numpy"
    batch = args.batch or (32 if args.device == "gpu" else 1)
    iters = args.iters or (20 if args.device == "gpu" else 2)
    specs = [s for s in RESNET50 if not args.quick or s[0] in QUICK]

    print(f"convolutions at ResNet-50 shapes, batch {batch}, on {tp.current_backend().device_description()} "
          f"(tripy backend {tp.current_backend().name}); {iters} timed calls per row")  # fmt: skip
    header = f"{'layer':<16} {'C->O':>10} {'k/s':>5} {'HxW':>7}  {'method':<20} {'ms':>9} {'TFLOPS':>8} {'rel err':>9}"
    print(header)
    print("-" * len(header))
    for spec in specs:
        name, cin, cout, k, stride, size = spec
        for i, (label, ms, error, tflops, note) in enumerate(run_layer(spec, batch, args.device, iters)):
            lead = f"{name:<16} {f'{cin}->{cout}':>10} {f'{k}/{stride}':>5} {f'{size}x{size}':>7}"
            error_text = "-" if error is None else f"{error:.1e}"
            line = f"{lead if i == 0 else '':<41}  {label:<20} {ms:>9.3f} {tflops:>8} {error_text:>9} {note}"
            print(line.rstrip())


if __name__ == "__main__":
    main()
