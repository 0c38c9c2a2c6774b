"""How long ``tp.compile`` takes to build TensorRT engines, per function, on this machine.

Run ``python benchmarks/trt_build_times.py [--repeat N] [--gpt2-layers L]``. Each function is compiled
``N`` times with the engine cache off; the table gives the median of each phase (tracing, lowering to a
network, building and serializing the engine) and the engine's size. Needs TensorRT (``.[tensorrt]``);
TensorRT-RTX builds without a GPU, so this runs on CPU-only machines too.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import tripy as tp  # noqa: E402
from tripy.backend.tensorrt import load_tensorrt, tensorrt_version  # noqa: E402
from tripy.backend.tensorrt.engine import build_engine  # noqa: E402
from tripy.backend.tensorrt.network import lower_graph  # noqa: E402
from tripy.compiler.compile import _arguments  # noqa: E402
from tripy.compiler.graph import trace_function  # noqa: E402


def _nanogpt():
    if "nanogpt_model" not in sys.modules:
        spec = importlib.util.spec_from_file_location("nanogpt_model", ROOT / "examples" / "nanogpt" / "model.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["nanogpt_model"] = module
        spec.loader.exec_module(module)
    return sys.modules["nanogpt_model"]


def _quantized_linear(input_scale: bool) -> tp.Linear:
    linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.weight_scale = tp.Parameter([0.5, 1.0])
    if input_scale:
        linear.input_scale = tp.Parameter(0.25)
    return linear


class _MLP(tp.Module):
    def __init__(self) -> None:
        self.fc1, self.fc2 = tp.Linear(16, 32), tp.Linear(32, 8)

    def forward(self, x):
        return self.fc2(tp.gelu(self.fc1(x)))


class _Attention(tp.Module):
    """The GPT-2 attention block of tests/tensorrt/test_networks.py (embed 16, 2 heads)."""

    def __init__(self, embed: int = 16, heads: int = 2) -> None:
        self.heads = heads
        self.c_attn, self.c_proj = tp.Linear(embed, 3 * embed), tp.Linear(embed, embed)

    def forward(self, x):
        batch, seq, embed = x.shape
        q, k, v = tp.split(self.c_attn(x), 3, dim=2)

        def split_heads(t):
            return tp.permute(tp.reshape(t, (batch, seq, self.heads, embed // self.heads)), (0, 2, 1, 3))

        q, k, v = split_heads(q), split_heads(k), split_heads(v)
        scores = (q @ tp.transpose(k, -2, -1)) * (1.0 / math.sqrt(embed // self.heads))
        scores = tp.masked_fill(scores, tp.tril(tp.ones((seq, seq))) == 0, float("-inf"))
        y = tp.softmax(scores, dim=-1) @ v
        return self.c_proj(tp.reshape(tp.permute(y, (0, 2, 1, 3)), (batch, seq, embed)))


def _random_weights(module: tp.Module, seed: int = 0) -> tp.Module:
    """Random weights: the placeholders repeat from layer to layer, and TensorRT stores repeats once."""
    rng = np.random.default_rng(seed)
    state = {name: (rng.standard_normal(p.shape) * 0.02).astype(np.float32) for name, p in module.state_dict().items()}
    module.load_state_dict(state, strict=False)
    return module


def _set_scales(module: tp.Module, input_scales: bool) -> tp.Module:
    _random_weights(module)
    for _, sub in module.named_modules():
        if isinstance(sub, tp.Linear) and sub.quant_dtype is not None:
            sub.weight_scale = tp.Parameter(tp.full((sub.out_features,), 0.01))
            if input_scales:
                sub.input_scale = tp.Parameter(0.05)
    return module


def _gpt2_block(quant_mode: str | None):
    nanogpt = _nanogpt()
    config = nanogpt.GPTConfig(n_layer=1, quant_mode=quant_mode)
    block = _set_scales(nanogpt.Block(config), input_scales=quant_mode == "int8")
    return lambda x: block(x)[0]


def _gpt2(layers: int, quant_mode: str | None):
    nanogpt = _nanogpt()
    config = nanogpt.GPTConfig(n_layer=layers, quant_mode=quant_mode)
    model = _set_scales(nanogpt.GPT(config), input_scales=quant_mode == "int8")
    return lambda ids: model(ids)


def cases(gpt2_layers: int):
    dynamic_seq = tp.InputInfo((1, (1, 64, 128), 768), tp.float32)
    yield "float32 MLP 16-32-8", _MLP(), [tp.InputInfo((4, 16), tp.float32)]
    yield "quantized Linear (seed guide)", _quantized_linear(True), [tp.InputInfo((3, 4), tp.float32)]
    yield "weight-only int8 Linear", _quantized_linear(False), [tp.InputInfo((3, 4), tp.float32)]
    linear = tp.Linear(8, 4)
    yield (
        "dynamic-batch Linear+softmax",
        (lambda x: tp.softmax(linear(x), dim=-1)),
        [tp.InputInfo(((1, 4, 16), 8), tp.float32)],
    )
    yield "GPT-2 attention (embed 16)", _Attention(), [tp.InputInfo(((1, 2, 4), (1, 8, 16), 16), tp.float32)]
    yield "nanoGPT block 768, float32", _gpt2_block(None), [dynamic_seq]
    yield "nanoGPT block 768, int8 weight-only", _gpt2_block("int8-weight-only"), [dynamic_seq]
    yield "nanoGPT block 768, int8 (Q/DQ inputs)", _gpt2_block("int8"), [dynamic_seq]
    if gpt2_layers:
        ids = [tp.InputInfo((1, (1, 64, 128)), tp.int32)]
        yield f"GPT-2 small, {gpt2_layers} layers, float32", _gpt2(gpt2_layers, None), ids
        yield f"GPT-2 small, {gpt2_layers} layers, int8 weight-only", _gpt2(gpt2_layers, "int8-weight-only"), ids


def measure(func, args, repeat: int) -> dict[str, float]:
    trt = load_tensorrt()
    phases: dict[str, list[float]] = {"trace": [], "lower": [], "build": []}
    size = 0
    for _ in range(repeat):
        start = time.perf_counter()
        graph = trace_function(func, _arguments(func, args, {}))
        traced = time.perf_counter()
        lowered = lower_graph(trt, graph)
        phases["lower"].append(time.perf_counter() - traced)
        phases["trace"].append(traced - start)
        built = build_engine(lowered)
        phases["build"].append(built.build_seconds)
        size = len(built.blob)
    result = {k: statistics.median(v) for k, v in phases.items()}
    result["size_mb"] = size / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="builds per function (the median is shown)")
    parser.add_argument("--gpt2-layers", type=int, default=0, help="also build a GPT-2 small with this many layers")
    options = parser.parse_args()
    if load_tensorrt() is None:
        sys.exit("TensorRT is not installed: pip install '.[tensorrt]'")
    warnings.simplefilter("ignore")
    tp.config.backend = "numpy"
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"{tensorrt_version()}, {cpu}, {os.cpu_count()} CPUs, median of {options.repeat} builds\n")
    print("| function | trace (s) | lower (s) | build (s) | engine (MiB) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, func, args in cases(options.gpt2_layers):
        r = measure(func, args, options.repeat)
        print(f"| {name} | {r['trace']:.3f} | {r['lower']:.3f} | {r['build']:.2f} | {r['size_mb']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
