"""The example's command line and the benchmark script, run offline at small sizes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import example
import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_example(capsys, *argv: str) -> tuple[str, str]:
    assert example.main(list(argv)) == 0
    captured = capsys.readouterr()
    return captured.out.strip(), captured.err


@pytest.mark.parametrize("quant_mode", [None, "int8-weight-only"])
def test_example_generates_ids_offline_with_progress(capsys, quant_mode):
    argv = ["--offline", "--input-ids", "10,20,30", "--max-new-tokens", "4", "--seed", "5"]
    if quant_mode:
        argv += ["--quant-mode", quant_mode]
    out, err = run_example(capsys, *argv)
    ids = [int(i) for i in out.split(",")]
    assert ids[:3] == [10, 20, 30] and len(ids) == 7
    assert "4/4 tokens" in err and "Building a random GPT-2 offline" in err
    if quant_mode:
        assert f"Calibrating with ModelOpt for {quant_mode}" in err
    # The same seed gives the same (sampled) continuation.
    assert run_example(capsys, *argv)[0] == out


def test_example_refuses_text_offline(capsys):
    with pytest.raises(SystemExit):
        example.main(["--offline", "--input-text", "hello"])
    assert "--input-text needs a tokenizer" in capsys.readouterr().err


def _benchmark_module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_small_on_cpu(capsys, tmp_path):
    benchmark = _benchmark_module("nanogpt")
    variants = "hf-generate,hf-eager-loop,torch-cuda-graph,tripy-fp16,tripy-int8-weight-only,tripy-compiled-fp16"
    argv = ["--device", "cpu", "--config", "small", "--batch-sizes", "1,2", "--prompt-len", "4", "--new-tokens", "3"]
    results = benchmark.main([*argv, "--max-runs", "3", "--variants", variants, "--json", str(tmp_path / "out.json")])
    assert [(r["variant"], r["batch"]) for r in results] == [(v, b) for v in variants.split(",") for b in (1, 2)]
    assert all(r["tokens_per_s"] > 0 and r["runs"] >= 3 for r in results)
    assert all(r["min_tokens_per_s"] <= r["tokens_per_s"] <= r["max_tokens_per_s"] for r in results)
    # Greedy float16 decoding of the same model: the PyTorch variants agree with the eager loop exactly.
    assert all(r["same_tokens_as_hf"] == 1.0 for r in results if r["variant"].startswith(("hf", "torch")))
    table = capsys.readouterr().out
    assert "| tripy-int8-weight-only          |     2 |" in table and (tmp_path / "out.json").exists()
    # The compiled static-cache decoder generates what the eager tripy decoder does.
    same = {(r["variant"], r["batch"]): r["same_tokens_as_hf"] for r in results}
    assert all(same[("tripy-compiled-fp16", b)] == same[("tripy-fp16", b)] for b in (1, 2))


def test_static_decoder_generates_what_huggingface_generates():
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gpt2_static_decoder import StaticGPT2Decoder

    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_head=4, n_embd=64, vocab_size=97, n_positions=64, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config).eval()
    ids = torch.randint(1, 97, (3, 5))
    expected = model.generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=9, min_new_tokens=9, do_sample=False
    )
    decoder = StaticGPT2Decoder(model, batch=3, max_len=20)
    assert torch.equal(decoder.generate(ids, 9), expected)
    assert torch.equal(decoder.generate(ids, 9), expected)  # the cache of the first run does not leak
    with pytest.raises(ValueError, match="at most 20 positions"):
        decoder.generate(ids, 16)


def test_example_generates_text_from_a_checkpoint(capsys, checkpoint_dir):
    out, err = run_example(
        capsys,
        "--model",
        checkpoint_dir,
        "--input-text",
        "The quick brown fox",
        "--max-new-tokens",
        "3",
        "--temperature",
        "0",
        "--quant-mode",
        "int8",
    )
    assert out.startswith("The quick brown fox")  # new ids past the tokenizer's ~100 words decode to nothing
    assert f"Loading '{checkpoint_dir}'" in err and "3/3 tokens" in err
