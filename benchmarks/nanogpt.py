"""Decoding throughput of GPT-2 (float16, greedy, KV cache): HuggingFace, a PyTorch CUDA-graph decoder, tripy.

Random weights (no download) of the GPT-2 124M architecture by default. Every variant is warmed and then
timed again and again until two consecutive runs agree within 5% (at least three timed runs); the table
gives the median and the spread of tokens/s (new tokens of the whole batch per second, prompt included
in the time), the milliseconds per token, and whether the variant generated the same tokens as the
HuggingFace eager loop. The floor is the time to read the float16 weights once per token at the card's
memory bandwidth. Everything runs in one process::

    python3 benchmarks/nanogpt.py                      # GPU: tripy on its cuda backend
    python3 benchmarks/nanogpt.py --device cpu --config small --new-tokens 8   # anywhere, in seconds

Variants: ``hf-generate`` (``model.generate``), ``hf-eager-loop`` (a loop over ``past_key_values``),
``torch-cuda-graph`` (a static-KV decoder, one decode step captured as a CUDA graph:
``gpt2_static_decoder.py``), ``tripy-fp16``, ``tripy-int8-weight-only`` and ``tripy-int8`` (input and
weight scales), eager: ``generate`` runs the static-cache step eagerly, whose repeated trace the cuda
backend replays as one CUDA graph per token (``tripy/backend/cuda/eager_graphs.py``); and
``tripy-compiled-*``: the same models through ``StaticDecoder`` (``examples/nanogpt/model.py``: the
prompt and each decode step compiled with ``tp.compile``, one CUDA graph per step, the caches donated).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "nanogpt"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpt2_static_decoder import StaticGPT2Decoder  # noqa: E402
from model import GPT, StaticDecoder, generate  # noqa: E402
from quantization import calibrate, random_calibration_batches  # noqa: E402
from weight_loader import config_from_hf, load_quant_weights_from_hf, load_weights_from_hf  # noqa: E402

import tripy as tp  # noqa: E402
from tripy.backend.registry import get_backend  # noqa: E402

LINEAR_WEIGHTS = tuple(f"{name}.weight" for name in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"))
CONFIGS = {
    "gpt2": {"n_layer": 12, "n_head": 12, "n_embd": 768, "vocab_size": 50257, "n_positions": 1024},
    "small": {"n_layer": 2, "n_head": 4, "n_embd": 128, "vocab_size": 1024, "n_positions": 256},
}
VARIANTS = (
    "hf-generate",
    "hf-eager-loop",
    "torch-cuda-graph",
    "tripy-fp16",
    "tripy-int8-weight-only",
    "tripy-int8",
    "tripy-compiled-fp16",
    "tripy-compiled-int8-weight-only",
    "tripy-compiled-int8",
)
#: Memory bandwidth in TB/s by a word of the card's name (for the floor).
BANDWIDTH_TBS = {"H200": 4.8, "H100": 3.35, "A100": 2.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--device",
        choices=["cuda", "cpu"],
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="where PyTorch runs; tripy uses its cuda backend on 'cuda', numpy on 'cpu'",
    )
    parser.add_argument("--config", choices=sorted(CONFIGS), default="gpt2", help="model size (gpt2 = 124M)")
    parser.add_argument("--batch-sizes", default="1,16", help="comma-separated batch sizes")
    parser.add_argument("--prompt-len", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of the variants")
    parser.add_argument("--max-runs", type=int, default=8, help="timed runs at most, per variant and batch")
    parser.add_argument(
        "--fusion",
        choices=["default", "none", "elementwise", "all"],
        default="default",
        help="what compiled graphs fuse on the cuda backend (CudaBackend.fusion; default: the backend's own)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def steady_seconds(run: Callable[[], object], sync: Callable[[], None], max_runs: int) -> list[float]:
    """Times of ``run`` after one untimed warm-up: repeated until two consecutive times agree within 5% and
    at least three were taken (or ``max_runs`` were)."""
    run()
    sync()
    times: list[float] = []
    while len(times) < max_runs:
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
        if len(times) >= 3 and abs(times[-1] - times[-2]) <= 0.05 * min(times[-2:]):
            break
    return times


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    from transformers import GPT2Config, GPT2LMHeadModel

    tp.config.backend = "cuda" if args.device == "cuda" else "numpy"
    if args.device == "cuda" and args.fusion != "default":
        get_backend("cuda").fusion = args.fusion  # type: ignore[attr-defined]
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    hf_config = GPT2Config(**CONFIGS[args.config], bos_token_id=0, eos_token_id=0, pad_token_id=0)
    hf_fp32 = GPT2LMHeadModel(hf_config).eval()
    hf_fp16 = copy.deepcopy(hf_fp32).to(device=args.device, dtype=torch.float16)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    prompts = {
        b: np.random.default_rng(b).integers(1, hf_config.vocab_size, (b, args.prompt_len), dtype=np.int32)
        for b in batch_sizes
    }
    new = args.new_tokens

    def on_device(ids: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(ids).long().to(args.device)

    def hf_generate(batch: int) -> Callable[[], np.ndarray]:
        ids = on_device(prompts[batch])
        mask = torch.ones_like(ids)

        def run() -> np.ndarray:
            with torch.no_grad():
                out = hf_fp16.generate(
                    ids, attention_mask=mask, max_new_tokens=new, min_new_tokens=new, do_sample=False
                )
            return out.cpu().numpy()

        return run

    def hf_eager_loop(batch: int) -> Callable[[], np.ndarray]:
        ids = on_device(prompts[batch])

        def run() -> np.ndarray:
            tokens, past, feed = [ids], None, ids
            with torch.no_grad():
                for _ in range(new):
                    out = hf_fp16(feed, past_key_values=past, use_cache=True)
                    past, feed = out.past_key_values, out.logits[:, -1:].argmax(-1)
                    tokens.append(feed)
            return torch.cat(tokens, 1).cpu().numpy()

        return run

    def torch_cuda_graph(batch: int) -> Callable[[], np.ndarray]:
        decoder = StaticGPT2Decoder(hf_fp16, batch, args.prompt_len + new)
        ids = on_device(prompts[batch])
        return lambda: decoder.generate(ids, new).cpu().numpy()

    tripy_models: dict[str | None, GPT] = {}
    described: set[tuple[str | None, int]] = set()

    def tripy_model(quant_mode: str | None) -> GPT:
        if quant_mode not in tripy_models:
            model = GPT(config_from_hf(hf_config, dtype=tp.float16, quant_mode=quant_mode))
            if quant_mode is None:
                load_weights_from_hf(model, hf_fp32)
            else:
                load_quant_weights_from_hf(model, quantized_checkpoint(quant_mode))
            tripy_models[quant_mode] = model
        return tripy_models[quant_mode]

    def tripy_variant(quant_mode: str | None) -> Callable[[int], Callable[[], np.ndarray]]:
        def make(batch: int) -> Callable[[], np.ndarray]:
            model = tripy_model(quant_mode)
            return lambda: generate(model, prompts[batch], new)

        return make

    def tripy_compiled(quant_mode: str | None) -> Callable[[int], Callable[[], np.ndarray]]:
        def make(batch: int) -> Callable[[], np.ndarray]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TensorRT cannot run here: tp.compile replays CUDA graphs
                decoder = StaticDecoder(tripy_model(quant_mode), batch, args.prompt_len, args.prompt_len + new)

            def run() -> np.ndarray:
                tokens = decoder.generate(prompts[batch], new)
                if args.device == "cuda" and (quant_mode, batch) not in described:
                    described.add((quant_mode, batch))
                    for graph in decoder.decode.cuda_graphs.values():
                        counts = ", ".join(
                            f"{n} {k}" for k, n in sorted(graph.step_counts.items(), key=lambda kv: -kv[1])
                        )
                        print(
                            f"[tripy-compiled {quant_mode or 'fp16'}] batch {batch} decode step: {counts}",
                            file=sys.stderr,
                        )
                return tokens

            return run

        return make

    def quantized_checkpoint(quant_mode: str) -> dict[str, torch.Tensor] | torch.nn.Module:
        """ModelOpt's calibrated model; without ModelOpt (weight-only only), the same per-channel max."""
        try:
            import modelopt.torch.quantization  # noqa: F401
        except ImportError:
            if quant_mode != "int8-weight-only":
                raise
            print("nvidia-modelopt is not installed: weight amax computed directly", file=sys.stderr)
            state = {}
            for key, value in hf_fp32.state_dict().items():
                if key.endswith(LINEAR_WEIGHTS):
                    value = value.t().contiguous()
                    state[key.removesuffix("weight") + "weight_quantizer._amax"] = value.abs().amax(1, keepdim=True)
                state[key] = value
            return state
        batches = random_calibration_batches(hf_config.vocab_size, num_batches=1, seq_len=args.prompt_len)
        return calibrate(copy.deepcopy(hf_fp32), quant_mode, batches)

    builders: dict[str, Callable[[int], Callable[[], np.ndarray]]] = {
        "hf-generate": hf_generate,
        "hf-eager-loop": hf_eager_loop,
        "torch-cuda-graph": torch_cuda_graph,
        "tripy-fp16": tripy_variant(None),
        "tripy-int8-weight-only": tripy_variant("int8-weight-only"),
        "tripy-int8": tripy_variant("int8"),
        "tripy-compiled-fp16": tripy_compiled(None),
        "tripy-compiled-int8-weight-only": tripy_compiled("int8-weight-only"),
        "tripy-compiled-int8": tripy_compiled("int8"),
    }
    reference: dict[int, np.ndarray] = {b: hf_eager_loop(b)() for b in batch_sizes}
    eager_runs: dict[tuple[str, int], np.ndarray] = {}

    def eager_tokens(mode: str, batch: int) -> np.ndarray:
        if (mode, batch) not in eager_runs:
            eager_runs[mode, batch] = builders[f"tripy-{mode}"](batch)()
        return eager_runs[mode, batch]

    results = []
    for variant in args.variants.split(","):
        for batch in batch_sizes:
            print(f"[{variant}] batch {batch}: preparing and warming...", file=sys.stderr, flush=True)
            run = builders[variant](batch)
            times = steady_seconds(run, sync, args.max_runs)
            tokens = run()
            same = float(np.mean(tokens[:, args.prompt_len :] == reference[batch][:, args.prompt_len :]))
            same_eager = None
            if variant.startswith("tripy-compiled-"):  # against eager tripy of the same model (one run of it)
                eager = eager_tokens(variant.removeprefix("tripy-compiled-"), batch)
                same_eager = float(np.mean(tokens[:, args.prompt_len :] == eager[:, args.prompt_len :]))
            rates = [batch * new / t for t in times]
            results.append(
                {
                    "variant": variant,
                    "batch": batch,
                    "runs": len(times),
                    "tokens_per_s": statistics.median(rates),
                    "min_tokens_per_s": min(rates),
                    "max_tokens_per_s": max(rates),
                    "ms_per_token": statistics.median(times) / new * 1e3,
                    "same_tokens_as_hf": same,
                    "same_tokens_as_eager_tripy": same_eager,
                }
            )
            r = results[-1]
            print(f"[{variant}] batch {batch}: {r['tokens_per_s']:.1f} tokens/s", file=sys.stderr, flush=True)

    if args.device == "cuda":
        device = torch.cuda.get_device_name()
        import cupy

        versions = f"torch {torch.__version__}, CuPy {cupy.__version__}"
    else:
        device, versions = platform.processor() or platform.machine(), f"torch {torch.__version__}"
    weight_bytes = sum(p.numel() for p in hf_fp32.parameters()) * 2  # float16; the LM head shares the embedding
    bandwidth = next((tbs for word, tbs in BANDWIDTH_TBS.items() if word in device), None)
    print(
        f"\nGPT-2 ({args.config}: {CONFIGS[args.config]}), random weights, float16, greedy with a KV cache, "
        f"prompt {args.prompt_len} tokens, {new} new tokens"
    )
    fusion = getattr(get_backend(tp.config.backend), "fusion", "-")
    print(f"device: {device}; {versions}; tripy backend: {tp.config.backend} (compiled graphs fuse: {fusion})\n")
    print(
        f"| {'variant':<31} | {'batch':>5} | {'tokens/s':>9} | {'spread':>17} | {'ms/token':>8} | runs "
        "| same tokens as HF | as eager tripy |"
    )
    print(f"|{'-' * 33}|{'-' * 7}|{'-' * 11}|{'-' * 19}|{'-' * 10}|------|-------------------|----------------|")
    for r in results:
        spread = f"{r['min_tokens_per_s']:.1f}-{r['max_tokens_per_s']:.1f}"
        eager = "" if r["same_tokens_as_eager_tripy"] is None else f"{r['same_tokens_as_eager_tripy']:.0%}"
        print(
            f"| {r['variant']:<31} | {r['batch']:>5} | {r['tokens_per_s']:>9.1f} | {spread:>17} | "
            f"{r['ms_per_token']:>8.3f} | {r['runs']:>4} | {r['same_tokens_as_hf']:>17.0%} | {eager:>14} |"
        )
    if bandwidth is not None:
        floor_ms = weight_bytes / (bandwidth * 1e12) * 1e3
        print(
            f"| {'floor (weights at ' + str(bandwidth) + ' TB/s)':<31} | {1:>5} | {1e3 / floor_ms:>9.1f} | {'':>17} | "
            f"{floor_ms:>8.3f} |      |                   |                |"
        )
    print(f"\nfloat16 weights: {weight_bytes / 1e9:.3f} GB read per token at batch 1")
    if args.json:
        payload = {"device": device, "versions": versions, "config": args.config, "results": results}
        args.json.write_text(json.dumps(payload, indent=2))
    return results


if __name__ == "__main__":
    main()
