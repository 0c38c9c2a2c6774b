"""The tripy GPT-2 against ``transformers``' GPT-2 on the same (random) weights."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from model import GPT, StaticDecoder, generate
from weight_loader import config_from_hf, load_weights_from_hf

import tripy as tp
from tripy.backend.registry import get_backend
from tripy.compiler import TensorRTFallbackWarning


def tripy_gpt(hf_model, dtype=tp.float32) -> GPT:
    model = GPT(config_from_hf(hf_model.config, dtype=dtype))
    load_weights_from_hf(model, hf_model)
    return model


def logits_of(model: GPT, ids: torch.Tensor) -> np.ndarray:
    return np.asarray(model(tp.Tensor(ids.to(torch.int32))).numpy(), dtype=np.float32)


def reference_logits(hf_model, ids: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return hf_model(ids).logits.numpy()


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """The largest absolute difference relative to the largest reference magnitude."""
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def test_float32_logits_match_transformers(hf_model, token_ids):
    ref = reference_logits(hf_model, token_ids)
    out = logits_of(tripy_gpt(hf_model), token_ids)
    assert out.shape == ref.shape == (2, 12, 256)
    assert relative_error(out, ref) < 1e-4


def test_float16_logits_close_to_transformers(hf_model, token_ids, backend):
    """float16 weights and activations (LayerNorm and softmax in float32) stay within 1% of float32."""
    out = logits_of(tripy_gpt(hf_model, tp.float16), token_ids)
    assert relative_error(out, reference_logits(hf_model, token_ids)) < 1e-2


def test_state_dict_source_equals_module_source(hf_model, token_ids):
    """A HuggingFace state dict (Conv1D weights as (in, out)) loads like the model itself."""
    model = GPT(config_from_hf(hf_model.config))
    load_weights_from_hf(model, hf_model.state_dict())
    np.testing.assert_array_equal(logits_of(model, token_ids), logits_of(tripy_gpt(hf_model), token_ids))


def test_kv_cache_step_matches_full_forward(hf_model, token_ids):
    model = tripy_gpt(hf_model)
    ids = tp.Tensor(token_ids.to(torch.int32).numpy())
    full = model(ids).numpy()
    prefix_logits, past = model(ids[:, :9], use_cache=True)
    for i in range(9, 12):
        step_logits, past = model(ids[:, i : i + 1], past, use_cache=True)
        np.testing.assert_allclose(step_logits.numpy()[:, 0], full[:, i], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(prefix_logits.numpy(), full[:, :9], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_matches_transformers(hf_model, token_ids, use_cache):
    prompt = token_ids[:, :5]
    expected = hf_model.generate(
        prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=12, min_new_tokens=12, do_sample=False
    ).numpy()
    tokens = generate(tripy_gpt(hf_model), prompt.numpy(), 12, use_cache=use_cache)
    assert tokens.tolist() == expected.tolist()
    assert len(set(tokens[0, 5:].tolist())) > 3  # a real sequence, not one token repeated


def test_eager_greedy_decoding_matches_transformers_and_replays_its_steps_on_the_gpu(hf_model, token_ids, backend):
    """Greedy ``generate`` runs the static-cache step eagerly: on the GPU, every decoding step after the
    first two is one CUDA graph (the same trace each time), with the tokens of the usual evaluation."""
    prompt = token_ids[:, :5]
    expected = hf_model.generate(
        prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=12, min_new_tokens=12, do_sample=False
    ).numpy()
    model = tripy_gpt(hf_model)
    assert generate(model, prompt.numpy(), 12).tolist() == expected.tolist()
    if backend == "cuda":
        graphs = get_backend("cuda").eager_graphs
        before = graphs.stats["replayed"]
        assert generate(model, prompt.numpy(), 12).tolist() == expected.tolist()
        assert graphs.stats["replayed"] - before >= 11  # every decoding step of the second call


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_static_cache_decoder_generates_the_tokens_of_transformers(hf_model, token_ids, backend, compiled):
    """The static-cache step (compiled: one CUDA graph per step on the GPU) against HF greedy decoding."""
    prompt = token_ids[:, :5]
    expected = hf_model.generate(
        prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=12, min_new_tokens=12, do_sample=False
    ).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TensorRTFallbackWarning)
        decoder = StaticDecoder(tripy_gpt(hf_model), 2, 5, 20, compiled=compiled)
        first = decoder.generate(prompt.numpy(), 12)
        again = decoder.generate(prompt.numpy(), 12)  # the caches of the first run are overwritten, not reused
    assert first.tolist() == expected.tolist()
    assert again.tolist() == expected.tolist()


def test_static_cache_step_logits_match_the_dynamic_cache(hf_model, token_ids):
    """The step's next token comes from the same logits as the dynamic cache's, position by position."""
    model = tripy_gpt(hf_model)
    ids = token_ids.to(torch.int32).numpy()
    shape = (2, 4, 16, 32)
    caches = [tp.zeros(shape) for _ in range(4)]
    position = tp.Tensor(np.zeros(1, np.int32))
    full = model(tp.Tensor(ids)).numpy()
    token, position, *caches = model.step(tp.Tensor(ids[:, :9]), position, *caches)
    assert np.from_dlpack(token).tolist() == full[:, 8].argmax(-1)[:, None].tolist()
    for i in range(9, 12):
        token, position, *caches = model.step(tp.Tensor(ids[:, i : i + 1]), position, *caches)
        assert np.from_dlpack(token).tolist() == full[:, i].argmax(-1)[:, None].tolist()
    assert np.from_dlpack(position).tolist() == [12]
    written = np.from_dlpack(caches[0])
    assert np.abs(written[:, :, :12]).max() > 0 and not written[:, :, 12:].any()


def test_sampling_is_reproducible_with_a_seed(hf_model, token_ids):
    model, prompt = tripy_gpt(hf_model), token_ids[:, :4].numpy()
    steps = []
    first = generate(model, prompt, 6, temperature=1.0, top_k=20, seed=3, on_token=lambda i, new: steps.append(i))
    assert generate(model, prompt, 6, temperature=1.0, top_k=20, seed=3).tolist() == first.tolist()
    assert first.shape == (2, 10) and steps == list(range(6))
    assert first[:, :4].tolist() == prompt.tolist()


def test_generation_longer_than_block_size_is_refused(hf_model, token_ids):
    with pytest.raises(ValueError, match="block_size=64"):
        generate(tripy_gpt(hf_model), token_ids.numpy(), 60)


def test_model_name_source_goes_through_from_pretrained(hf_model, token_ids, checkpoint_dir):
    """A name string is what a user with network passes ("gpt2"); a local checkpoint takes the same path."""
    model = GPT(config_from_hf(hf_model.config))
    load_weights_from_hf(model, checkpoint_dir)
    np.testing.assert_array_equal(logits_of(model, token_ids), logits_of(tripy_gpt(hf_model), token_ids))


def test_loaded_weights_do_not_share_memory_with_the_source(hf_model, token_ids):
    source = copy.deepcopy(hf_model)
    model = tripy_gpt(source)
    before = logits_of(model, token_ids)
    with torch.no_grad():
        for p in source.parameters():
            p.mul_(2.0)
    np.testing.assert_array_equal(logits_of(model, token_ids), before)
