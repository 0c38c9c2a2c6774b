"""Generation throughput of GPT-2: ``transformers`` float16 vs tripy float16 vs tripy int8 weight-only.

Random weights (no download) of the GPT-2 124M architecture by default. Each variant first generates a few
untimed tokens (warm-up: kernel compilation, allocations), then one timed greedy generation with a KV
cache per batch size; tokens/s counts the new tokens of the whole batch. Everything runs in one process
and prints one table::

    python3 benchmarks/nanogpt.py                      # GPU: tripy on its cuda backend
    python3 benchmarks/nanogpt.py --device cpu --config small --new-tokens 8   # anywhere, in seconds
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "nanogpt"))

from model import GPT, generate  # noqa: E402
from quantization import calibrate, random_calibration_batches  # noqa: E402
from weight_loader import config_from_hf, load_quant_weights_from_hf, load_weights_from_hf  # noqa: E402

import tripy as tp  # noqa: E402

LINEAR_WEIGHTS = tuple(f"{name}.weight" for name in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"))
CONFIGS = {
    "gpt2": {"n_layer": 12, "n_head": 12, "n_embd": 768, "vocab_size": 50257, "n_positions": 1024},
    "small": {"n_layer": 2, "n_head": 4, "n_embd": 128, "vocab_size": 1024, "n_positions": 256},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--device",
        choices=["cuda", "cpu"],
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="where transformers runs; tripy uses its cuda backend on 'cuda', numpy on 'cpu'",
    )
    parser.add_argument("--config", choices=sorted(CONFIGS), default="gpt2", help="model size (gpt2 = 124M)")
    parser.add_argument("--batch-sizes", default="1,16", help="comma-separated batch sizes")
    parser.add_argument("--prompt-len", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--warmup-tokens", type=int, default=4)
    parser.add_argument(
        "--variants",
        default="transformers-fp16,tripy-fp16,tripy-int8-weight-only",
        help="comma-separated subset of the variants to run",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def timed(run: Callable[[], object], sync: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    from transformers import GPT2Config, GPT2LMHeadModel

    tp.config.backend = "cuda" if args.device == "cuda" else "numpy"
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    hf_config = GPT2Config(**CONFIGS[args.config], bos_token_id=0, eos_token_id=0, pad_token_id=0)
    hf_fp32 = GPT2LMHeadModel(hf_config).eval()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    prompts = {
        b: np.random.default_rng(b).integers(1, hf_config.vocab_size, (b, args.prompt_len), dtype=np.int32)
        for b in batch_sizes
    }

    def transformers_fp16() -> Callable[[np.ndarray, int], object]:
        model = copy.deepcopy(hf_fp32).to(device=args.device, dtype=torch.float16)

        def run(ids: np.ndarray, n: int) -> object:
            ids_t = torch.from_numpy(ids).long().to(args.device)
            with torch.no_grad():
                return model.generate(
                    ids_t, attention_mask=torch.ones_like(ids_t), max_new_tokens=n, min_new_tokens=n, do_sample=False
                )

        return run

    def tripy_model(quant_mode: str | None) -> Callable[[np.ndarray, int], object]:
        model = GPT(config_from_hf(hf_config, dtype=tp.float16, quant_mode=quant_mode))
        if quant_mode is None:
            load_weights_from_hf(model, hf_fp32)
        else:
            load_quant_weights_from_hf(model, int8_weight_only_checkpoint())
        return lambda ids, n: generate(model, ids, n)

    def int8_weight_only_checkpoint() -> dict[str, torch.Tensor] | torch.nn.Module:
        """ModelOpt's calibrated model; without ModelOpt, the same per-channel max computed here."""
        try:
            import modelopt.torch.quantization  # noqa: F401
        except ImportError:
            print(
                "nvidia-modelopt is not installed: weight amax computed directly (same as its max calibration)",
                file=sys.stderr,
            )
            state = {}
            for key, value in hf_fp32.state_dict().items():
                if key.endswith(LINEAR_WEIGHTS):
                    value = value.t().contiguous()
                    state[key.removesuffix("weight") + "weight_quantizer._amax"] = value.abs().amax(1, keepdim=True)
                state[key] = value
            return state
        batches = random_calibration_batches(hf_config.vocab_size, num_batches=1, seq_len=args.prompt_len)
        return calibrate(copy.deepcopy(hf_fp32), "int8-weight-only", batches)

    builders = {
        "transformers-fp16": transformers_fp16,
        "tripy-fp16": lambda: tripy_model(None),
        "tripy-int8-weight-only": lambda: tripy_model("int8-weight-only"),
    }
    results = []
    for variant in args.variants.split(","):
        print(f"[{variant}] preparing...", file=sys.stderr, flush=True)
        run = builders[variant]()
        for batch in batch_sizes:
            run(prompts[batch], args.warmup_tokens)
            seconds = timed(lambda batch=batch, run=run: run(prompts[batch], args.new_tokens), sync)
            results.append(
                {
                    "variant": variant,
                    "batch": batch,
                    "prompt_len": args.prompt_len,
                    "new_tokens": args.new_tokens,
                    "seconds": seconds,
                    "tokens_per_s": batch * args.new_tokens / seconds,
                }
            )
            print(f"[{variant}] batch {batch}: {results[-1]['tokens_per_s']:.1f} tokens/s", file=sys.stderr, flush=True)

    device = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine()
    print(
        f"\nGPT-2 ({args.config}: {CONFIGS[args.config]}), random weights, greedy with KV cache, "
        f"prompt {args.prompt_len} tokens, {args.new_tokens} new tokens"
    )
    print(f"device: {device}; tripy backend: {tp.config.backend}; torch {torch.__version__}\n")
    print(f"| {'variant':<24} | {'batch':>5} | {'seconds':>8} | {'tokens/s':>9} |")
    print(f"|{'-' * 26}|{'-' * 7}|{'-' * 10}|{'-' * 11}|")
    for r in results:
        print(f"| {r['variant']:<24} | {r['batch']:>5} | {r['seconds']:>8.3f} | {r['tokens_per_s']:>9.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"device": device, "config": args.config, "results": results}, indent=2))
    return results


if __name__ == "__main__":
    main()
