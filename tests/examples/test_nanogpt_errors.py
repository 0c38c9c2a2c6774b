"""Checkpoints that do not fit: each is refused with an error that names the offending key."""

from __future__ import annotations

import copy

import pytest
import torch
from model import GPT, GPTConfig
from weight_loader import CheckpointError, config_from_hf, load_quant_weights_from_hf, load_weights_from_hf

import tripy as tp


def fresh(hf_model, **overrides) -> GPT:
    config = config_from_hf(hf_model.config)
    for key, value in overrides.items():
        setattr(config, key, value)
    config.__post_init__()
    return GPT(config)


def test_missing_key(hf_model):
    state = dict(hf_model.state_dict())
    del state["transformer.h.1.mlp.c_fc.bias"]
    with pytest.raises(CheckpointError, match=r"missing key\(s\): transformer\.h\.1\.mlp\.c_fc\.bias"):
        load_weights_from_hf(fresh(hf_model), state)


def test_extra_key(hf_model):
    state = dict(hf_model.state_dict())
    state["transformer.h.2.attn.c_attn.weight"] = state["transformer.h.1.attn.c_attn.weight"]
    with pytest.raises(CheckpointError, match=r"unexpected key\(s\): transformer\.h\.2\.attn\.c_attn\.weight"):
        load_weights_from_hf(fresh(hf_model), state)


def test_config_with_more_layers_names_the_first_missing_layer(hf_model):
    with pytest.raises(CheckpointError, match=r"n_layer=3.*missing key\(s\): transformer\.h\.2\.attn\.c_attn\.bias"):
        load_weights_from_hf(fresh(hf_model, n_layer=3), hf_model)


def test_config_with_other_width_names_the_key_and_shapes(hf_model):
    with pytest.raises(
        CheckpointError,
        match=r"transformer\.wpe\.weight: the checkpoint has shape \(64, 128\), but "
        r"the config .*block_size=32\) needs \(32, 128\)",
    ):
        load_weights_from_hf(fresh(hf_model, block_size=32), hf_model)
    state = {k: (v[:, :96] if k.endswith("attn.c_proj.weight") else v) for k, v in hf_model.state_dict().items()}
    with pytest.raises(
        CheckpointError,
        match=r"transformer\.h\.0\.attn\.c_proj\.weight: the checkpoint's Conv1D "
        r"weight has shape \(128, 96\)",
    ):
        load_weights_from_hf(fresh(hf_model), state)


def test_untied_lm_head_is_refused(hf_model):
    state = dict(hf_model.state_dict())
    state["lm_head.weight"] = state["lm_head.weight"] + 1
    with pytest.raises(CheckpointError, match="lm_head.weight differs from transformer.wte.weight"):
        load_weights_from_hf(fresh(hf_model), state)


def test_unsupported_activation_is_refused(hf_model):
    config = copy.deepcopy(hf_model.config)
    config.activation_function = "relu"
    with pytest.raises(CheckpointError, match="activation_function='relu'"):
        config_from_hf(config)
    with pytest.raises(ValueError, match="unknown quant_mode 'int2'"):
        GPTConfig(quant_mode="int2")


def test_quantizer_without_amax_in_a_state_dict(calibrated):
    state = dict(calibrated("int8").state_dict())
    del state["transformer.h.1.attn.c_proj.weight_quantizer._amax"]
    model = GPT(config_from_hf(calibrated("int8").config, quant_mode="int8"))
    with pytest.raises(CheckpointError, match=r"transformer\.h\.1\.attn\.c_proj\.weight_quantizer\._amax is missing"):
        load_quant_weights_from_hf(model, state)


