"""Load HuggingFace GPT-2 weights, and ModelOpt-calibrated scales, into the tripy ``GPT`` of ``model.py``.

A source is a model name on the HuggingFace hub (``"gpt2"``; needs network), a ``transformers`` model
already built, or its state dict. Two layouts meet here:

- HuggingFace's GPT-2 uses ``Conv1D`` layers whose weight is ``(in, out)``; ``tp.Linear`` wants
  ``(out, in)``, so those weights are transposed. The fused ``c_attn`` (q, k and v side by side) maps onto
  one ``tp.Linear`` of ``3 * n_embd`` outputs, which the model splits.
- ModelOpt's ``mtq.quantize`` replaces each ``Conv1D`` by a ``QuantLinear`` whose weight is already
  ``(out, in)``, and stores each quantizer's calibrated range as ``..._quantizer._amax``. A scale is
  ``amax / maxbound`` (127 for int8, 7 for int4, 448 for float8 e4m3).

Every mismatch (a missing or extra key, a shape that does not fit the config, a quantizer without
``amax``) raises :class:`CheckpointError` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from model import GPT, QUANT_MODES, GPTConfig

import tripy as tp

#: Checkpoint suffixes of the Linear layers inside each block.
LINEAR_NAMES = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
#: Buffers some transformers versions keep in the state dict: the causal mask, not weights.
IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")
#: The largest quantized magnitude of each quantized type, as ModelOpt's ``maxbound``.
MAXBOUND = {dtype: float(hi) for dtype, (_, hi) in tp.dtypes.QUANT_RANGE.items()}
#: The int4 block size of ModelOpt's configurations, assumed for a state dict (a model tells its own).
INT4_BLOCK_SIZE = 128

Source = str | torch.nn.Module | Mapping[str, Any]


class CheckpointError(ValueError):
    """A checkpoint does not fit the tripy model; the message names the offending key."""


def config_from_hf(hf_config: Any, dtype: tp.DataType = tp.float32, quant_mode: str | None = None) -> GPTConfig:
    """The ``GPTConfig`` of a ``transformers`` ``GPT2Config``."""
    activation = getattr(hf_config, "activation_function", "gelu_new")
    if activation not in ("gelu_new", "gelu_pytorch_tanh"):
        raise CheckpointError(
            f"activation_function={activation!r} is not supported: the tripy GPT uses GELU's "
            "tanh approximation ('gelu_new')."
        )
    for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"):
        if getattr(hf_config, flag, False):
            raise CheckpointError(f"{flag}=True is not supported by the tripy GPT.")
    return GPTConfig(
        vocab_size=hf_config.vocab_size,
        block_size=hf_config.n_positions,
        n_layer=hf_config.n_layer,
        n_head=hf_config.n_head,
        n_embd=hf_config.n_embd,
        n_inner=hf_config.n_inner,
        layer_norm_epsilon=hf_config.layer_norm_epsilon,
        dtype=dtype,
        quant_mode=quant_mode,
    )


def _linear_prefixes(config: GPTConfig) -> list[str]:
    return [f"transformer.h.{i}.{name}" for i in range(config.n_layer) for name in LINEAR_NAMES]


def _expected_shapes(config: GPTConfig) -> dict[str, tuple[int, ...]]:
    """Every float weight of the tripy model (Linear weights as ``(out, in)``), by checkpoint key."""
    e, hidden = config.n_embd, config.mlp_hidden
    shapes: dict[str, tuple[int, ...]] = {
        "transformer.wte.weight": (config.vocab_size, e),
        "transformer.wpe.weight": (config.block_size, e),
        "transformer.ln_f.weight": (e,),
        "transformer.ln_f.bias": (e,),
    }
    linear = {"attn.c_attn": (3 * e, e), "attn.c_proj": (e, e), "mlp.c_fc": (hidden, e), "mlp.c_proj": (e, hidden)}
    for i in range(config.n_layer):
        prefix = f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            shapes[f"{prefix}{ln}.weight"] = (e,)
            shapes[f"{prefix}{ln}.bias"] = (e,)
        for name, (out, inp) in linear.items():
            shapes[f"{prefix}{name}.weight"] = (out, inp)
            shapes[f"{prefix}{name}.bias"] = (out,)
    return shapes


def _as_state_dict(source: Source, load: Any) -> tuple[dict[str, torch.Tensor], torch.nn.Module | None]:
    """The state dict of ``source``, and the module it came from (None for a plain state dict)."""
    if isinstance(source, str):
        source = load(source)
    if isinstance(source, torch.nn.Module):
        return dict(source.state_dict()), source
    if isinstance(source, Mapping):
        return dict(source), None
    raise TypeError(f"expected a model name, a transformers model or a state dict, not {type(source).__name__}.")


def _check_keys(state: Mapping[str, Any], expected: set[str], config: GPTConfig) -> None:
    missing = sorted(expected - state.keys())
    extra = sorted(k for k in state.keys() - expected if not k.endswith(IGNORED_SUFFIXES))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing key(s): {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
        if extra:
            parts.append(f"unexpected key(s): {', '.join(extra[:5])}" + (" ..." if len(extra) > 5 else ""))
        raise CheckpointError(
            f"the checkpoint does not match the tripy GPT (n_layer={config.n_layer}, "
            f"quant_mode={config.quant_mode}): {'; '.join(parts)}."
        )


def _weights(state: Mapping[str, torch.Tensor], config: GPTConfig, conv1d: set[str]) -> dict[str, torch.Tensor]:
    """The float weights of ``state`` in the tripy layout; ``conv1d`` lists the Linears stored ``(in, out)``."""
    out = {}
    for key, shape in _expected_shapes(config).items():
        value = state[key].detach()
        if key.removesuffix(".weight") in conv1d:
            if tuple(value.shape) != shape[::-1]:
                raise CheckpointError(
                    f"{key}: the checkpoint's Conv1D weight has shape {tuple(value.shape)}, but "
                    f"the config (n_embd={config.n_embd}) needs {shape[::-1]} (in, out)."
                )
            value = value.t()
        elif tuple(value.shape) != shape:
            raise CheckpointError(
                f"{key}: the checkpoint has shape {tuple(value.shape)}, but the config "
                f"(n_embd={config.n_embd}, vocab_size={config.vocab_size}, "
                f"block_size={config.block_size}) needs {shape}."
            )
        # A copy: the tripy model must not share memory with a model that calibration may change in place.
        out[key] = value.to(torch.float32, copy=True).contiguous()
    return out


def _load(model: GPT, tensors: Mapping[str, torch.Tensor]) -> None:
    # Parameters take the model's dtype (float32 LayerNorms stay float32); scales are kept as float32.
    model.load_state_dict({k: tp.Tensor(v) for k, v in tensors.items()}, strict=True)


def load_weights_from_hf(model: GPT, source: Source) -> None:
    """Load GPT-2 weights into ``model`` (built without ``quant_mode``).

    ``source`` is a hub model name, a ``GPT2LMHeadModel``, or a state dict in HuggingFace's layout
    (``Conv1D`` weights as ``(in, out)``; ``lm_head.weight`` is tied to ``transformer.wte.weight``).
    """
    from transformers import GPT2LMHeadModel

    config = model.config
    if config.quant_mode is not None:
        raise CheckpointError(
            f"the tripy GPT was built with quant_mode={config.quant_mode!r}: use "
            "load_quant_weights_from_hf with a ModelOpt-calibrated model."
        )
    state, module = _as_state_dict(source, GPT2LMHeadModel.from_pretrained)
    expected = set(_expected_shapes(config)) | {"lm_head.weight"}
    _check_keys(state, expected, config)
    prefixes = _linear_prefixes(config)
    if module is None:
        conv1d = set(prefixes)
    else:
        from transformers.pytorch_utils import Conv1D

        conv1d = {p for p in prefixes if isinstance(module.get_submodule(p), Conv1D)}
    _check_tied(state)
    _load(model, _weights(state, config, conv1d))


def _check_tied(state: Mapping[str, torch.Tensor]) -> None:
    head, wte = state["lm_head.weight"], state["transformer.wte.weight"]
    if head.shape != wte.shape or not torch.equal(head, wte):
        raise CheckpointError(
            "lm_head.weight differs from transformer.wte.weight: the tripy GPT ties its LM head to the token embedding."
        )


def _quantizer_checks(module: torch.nn.Module, config: GPTConfig) -> None:
    """Refuse a ModelOpt model whose enabled quantizers the tripy model would not apply, or of another type."""
    spec = config.quant
    linear_quantizers = {f"{p}.{q}" for p in _linear_prefixes(config) for q in ("weight_quantizer", "input_quantizer")}
    for name, sub in module.named_modules():
        if not (name.endswith("quantizer") and hasattr(sub, "is_enabled")) or not sub.is_enabled:
            continue
        if name not in linear_quantizers:
            raise CheckpointError(
                f"{name}: this ModelOpt quantizer is enabled, but the tripy GPT only quantizes the "
                "Linear layers of its blocks; calibrate with quantization.modelopt_config()."
            )
        bits = {tp.int8: 8, tp.int4: 4, tp.float8: (4, 3)}[spec.quant_dtype]
        if sub.num_bits != bits:
            raise CheckpointError(
                f"{name}: num_bits={sub.num_bits}, but quant_mode={config.quant_mode!r} needs num_bits={bits}."
            )
        if getattr(sub, "amax", None) is None:
            raise CheckpointError(
                f"{name}: the quantizer has no amax: run calibration (quantization.calibrate) before loading."
            )


def _positive(scale: torch.Tensor) -> torch.Tensor:
    """An all-zero row (amax 0) would give scale 0; any positive scale quantizes zeros exactly, so use 1."""
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def _scales(
    state: Mapping[str, torch.Tensor], config: GPTConfig, prefix: str, block_size: int = INT4_BLOCK_SIZE
) -> dict[str, torch.Tensor]:
    """The tripy scale parameters of the Linear at ``prefix`` from ModelOpt's ``amax`` values."""
    spec = config.quant
    maxbound = MAXBOUND[spec.quant_dtype]
    out_features, in_features = _expected_shapes(config)[f"{prefix}.weight"]
    amax_key = f"{prefix}.weight_quantizer._amax"
    if amax_key not in state:
        raise CheckpointError(
            f"{amax_key} is missing: the weight quantizer of {prefix} has no amax (was the model "
            f"calibrated with ModelOpt for {config.quant_mode!r}?)."
        )
    amax = state[amax_key].detach().float()
    if spec.weight_quant_dim == 0:  # int8 per output channel: amax (out, 1)
        if amax.numel() != out_features:
            raise CheckpointError(
                f"{amax_key} has shape {tuple(amax.shape)}: {config.quant_mode!r} needs one amax "
                f"per output channel ({out_features})."
            )
        weight_scale = amax.reshape(out_features)
    elif spec.quant_dtype == tp.int4:  # block-wise along the input: amax (out * blocks, 1)
        if in_features % block_size and in_features > block_size:
            raise CheckpointError(
                f"{amax_key}: {prefix} has {in_features} inputs, not a multiple of the int4 block "
                f"size {block_size}; ModelOpt pads the last block, but tripy's block-wise scales "
                "must tile the weight exactly."
            )
        blocks = max(in_features // block_size, 1)
        if amax.numel() != out_features * blocks:
            raise CheckpointError(
                f"{amax_key} has shape {tuple(amax.shape)}, but a ({out_features}, {in_features}) "
                f"weight in blocks of {block_size} needs {out_features * blocks} amax values."
            )
        weight_scale = amax.reshape(out_features, blocks)
    else:  # per-tensor
        if amax.numel() != 1:
            raise CheckpointError(
                f"{amax_key} has shape {tuple(amax.shape)}: {config.quant_mode!r} needs a per-tensor amax."
            )
        weight_scale = amax.reshape(())
    scales = {f"{prefix}.weight_scale": _positive(weight_scale / maxbound)}

    input_key = f"{prefix}.input_quantizer._amax"
    if spec.quantize_inputs:
        if input_key not in state:
            raise CheckpointError(
                f"{input_key} is missing: {config.quant_mode!r} quantizes the inputs of {prefix}, "
                "but its input quantizer has no amax."
            )
        input_amax = state[input_key].detach().float()
        if input_amax.numel() != 1:
            raise CheckpointError(
                f"{input_key} has shape {tuple(input_amax.shape)}: tripy quantizes Linear inputs per tensor."
            )
        scales[f"{prefix}.input_scale"] = _positive(input_amax.reshape(()) / maxbound)
    pqs_key = f"{prefix}.input_quantizer._pre_quant_scale"
    if pqs_key in state:
        scales[f"{prefix}.pre_quant_scale"] = state[pqs_key].detach().float().reshape(in_features)
    return scales


def load_quant_weights_from_hf(model: GPT, source: Source, device: str = "cpu") -> None:
    """Load a ModelOpt-calibrated GPT-2 into ``model`` (built with ``quant_mode``): weights and scales.

    ``source`` is a ``GPT2LMHeadModel`` after ``quantization.calibrate``, its state dict, or a hub model
    name, which is downloaded and calibrated here for ``model.config.quant_mode``. Weight scales are per
    output channel (int8), block-wise ``(out, in / block)`` (int4) or per tensor (float8); input scales are
    per tensor. AWQ's and SmoothQuant's ``pre_quant_scale`` becomes the Linear's ``pre_quant_scale``.
    """
    from quantization import load_and_calibrate

    config = model.config
    if config.quant_mode is None:
        raise CheckpointError(
            "the tripy GPT was built without quant_mode: use load_weights_from_hf, or build it "
            f"with one of {', '.join(QUANT_MODES)}."
        )
    state, module = _as_state_dict(source, lambda name: load_and_calibrate(name, config.quant_mode, device))
    if module is not None:
        _quantizer_checks(module, config)
    prefixes = _linear_prefixes(config)
    scales: dict[str, torch.Tensor] = {}
    for prefix in prefixes:
        block_size = INT4_BLOCK_SIZE
        if module is not None and config.quant.quant_dtype == tp.int4:
            block_size = (module.get_submodule(f"{prefix}.weight_quantizer").block_sizes or {}).get(-1, block_size)
        scales.update(_scales(state, config, prefix, block_size))
    quant_keys = {
        f"{p}.{q}._{kind}"
        for p in prefixes
        for q in ("weight_quantizer", "input_quantizer")
        for kind in ("amax", "pre_quant_scale")
    }
    used = {k for k in quant_keys if k in state}
    if not config.quant.quantize_inputs:
        stray = sorted(k for k in used if k.endswith("input_quantizer._amax"))
        if stray:
            raise CheckpointError(
                f"{stray[0]}: the checkpoint quantizes Linear inputs, but quant_mode="
                f"{config.quant_mode!r} is weight-only."
            )
    _check_keys(state, set(_expected_shapes(config)) | {"lm_head.weight"} | used, config)
    _check_tied(state)
    _load(model, {**_weights(state, config, conv1d=set()), **scales})
