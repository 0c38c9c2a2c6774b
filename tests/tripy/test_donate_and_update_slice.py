"""``tp.update_slice``, ``tp.scaled_dot_product_attention`` and ``tp.compile(..., donate=...)`` on NumPy.

The fused primitives' meaning is their steps (run by the NumPy backend); these tests check the steps against
direct NumPy formulas, and that donation is checked at compile time and changes no result.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tripy as tp


def _pos(p: int) -> tp.Tensor:
    return tp.Tensor(np.array([p], np.int32))


@pytest.mark.parametrize("start", [-5, 0, 2, 3, 9])
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_update_slice_matches_a_clamped_numpy_assignment(start, dim):
    rng = np.random.default_rng(dim)
    operand = rng.standard_normal((4, 5, 6)).astype(np.float32)
    shape = list(operand.shape)
    shape[dim] = 2
    update = rng.standard_normal(shape).astype(np.float32)
    expected = operand.copy()
    s = min(max(start, 0), operand.shape[dim] - 2)
    index = [slice(None)] * 3
    index[dim] = slice(s, s + 2)
    expected[tuple(index)] = update
    out = tp.update_slice(tp.Tensor(operand), tp.Tensor(update), _pos(start), dim)
    assert np.array_equal(np.from_dlpack(out), expected)


def test_update_slice_errors_name_the_problem():
    cache = tp.zeros((2, 4))
    with pytest.raises(tp.TripyException, match="does not fit"):
        tp.update_slice(cache, tp.ones((2, 5)), 0, dim=1)
    with pytest.raises(tp.TripyException, match="dtype of `input`"):
        tp.update_slice(cache, tp.ones((2, 1), dtype=tp.float16), 0, dim=1)
    with pytest.raises(tp.TripyException, match=r"int32 tensor of shape \(1,\)"):
        tp.update_slice(cache, tp.ones((2, 1)), tp.Tensor(np.array([1, 2], np.int32)), dim=1)


def _attention_reference(q, k, v, causal, start, scale):
    scores = (q.astype(np.float64) @ np.swapaxes(k, -1, -2).astype(np.float64)) * scale
    if causal:
        seq, total = scores.shape[-2:]
        future = np.arange(total)[None, :] > np.arange(seq)[:, None] + start
        scores = np.where(future, -np.inf, scores)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    return (scores / scores.sum(-1, keepdims=True)) @ v.astype(np.float64)


@pytest.mark.parametrize("causal,start", [(False, 0), (True, 0), (True, 3), (True, 6)])
def test_attention_matches_float64_formula(causal, start):
    rng = np.random.default_rng(start)
    q = rng.standard_normal((2, 3, 2, 8)).astype(np.float32)
    k = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    v = rng.standard_normal((2, 3, 8, 5)).astype(np.float32)
    out = tp.scaled_dot_product_attention(tp.Tensor(q), tp.Tensor(k), tp.Tensor(v), causal=causal, start=_pos(start))
    expected = _attention_reference(q, k, v, causal, start, 1 / math.sqrt(8))
    # float32 throughout: a few ulps of float32 on values of magnitude <= max|v| (~4), summed over 8 keys.
    assert np.allclose(np.from_dlpack(out), expected, rtol=0, atol=64 * np.finfo(np.float32).eps * 4)


def test_attention_ignores_unwritten_cache_positions():
    rng = np.random.default_rng(1)
    q = rng.standard_normal((1, 1, 4)).astype(np.float32)
    k = rng.standard_normal((1, 6, 4)).astype(np.float32)
    v = rng.standard_normal((1, 6, 3)).astype(np.float32)
    k[0, 3:], v[0, 3:] = 1e4, -1e4  # positions 3.. are not written yet (finite, as a zeroed cache is)
    full = tp.scaled_dot_product_attention(tp.Tensor(q), tp.Tensor(k), tp.Tensor(v), causal=True, start=2)
    written = tp.scaled_dot_product_attention(tp.Tensor(q), tp.Tensor(k[:, :3]), tp.Tensor(v[:, :3]))
    # Masked keys get probability exactly 0, so both sum the same three products (in another order).
    assert np.allclose(np.from_dlpack(full), np.from_dlpack(written), rtol=0, atol=8 * np.finfo(np.float32).eps)


def test_attention_errors_name_the_problem():
    q = tp.ones((1, 2, 4))
    with pytest.raises(tp.TripyException, match="equal leading"):
        tp.scaled_dot_product_attention(q, tp.ones((2, 3, 4)), tp.ones((2, 3, 4)))
    with pytest.raises(tp.TripyException, match="last dimension of `query`"):
        tp.scaled_dot_product_attention(q, tp.ones((1, 3, 5)), tp.ones((1, 3, 4)))
    with pytest.raises(tp.TripyException, match="one dtype"):
        tp.scaled_dot_product_attention(q, tp.ones((1, 3, 4), dtype=tp.float16), tp.ones((1, 3, 4)))


def _compile(fn, args, donate=()):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tp.compile(fn, args=args, donate=donate)


def _step(cache, update, position):
    return tp.update_slice(cache, update, position, dim=1), position + 1


def test_donated_state_gives_the_results_of_eager_calls():
    infos = [tp.InputInfo((2, 6), tp.float32), tp.InputInfo((2, 1), tp.float32), tp.InputInfo((1,), tp.int32)]
    exe = _compile(_step, infos, donate=["cache", "position"])
    assert exe.graph.aliases == [(0, 0), (1, 2)]
    cache, position = tp.zeros((2, 6)), _pos(0)
    expected = np.zeros((2, 6), np.float32)
    for p in range(4):
        cache, position = exe(cache, tp.ones((2, 1)) * float(p + 1), position)
        expected[:, p] = p + 1
    assert np.array_equal(np.from_dlpack(cache), expected)
    assert np.from_dlpack(position).tolist() == [4]


def test_donate_errors_are_raised_at_compile_time():
    infos = [tp.InputInfo((2, 6), tp.float32), tp.InputInfo((2, 1), tp.float32), tp.InputInfo((1,), tp.int32)]
    with pytest.raises(tp.TripyException, match="not an argument"):
        _compile(_step, infos, donate=["cash"])
    with pytest.raises(tp.TripyException, match="has no output of its dtype and shape"):
        _compile(_step, infos, donate=["update"])
    with pytest.raises(tp.TripyException, match="twice"):
        _compile(_step, infos, donate=["cache", "cache"])


def test_donation_survives_save_and_load(tmp_path):
    infos = [tp.InputInfo((2, 6), tp.float32), tp.InputInfo((2, 1), tp.float32), tp.InputInfo((1,), tp.int32)]
    exe = _compile(_step, infos, donate=["cache"])
    exe.save(tmp_path / "step.tpexe")
    loaded = tp.Executable.load(tmp_path / "step.tpexe")
    assert loaded.graph.aliases == [(0, 0)]
