"""Quantized tripy GPT-2 against ModelOpt's fake-quantized PyTorch model, calibrated on the CPU.

Tripy's quantize/dequantize reproduce ModelOpt's fake quantization (scale = amax / maxbound, round half to
even, clamp). Where only weights are quantized, the logits agree to float32 rounding: the stated tolerance
is 1e-4 of the largest logit (measured: below 1e-6). Where int8 activations are quantized, an activation
whose ``x / scale`` lies within float32 rounding of a tie (k + 0.5) may round either way, depending on how
the CPU computed it (seen: Intel and AMD differ), and one such flip moves a logit by one quantization step
times a weight, far past 1e-4 after the layers that follow. Those modes are compared layer by layer: each
quantized Linear is given ModelOpt's own input, and may differ from ModelOpt's output by float32
accumulation plus, per output, one quantization step times the dequantized weight for each input (or
weight) that lies in a tie's rounding band. Each mode's quantization error against float32 is far larger
(1% to 30%), so both comparisons catch a wrong scale, axis or layout.
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
#: Modes whose activations are quantized to int8: compared layer by layer, with ties accounted for.
INT8_ACTIVATION_MODES = ("int8", "int8-smoothquant")
#: float32's unit roundoff: one rounding moves a value by at most this much of itself.
UNIT_ROUNDOFF = float(np.finfo(np.float32).eps) / 2
#: The relative distance within which two computations of ``x * pre_quant_scale / scale`` (at most three
#: roundings on each side: the product, the scale, the quotient) may fall on opposite sides of a tie.
TIE_BAND = 2 * 3 * UNIT_ROUNDOFF


def quantized_gpt(hf_model, mode: str, dtype=tp.float32) -> GPT:
    model = GPT(config_from_hf(hf_model.config, dtype=dtype, quant_mode=mode))
    load_quant_weights_from_hf(model, hf_model)
    return model


@pytest.mark.parametrize("mode", sorted(set(QUANT_MODES) - set(INT8_ACTIVATION_MODES)))
def test_quantized_logits_match_modelopt(hf_model, calibrated, token_ids, mode):
    reference = calibrated(mode)
    expected = reference_logits(reference, token_ids)
    out = logits_of(quantized_gpt(reference, mode), token_ids)
    assert relative_error(out, expected) < TOLERANCE
    # Quantization really happened: the float32 model is much further away than the tolerance.
    assert relative_error(expected, reference_logits(hf_model, token_ids)) > 100 * TOLERANCE


QUANTIZED_LINEARS = [
    f"transformer.h.{i}.{name}" for i in range(2) for name in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
]


def layer_inputs_and_outputs(reference, token_ids) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The input and output of each of ModelOpt's quantized Linears in one forward pass."""
    seen: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def keep(name):
        return lambda module, args, out: seen.__setitem__(name, (args[0].detach().numpy().copy(), out.detach().numpy()))

    hooks = [reference.get_submodule(name).register_forward_hook(keep(name)) for name in QUANTIZED_LINEARS]
    try:
        reference_logits(reference, token_ids)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def tripy_linear(model: GPT, name: str):
    module = model
    for part in name.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


def in_tie_band(v: np.ndarray) -> np.ndarray:
    """Where ``v`` (the value before rounding, to float64 precision) may round either way on another CPU."""
    return np.abs(np.abs(v - np.floor(v)) - 0.5) <= TIE_BAND * np.abs(v)


