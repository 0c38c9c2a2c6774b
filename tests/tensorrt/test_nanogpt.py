"""The nanoGPT example's GPT-2 (a small configuration) compiles in every quantization mode.

Dynamic sequence length; each network is run layer by layer against eager tripy (see ``trt_checks``).
Skipped when the example cannot be imported.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from trt_checks import assert_same_as_eager, compile_quietly, kinds, layers_of

import tripy as tp

MODEL = Path(__file__).resolve().parents[2] / "examples" / "nanogpt" / "model.py"


@pytest.fixture(scope="module")
def nanogpt():
    try:
        spec = importlib.util.spec_from_file_location("nanogpt_model_for_tests", MODEL)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        module.GPTConfig, module.GPT  # noqa: B018 - the names this test uses
    except Exception as exc:  # the example is another area's code: skip rather than fail on its changes
        pytest.skip(f"examples/nanogpt/model.py is not importable: {exc}")
    return module


def small_gpt(nanogpt, mode):
    config = nanogpt.GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=2, n_embd=32, quant_mode=mode)
    model = nanogpt.GPT(config)
    rng = np.random.default_rng(0)
    model.load_state_dict(
        {k: (rng.standard_normal(p.shape) * 0.1).astype(np.float32) for k, p in model.state_dict().items()},
        strict=False,
    )
    for _, sub in model.named_modules():
        if isinstance(sub, tp.Linear) and sub.quant_dtype is not None:
            if sub.quant_dtype == tp.int4:  # block-wise: blocks of 16 input features
                sub.weight_scale = tp.Parameter(tp.full((sub.out_features, sub.in_features // 16), 0.05))
            elif sub.weight_quant_dim is None:
                sub.weight_scale = tp.Parameter(0.01)
            else:
                sub.weight_scale = tp.Parameter(tp.full((sub.out_features,), 0.01))
            if config.quant.quantize_inputs:
                sub.input_scale = tp.Parameter(0.05)
    return model


@pytest.mark.parametrize("mode", [None, "int8-weight-only", "int8", "int4-weight-only", "fp8"])
def test_small_gpt2_compiles(trt, nanogpt, mode):
    model = small_gpt(nanogpt, mode)
    exe = compile_quietly(model, [tp.InputInfo((1, (1, 8, 16)), tp.int32)])
    layers, lowered = layers_of(trt, exe)
    ((name, ranges),) = lowered.profile.items()  # one input, named after GPT.forward's argument
    assert ranges == ((1, 1), (1, 8), (1, 16))
    dequantized = [layer for layer in layers if layer["type"] == "DEQUANTIZE"]
    if mode is None:
        assert not dequantized
    else:
        stored = {
            layers[layer["inputs"][0]]["dtypes"][0]
            for layer in dequantized
            if layers[layer["inputs"][0]]["type"] == "CONSTANT"
        }
        assert stored == {{"int8-weight-only": "INT8", "int8": "INT8", "int4-weight-only": "INT4", "fp8": "FP8"}[mode]}
        assert ("QUANTIZE" in kinds(layers)) == (mode in ("int8", "fp8"))
    for seq in (1, 16):
        ids = tp.Tensor((np.arange(seq, dtype=np.int32) * 7 % 64).reshape(1, seq))
        assert_same_as_eager(exe, model, ids)
