"""Generate text with the tripy GPT-2, optionally quantized with scales calibrated by NVIDIA ModelOpt.

With network access::

    python3 example.py --input-text "What is the answer to life?" --quant-mode int8-weight-only --seed 1

Offline (a small GPT-2 with random weights, built by ``transformers``; token ids in and out)::

    python3 example.py --offline --input-ids 1,2,3 --max-new-tokens 8 --quant-mode int8

Progress goes to stderr; the generated text (or ids) to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any

import numpy as np
import torch
from model import GPT, QUANT_MODES, generate
from quantization import calibrate, random_calibration_batches, text_calibration_batches
from weight_loader import config_from_hf, load_quant_weights_from_hf, load_weights_from_hf

import tripy as tp

#: The model that ``--offline`` builds: GPT-2's vocabulary and layout, scaled down.
OFFLINE_CONFIG = {"n_layer": 2, "n_head": 4, "n_embd": 128, "vocab_size": 50257, "n_positions": 256}


def status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Progress:
    """A one-line progress bar on stderr, redrawn after each generated token."""

    def __init__(self, total: int, width: int = 30) -> None:
        self.total, self.width, self.start = total, width, time.perf_counter()

    def __call__(self, step: int, new_tokens: np.ndarray) -> None:
        done = step + 1
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        filled = self.width * done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done == self.total else ""
        print(
            f"\rgenerating [{bar}] {done}/{self.total} tokens, {rate:.1f} steps/s", end=end, file=sys.stderr, flush=True
        )


def build_hf_model(args: argparse.Namespace) -> tuple[Any, Any]:
    """The ``transformers`` GPT-2 and its tokenizer (None offline)."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    if args.offline:
        status(f"Building a random GPT-2 offline: {OFFLINE_CONFIG}")
        torch.manual_seed(args.seed)
        return GPT2LMHeadModel(GPT2Config(**OFFLINE_CONFIG)).eval(), None
    status(f"Loading '{args.model}' from the HuggingFace hub...")
    return GPT2LMHeadModel.from_pretrained(args.model).eval(), AutoTokenizer.from_pretrained(args.model)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gpt2", help="HuggingFace model name (default: gpt2)")
    parser.add_argument("--offline", action="store_true", help="use a small random GPT-2 instead of the hub")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input-text", help="the prompt (needs the model's tokenizer, so not with --offline)")
    source.add_argument("--input-ids", help="the prompt as comma-separated token ids")
    parser.add_argument("--max-new-tokens", type=int, default=20)
    parser.add_argument(
        "--quant-mode",
        choices=sorted(QUANT_MODES),
        default=None,
        help="calibrate with ModelOpt and run quantized Linears",
    )
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    parser.add_argument("--temperature", type=float, default=0.8, help="0 means greedy decoding")
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="seeds sampling (and the --offline weights)")
    args = parser.parse_args(argv)
    if args.offline and args.input_text is not None:
        parser.error("--input-text needs a tokenizer from the hub; use --input-ids with --offline")
    if args.input_text is None and args.input_ids is None:
        if args.offline:
            args.input_ids = "464,2068,7586"  # GPT-2's ids of "The quick brown"
        else:
            args.input_text = "What is the answer to life, the universe, and everything?"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dtype = getattr(tp, args.dtype)
    hf_model, tokenizer = build_hf_model(args)
    if args.input_ids is not None:
        prompt = [int(i) for i in args.input_ids.split(",") if i.strip()]
    else:
        prompt = tokenizer(args.input_text)["input_ids"]

    model = GPT(config_from_hf(hf_model.config, dtype=dtype, quant_mode=args.quant_mode))
    start = time.perf_counter()
    if args.quant_mode is None:
        load_weights_from_hf(model, hf_model)
    else:
        status(f"Calibrating with ModelOpt for {args.quant_mode}...")
        if tokenizer is None:
            batches = random_calibration_batches(hf_model.config.vocab_size, seed=args.seed)
        else:
            batches = text_calibration_batches(tokenizer)
        with contextlib.redirect_stdout(sys.stderr):  # ModelOpt reports on stdout; keep stdout for the result
            hf_model = calibrate(hf_model, args.quant_mode, batches)
        load_quant_weights_from_hf(model, hf_model)
    status(
        f"Loaded weights into the tripy model in {time.perf_counter() - start:.1f} s "
        f"(device: {model.transformer.wte.weight.device}, dtype: {args.dtype}, quant_mode: {args.quant_mode})."
    )

    tokens = generate(
        model,
        [prompt],
        args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        on_token=Progress(args.max_new_tokens),
    )[0].tolist()
    print(tokenizer.decode(tokens) if tokenizer is not None else ",".join(map(str, tokens)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