def int8_linear_bound(linear, x: np.ndarray, reference_out: np.ndarray) -> np.ndarray:
    """Per output element: how far a correct int8 Linear may be from ModelOpt's, given the same input ``x``.

    Float32 accumulation of K products (and the scalings and the bias): (K + 4) unit roundoffs of the sum of
    magnitudes. Each input in a tie's band may round one step the other way: the input step times the
    dequantized weight; each weight in a tie's band: its row's step times the dequantized input.
    """
    x = x.astype(np.float64)
    pre = (
        linear.pre_quant_scale.numpy().astype(np.float64)
        if getattr(linear, "pre_quant_scale", None) is not None
        else 1.0
    )
    x_step = float(linear.input_scale.numpy())
    w = linear.weight.numpy().astype(np.float64)  # (out, in)
    w_step = linear.weight_scale.numpy().astype(np.float64)[:, None]
    xv, wv = x * pre / x_step, w / w_step
    x_dq = np.clip(np.rint(xv), -128, 127) * x_step
    w_dq = np.abs(np.clip(np.rint(wv), -128, 127) * w_step)
    magnitude = np.abs(x_dq) @ w_dq.T
    accumulation = (w.shape[1] + 4) * UNIT_ROUNDOFF * (magnitude + np.abs(reference_out))
    input_ties = x_step * (in_tie_band(xv).astype(np.float64) @ w_dq.T)
    weight_ties = np.abs(x_dq) @ (in_tie_band(wv) * w_step).T
    return accumulation + input_ties + weight_ties


@pytest.mark.parametrize("mode", INT8_ACTIVATION_MODES)
def test_int8_activation_layers_match_modelopt_up_to_ties(calibrated, token_ids, mode):
    reference = calibrated(mode)
    model = quantized_gpt(reference, mode)
    for name, (x, expected) in layer_inputs_and_outputs(reference, token_ids).items():
        linear = tripy_linear(model, name)
        out = np.asarray(linear(tp.Tensor(x)).numpy(), dtype=np.float64)
        bound = int8_linear_bound(linear, x, expected)
        assert np.all(np.abs(out - expected) <= bound), name
        # The bound has teeth: the same layer with its input scale 1% off is caught.
        step = float(linear.input_scale.numpy())
        linear.input_scale = tp.Parameter(step * 1.01)
        wrong = np.asarray(linear(tp.Tensor(x)).numpy(), dtype=np.float64)
        linear.input_scale = tp.Parameter(step)
        assert not np.all(np.abs(wrong - expected) <= bound), name


def test_a_tie_rounded_the_other_way_stays_within_the_int8_bound(calibrated, token_ids):
    """What another CPU does: an input in a tie's band, a few float32 ulps off, rounds the other way. The
    layer's output then moves by one step times a weight: past the float32 tolerance, within the bound."""
    mode = "int8"
    reference = calibrated(mode)
    model = quantized_gpt(reference, mode)
    flipped = 0
    for name, (x, expected) in layer_inputs_and_outputs(reference, token_ids).items():
        linear = tripy_linear(model, name)
        step = float(linear.input_scale.numpy())
        v = x.astype(np.float64) / step
        for index in zip(*np.nonzero(in_tie_band(v))):
            other = x.copy()
            toward = np.float32(np.inf if np.rint(v[index]) < v[index] else -np.inf)
            for _ in range(64):  # a few ulps, inside the band
                other[index] = np.nextafter(other[index], toward)
                if np.rint(np.float64(other[index]) / step) != np.rint(v[index]):
                    break
            assert np.rint(np.float64(other[index]) / step) != np.rint(v[index])
            assert abs(np.float64(other[index]) / step - v[index]) <= TIE_BAND * abs(v[index])
            out = np.asarray(linear(tp.Tensor(other)).numpy(), dtype=np.float64)
            assert relative_error(out, expected) > TOLERANCE  # the float32 tolerance would fail here
            assert np.all(np.abs(out - expected) <= int8_linear_bound(linear, x, expected)), name
            flipped += 1
    assert flipped > 0  # the calibrated model has inputs in a tie's band (2 in 24,576 here)


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
    for name, (x, expected) in layer_inputs_and_outputs(reference, token_ids).items():  # int8: up to ties
        linear = tripy_linear(model, name)
        out = np.asarray(linear(tp.Tensor(x)).numpy(), dtype=np.float64)
        assert np.all(np.abs(out - expected) <= int8_linear_bound(linear, x, expected)), name