def test_quantizer_without_amax_in_a_model(hf_model):
    """Quantized without calibration data, ModelOpt's input quantizers are enabled but have no amax."""
    import modelopt.torch.quantization as mtq
    from quantization import modelopt_config

    uncalibrated = mtq.quantize(copy.deepcopy(hf_model), modelopt_config("int8"), forward_loop=None)
    model = GPT(config_from_hf(hf_model.config, quant_mode="int8"))
    with pytest.raises(
        CheckpointError,
        match=r"transformer\.h\.0\.attn\.c_attn\.input_quantizer: the quantizer has "
        r"no amax",
    ):
        load_quant_weights_from_hf(model, uncalibrated)


def test_weight_only_model_cannot_take_input_quantizers(calibrated):
    model = GPT(config_from_hf(calibrated("int8").config, quant_mode="int8-weight-only"))
    with pytest.raises(
        CheckpointError,
        match=r"transformer\.h\.0\.attn\.c_attn\.input_quantizer\._amax: the "
        r"checkpoint quantizes Linear inputs",
    ):
        load_quant_weights_from_hf(model, calibrated("int8").state_dict())


def test_activation_quantized_model_needs_input_amax(calibrated):
    model = GPT(config_from_hf(calibrated("int8-weight-only").config, quant_mode="int8"))
    with pytest.raises(CheckpointError, match=r"transformer\.h\.0\.attn\.c_attn\.input_quantizer\._amax is missing"):
        load_quant_weights_from_hf(model, calibrated("int8-weight-only").state_dict())


def test_quant_mode_of_another_type_names_the_quantizer(calibrated):
    model = GPT(config_from_hf(calibrated("int8-weight-only").config, quant_mode="int4-weight-only"))
    with pytest.raises(
        CheckpointError,
        match=r"transformer\.h\.0\.attn\.c_attn\.weight_quantizer: num_bits=8, but "
        r"quant_mode='int4-weight-only' needs num_bits=4",
    ):
        load_quant_weights_from_hf(model, calibrated("int8-weight-only"))


def test_enabled_layernorm_quantizer_is_refused(hf_model):
    import modelopt.torch.quantization as mtq

    batch = torch.randint(0, 256, (2, 8))
    stock = mtq.quantize(copy.deepcopy(hf_model), copy.deepcopy(mtq.INT8_DEFAULT_CFG), forward_loop=lambda m: m(batch))
    model = GPT(config_from_hf(hf_model.config, quant_mode="int8"))
    with pytest.raises(
        CheckpointError,
        match=r"transformer\.h\.0\.ln_1\.input_quantizer: this ModelOpt quantizer is "
        r"enabled",
    ):
        load_quant_weights_from_hf(model, stock)


def test_loaders_refuse_the_other_kind_of_model(hf_model, calibrated):
    with pytest.raises(CheckpointError, match="built with quant_mode='int8'"):
        load_weights_from_hf(GPT(config_from_hf(hf_model.config, quant_mode="int8")), hf_model)
    with pytest.raises(CheckpointError, match="built without quant_mode"):
        load_quant_weights_from_hf(GPT(config_from_hf(hf_model.config, dtype=tp.float32)), calibrated("int8"))
    with pytest.raises(TypeError, match="not list"):
        load_weights_from_hf(fresh(hf_model), [1, 2])


def test_int4_blocks_that_do_not_tile_the_weight_are_refused():
    """ModelOpt pads a last partial block of 128 inputs; tripy's block scales must tile, so 192 inputs fail."""
    from quantization import calibrate, random_calibration_batches
    from transformers import GPT2Config, GPT2LMHeadModel

    hf_model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=4, n_embd=192, vocab_size=64, n_positions=16)).eval()
    calibrated = calibrate(hf_model, "int4-weight-only", random_calibration_batches(64, num_batches=1))
    model = GPT(config_from_hf(hf_model.config, quant_mode="int4-weight-only"))
    with pytest.raises(
        CheckpointError,
        match=r"transformer\.h\.0\.attn\.c_attn\.weight_quantizer\._amax: "
        r"transformer\.h\.0\.attn\.c_attn has 192 inputs, not a multiple of "
        r"the int4 block size 128",
    ):
        load_quant_weights_from_hf(model, calibrated)
