"""The example's command line and the benchmark script, run offline at small sizes."""

from __future__ import annotations

import importlib.util
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


def test_benchmark_runs_small_on_cpu(capsys, tmp_path):
    spec = importlib.util.spec_from_file_location("nanogpt_benchmark", ROOT / "benchmarks" / "nanogpt.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    results = benchmark.main(
        [
            "--device",
            "cpu",
            "--config",
            "small",
            "--batch-sizes",
            "1,2",
            "--prompt-len",
            "4",
            "--new-tokens",
            "2",
            "--warmup-tokens",
            "1",
            "--json",
            str(tmp_path / "out.json"),
        ]
    )
    assert [(r["variant"], r["batch"]) for r in results] == [
        (v, b) for v in ("transformers-fp16", "tripy-fp16", "tripy-int8-weight-only") for b in (1, 2)
    ]
    assert all(r["tokens_per_s"] > 0 for r in results)
    table = capsys.readouterr().out
    assert "| tripy-int8-weight-only   |     2 |" in table and (tmp_path / "out.json").exists()


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
