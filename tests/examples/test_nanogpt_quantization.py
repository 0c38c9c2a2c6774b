"""Quantized tripy GPT-2 against ModelOpt's fake-quantized PyTorch model, calibrated on the CPU.

Tripy's quantize/dequantize reproduce ModelOpt's fake quantization (scale = amax / maxbound, round half to
even, clamp), so the logits agree to float32 rounding. The stated tolerance is 1e-4 of the largest logit
(measured: below 1e-6); each mode's quantization error against float32 is far larger (1% to 30%), so the
comparison would catch a wrong scale, axis or layout.
"""

from __future__ import annotations

import numpy as np
import pytest
from model import GPT, QUANT_MODES
from quantization import modelopt_config
from test_nanogpt_model import logits_of, reference_logits, relative_error
from weight_loader import config_from_hf, load_quant_weights_from_hf

import tripy as tp

TOLERANCE = 1e-4


def quantized_gpt(hf_model, mode: str, dtype=tp.float32) -> GPT:
    model = GPT(config_from_hf(hf_model.config, dtype=dtype, quant_mode=mode))
    load_quant_weights_from_hf(model, hf_model)
    return model


@pytest.mark.parametrize("mode", sorted(QUANT_MODES))
def test_quantized_logits_match_modelopt(hf_model, calibrated, token_ids, mode):
    reference = calibrated(mode)
    expected = reference_logits(reference, token_ids)
    out = logits_of(quantized_gpt(reference, mode), token_ids)
    assert relative_error(out, expected) < TOLERANCE
    # Quantization really happened: the float32 model is much further away than the tolerance.
    assert relative_error(expected, reference_logits(hf_model, token_ids)) > 100 * TOLERANCE


def test_int8_weight_only_scales_are_amax_over_127_per_output_channel(calibrated):
    reference = calibrated("int8-weight-only")
    linear = quantized_gpt(reference, "int8-weight-only").transformer.h[0].attn.c_attn
    amax = reference.transformer.h[0].attn.c_attn.weight_quantizer.amax
    assert tuple(amax.shape) == (384, 1) and linear.weight_scale.shape == (384,)
    np.testing.assert_allclose(linear.weight_scale.numpy(), amax.numpy()[:, 0] / 127, rtol=1e-6)
    assert linear.input_scale is None and linear.weight_quant_dim == 0


def test_int8_input_scales_are_per_tensor(calibrated):
    reference = calibrated("int8")
    linear = quantized_gpt(reference, "int8").transformer.h[1].mlp.c_fc
    amax = float(reference.transformer.h[1].mlp.c_fc.input_quantizer.amax)
    assert linear.input_scale.shape == ()
    assert linear.input_scale.tolist() == pytest.approx(amax / 127, rel=1e-6)


def test_int4_block_scales_tile_the_weight(calibrated):
    """ModelOpt's block amax (out * blocks, 1) becomes a (out, in / 128) scale."""
    reference = calibrated("int4-weight-only")
    model = quantized_gpt(reference, "int4-weight-only")
    proj = model.transformer.h[0].mlp.c_proj
    assert proj.weight.shape == (128, 512) and proj.weight_scale.shape == (128, 4)
    assert model.transformer.h[0].attn.c_attn.weight_scale.shape == (384, 1)
    amax = reference.transformer.h[0].mlp.c_proj.weight_quantizer.amax
    np.testing.assert_allclose(proj.weight_scale.numpy(), amax.numpy().reshape(128, 4) / 7, rtol=1e-6)


def test_awq_pre_quant_scale_is_loaded(calibrated):
    reference = calibrated("int4-awq")
    linear = quantized_gpt(reference, "int4-awq").transformer.h[0].attn.c_attn
    expected = reference.transformer.h[0].attn.c_attn.input_quantizer.pre_quant_scale
    np.testing.assert_allclose(linear.pre_quant_scale.numpy(), expected.numpy(), rtol=1e-6)


def test_quantized_state_dict_source_equals_module_source(calibrated, token_ids):
    reference = calibrated("int8")
    model = GPT(config_from_hf(reference.config, quant_mode="int8"))
    load_quant_weights_from_hf(model, reference.state_dict())
    np.testing.assert_array_equal(logits_of(model, token_ids), logits_of(quantized_gpt(reference, "int8"), token_ids))


def test_float16_int8_weight_only_close_to_modelopt(calibrated, token_ids, backend):
    reference = calibrated("int8-weight-only")
    out = logits_of(quantized_gpt(reference, "int8-weight-only", tp.float16), token_ids)
    assert relative_error(out, reference_logits(reference, token_ids)) < 1e-2


def test_modelopt_config_leaves_layernorm_inputs_unquantized(calibrated):
    import modelopt.torch.quantization as mtq

    assert modelopt_config("int8")["quant_cfg"][:-1] == mtq.INT8_DEFAULT_CFG["quant_cfg"]
    enabled = [
        name
        for name, module in calibrated("int8").named_modules()
        if name.endswith("quantizer") and getattr(module, "is_enabled", False)
    ]
    assert len(enabled) == 16 and all(".attn.c_" in n or ".mlp.c_" in n for n in enabled)
    with pytest.raises(ValueError, match="unknown quant_mode 'int3'"):
        modelopt_config("int3")


def test_model_name_source_is_calibrated_on_text(hf_model, token_ids, checkpoint_dir):
    """Given a name, the loader downloads (here: reads) the checkpoint and tokenizer and calibrates on text."""
    import copy

    from quantization import calibrate, text_calibration_batches
    from transformers import AutoTokenizer

    model = GPT(config_from_hf(hf_model.config, quant_mode="int8"))
    load_quant_weights_from_hf(model, checkpoint_dir)
    batches = text_calibration_batches(AutoTokenizer.from_pretrained(checkpoint_dir))
    reference = calibrate(copy.deepcopy(hf_model), "int8", batches)
    assert relative_error(logits_of(model, token_ids), reference_logits(reference, token_ids)) < TOLERANCE
