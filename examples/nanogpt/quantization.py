"""Calibrate a HuggingFace GPT-2 with NVIDIA ModelOpt (``nvidia-modelopt``), on the CPU or a GPU.

``calibrate`` replaces the model's Linear (GPT-2 ``Conv1D``) layers by ModelOpt ``QuantLinear`` layers,
runs calibration batches through it and leaves each quantizer's ``amax`` in place. The result is the
fake-quantized PyTorch reference, and ``weight_loader.load_quant_weights_from_hf`` turns its ``amax``
values into the scales of the tripy model.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from model import QUANT_MODES

#: Each mode's ModelOpt configuration, by the name of its constant in ``modelopt.torch.quantization``.
MODELOPT_CONFIGS: dict[str, str] = {
    "int8-weight-only": "INT8_WEIGHT_ONLY_CFG",
    "int8": "INT8_DEFAULT_CFG",
    "int8-smoothquant": "INT8_SMOOTHQUANT_CFG",
    "int4-weight-only": "INT4_BLOCKWISE_WEIGHT_ONLY_CFG",
    "int4-awq": "INT4_AWQ_CFG",
    "fp8": "FP8_DEFAULT_CFG",
}

#: A few sentences for calibrating a real (hub) checkpoint without downloading a data set.
CALIBRATION_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "In 1879, the city council voted to build a new bridge across the river, which opened six years later.",
    "Quantization maps floating-point values to a small set of integers with a scale factor.",
    "She opened the door, looked at the empty street, and decided to wait until the rain stopped.",
    "def add(a, b):\n    return a + b\n",
    "The committee will publish its final report on Tuesday, followed by a press conference.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Prices rose by 3.2 percent in the last quarter, driven mainly by energy and food.",
)


def modelopt_config(quant_mode: str) -> dict[str, Any]:
    """A copy of ModelOpt's configuration for ``quant_mode``, restricted to the Linear layers.

    ModelOpt's int8 and fp8 configurations also quantize LayerNorm inputs; the tripy model quantizes only
    its Linears, so those quantizers are switched off here. In ModelOpt 0.47 ``quant_cfg`` is a list of
    rules where later rules win, so the switch-off rule is appended.
    """
    import modelopt.torch.quantization as mtq

    if quant_mode not in MODELOPT_CONFIGS:
        raise ValueError(f"unknown quant_mode {quant_mode!r}; expected one of {', '.join(MODELOPT_CONFIGS)}.")
    config = copy.deepcopy(getattr(mtq, MODELOPT_CONFIGS[quant_mode]))
    config["quant_cfg"].append({"quantizer_name": "*", "parent_class": "nn.LayerNorm", "enable": False})
    return config


def random_calibration_batches(
    vocab_size: int, num_batches: int = 2, batch_size: int = 4, seq_len: int = 16, seed: int = 0
) -> list[torch.Tensor]:
    """Batches of random token ids: enough to calibrate a random-weight model offline."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab_size, (batch_size, seq_len), generator=generator) for _ in range(num_batches)]


def text_calibration_batches(
    tokenizer: Any, texts: Sequence[str] = CALIBRATION_TEXTS, batch_size: int = 4, max_length: int = 64
) -> list[torch.Tensor]:
    """``texts`` tokenized into equal-length batches (each text cut or repeated to ``max_length`` tokens)."""
    rows = []
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        ids = (ids * (max_length // max(len(ids), 1) + 1))[:max_length]
        rows.append(torch.tensor(ids))
    return [torch.stack(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)]


def calibrate(hf_model: torch.nn.Module, quant_mode: str, batches: Iterable[torch.Tensor]) -> torch.nn.Module:
    """Quantize ``hf_model`` in place with ModelOpt for ``quant_mode``, calibrating on ``batches`` of ids.

    Returns the model, now holding ``QuantLinear`` layers (weights transposed to ``(out, in)``) whose
    quantizers carry the calibrated ``amax``.
    """
    import modelopt.torch.quantization as mtq

    if quant_mode not in QUANT_MODES:
        raise ValueError(f"unknown quant_mode {quant_mode!r}; expected one of {', '.join(QUANT_MODES)}.")
    batches = list(batches)
    device = next(hf_model.parameters()).device
    hf_model.eval()

    def forward_loop(model: torch.nn.Module) -> None:
        with torch.no_grad():
            for ids in batches:
                model(ids.to(device))

    return mtq.quantize(hf_model, modelopt_config(quant_mode), forward_loop=forward_loop)


def load_and_calibrate(model_name: str, quant_mode: str, device: str = "cpu") -> torch.nn.Module:
    """Download ``model_name`` from the HuggingFace hub and calibrate it on a few built-in sentences."""
    from transformers import AutoTokenizer, GPT2LMHeadModel

    hf_model = GPT2LMHeadModel.from_pretrained(model_name).to(device)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    return calibrate(hf_model, quant_mode, text_calibration_batches(tokenizer))
