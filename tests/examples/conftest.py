"""Fixtures of the nanoGPT example tests: a small random GPT-2 built by ``transformers`` (no download) and
its ModelOpt-calibrated copies, made once per session and shared (read-only) by the tests."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

NANOGPT = Path(__file__).resolve().parents[2] / "examples" / "nanogpt"
sys.path.insert(0, str(NANOGPT))

import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

#: n_embd=128 gives int4 block-wise scales of 1 block (c_attn, c_fc: 128 inputs) and 4 blocks (mlp.c_proj:
#: 512 inputs) per row; the larger initializer range gives logits with clear winners for greedy decoding.
HF_CONFIG = {
    "n_layer": 2,
    "n_head": 4,
    "n_embd": 128,
    "vocab_size": 256,
    "n_positions": 64,
    "initializer_range": 0.1,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "pad_token_id": 0,
}


@pytest.fixture(scope="session")
def hf_model() -> GPT2LMHeadModel:
    """A random float32 GPT-2 in eval mode (do not modify: copy it)."""
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(**HF_CONFIG)).eval()


@pytest.fixture(scope="session")
def token_ids() -> torch.Tensor:
    """A fixed batch of 2 prompts of 12 token ids."""
    return torch.randint(1, HF_CONFIG["vocab_size"], (2, 12), generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="session")
def calibrated(hf_model):
    """``calibrated(mode)``: a ModelOpt-calibrated copy of ``hf_model`` for ``mode``, made once per mode."""
    from quantization import calibrate, random_calibration_batches

    cache: dict[str, torch.nn.Module] = {}
    batches = random_calibration_batches(HF_CONFIG["vocab_size"], seed=2)

    def get(mode: str) -> torch.nn.Module:
        if mode not in cache:
            cache[mode] = calibrate(copy.deepcopy(hf_model), mode, batches)
        return cache[mode]

    return get


@pytest.fixture(scope="session")
def checkpoint_dir(hf_model, tmp_path_factory) -> str:
    """``hf_model`` saved with ``save_pretrained`` next to a word-level tokenizer of the calibration
    sentences: a local stand-in for a hub model name, loaded through the same ``from_pretrained`` calls."""
    import re

    from quantization import CALIBRATION_TEXTS
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for text in CALIBRATION_TEXTS for w in re.findall(r"\w+|[^\w\s]", text)})
    assert len(words) < HF_CONFIG["vocab_size"]
    tokenizer = Tokenizer(
        models.WordLevel(vocab={"<unk>": 0, **{w: i + 1 for i, w in enumerate(words)}}, unk_token="<unk>")
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece()
    path = tmp_path_factory.mktemp("gpt2-checkpoint")
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>").save_pretrained(path)
    hf_model.save_pretrained(path)
    return str(path)
