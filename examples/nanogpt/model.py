"""GPT-2 as a ``tp.Module``: embeddings, causal self-attention blocks, LayerNorms and a tied LM head.

The module tree mirrors HuggingFace's ``GPT2LMHeadModel`` (``transformer.h.0.attn.c_attn.weight`` ...), so a
checkpoint maps onto it key by key. Linear weights are stored as ``(out, in)``, as ``tp.Linear`` expects.
With ``quant_mode`` set, every Linear inside the blocks is quantized (the embeddings, LayerNorms and the
LM head stay in ``dtype``), and its scales come from ModelOpt calibration (see ``weight_loader.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

import tripy as tp


class QuantSpec(NamedTuple):
    """How one quantization mode configures ``tp.Linear``."""

    quant_dtype: tp.DataType
    #: ``0`` for per-output-channel weight scales, None for per-tensor or (int4) block-wise ones.
    weight_quant_dim: int | None
    #: Whether the Linear inputs are quantized too (an ``input_scale`` per Linear).
    quantize_inputs: bool


#: The quantization modes of this example, named as on the command line.
QUANT_MODES: dict[str, QuantSpec] = {
    "int8-weight-only": QuantSpec(tp.int8, 0, False),
    "int8": QuantSpec(tp.int8, 0, True),
    "int8-smoothquant": QuantSpec(tp.int8, 0, True),
    "int4-weight-only": QuantSpec(tp.int4, None, False),
    "int4-awq": QuantSpec(tp.int4, None, False),
    "fp8": QuantSpec(tp.float8, None, True),
}


@dataclass
class GPTConfig:
    """The shape of a GPT-2 model; the defaults are GPT-2 small (124M)."""

    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    #: The MLP's hidden size; None means ``4 * n_embd``.
    n_inner: int | None = None
    layer_norm_epsilon: float = 1e-5
    dtype: tp.DataType = tp.float32
    quant_mode: str | None = None

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig: n_embd={self.n_embd} is not divisible by n_head={self.n_head}.")
        if self.quant_mode is not None and self.quant_mode not in QUANT_MODES:
            raise ValueError(
                f"GPTConfig: unknown quant_mode {self.quant_mode!r}; expected one of {', '.join(QUANT_MODES)} or None."
            )

    @property
    def mlp_hidden(self) -> int:
        return self.n_inner or 4 * self.n_embd

    @property
    def quant(self) -> QuantSpec | None:
        return None if self.quant_mode is None else QUANT_MODES[self.quant_mode]


#: Per-layer key/value cache: for each block, keys and values of shape (batch, n_head, seq, head_dim).
KVCache = list[tuple[tp.Tensor, tp.Tensor]]
#: A block's step over a static cache: its output, and its key and value caches with the new positions.
StepOutput = tuple[tp.Tensor, tp.Tensor, tp.Tensor]


class PreScaledLinear(tp.Linear):
    """A quantized ``tp.Linear`` whose input is first multiplied by a per-input-channel ``pre_quant_scale``.

    ModelOpt's AWQ and SmoothQuant move activation outliers into the weights and leave this factor on the
    input; it is None (and skipped) for the other modes.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pre_quant_scale: tp.Parameter | None = None

    def _optional_parameters(self) -> tuple[str, ...]:
        return (*super()._optional_parameters(), "pre_quant_scale")

    def forward(self, x: tp.Tensor) -> tp.Tensor:
        if self.pre_quant_scale is not None:
            x = x * tp.cast(self.pre_quant_scale, x.dtype)
        return super().forward(x)


def _linear(config: GPTConfig, in_features: int, out_features: int) -> tp.Linear:
    spec = config.quant
    if spec is None:
        return tp.Linear(in_features, out_features, dtype=config.dtype)
    return PreScaledLinear(
        in_features,
        out_features,
        dtype=config.dtype,
        quant_dtype=spec.quant_dtype,
        weight_quant_dim=spec.weight_quant_dim,
    )


class LayerNorm32(tp.LayerNorm):
    """A LayerNorm that computes (and keeps its parameters) in float32 whatever the model's dtype."""

    def __init__(self, n: int, eps: float) -> None:
        super().__init__(n, dtype=tp.float32, eps=eps)

    def forward(self, x: tp.Tensor) -> tp.Tensor:
        return tp.layer_norm(x, self.weight, self.bias, self.eps, dtype=x.dtype)


class CausalSelfAttention(tp.Module):
    """Multi-head self-attention with a causal mask; q, k and v come from one fused projection."""

    def __init__(self, config: GPTConfig) -> None:
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.c_attn = _linear(config, config.n_embd, 3 * config.n_embd)
        self.c_proj = _linear(config, config.n_embd, config.n_embd)

    def _heads(self, x: tp.Tensor) -> tp.Tensor:
        batch, seq, _ = x.shape
        return tp.transpose(tp.reshape(x, (batch, seq, self.n_head, self.n_embd // self.n_head)), 1, 2)

    def forward(
        self, x: tp.Tensor, past: tuple[tp.Tensor, tp.Tensor] | None = None, use_cache: bool = False
    ) -> tuple[tp.Tensor, tuple[tp.Tensor, tp.Tensor] | None]:
        batch, seq, _ = x.shape
        q, k, v = (self._heads(t) for t in tp.split(self.c_attn(x), 3, dim=2))
        past_len = 0
        if past is not None:
            past_len = past[0].shape[2]
            k = tp.concatenate([past[0], k], dim=2)
            v = tp.concatenate([past[1], v], dim=2)
        # Query i sits at position past_len + i and may attend to keys 0..past_len + i.
        y = tp.scaled_dot_product_attention(q, k, v, causal=True, start=past_len)
        y = tp.reshape(tp.transpose(y, 1, 2), (batch, seq, self.n_embd))
        return self.c_proj(y), ((k, v) if use_cache else None)

    def step(self, x: tp.Tensor, k_cache: tp.Tensor, v_cache: tp.Tensor, start: tp.Tensor) -> StepOutput:
        """``forward`` over a static cache: the new keys and values are written into ``k_cache`` and
        ``v_cache`` (batch, n_head, max_len, head_dim) at position ``start`` (an int32 tensor of shape (1,)),
        and the queries see the positions up to their own."""
        batch, seq, _ = x.shape
        q, k, v = (self._heads(t) for t in tp.split(self.c_attn(x), 3, dim=2))
        k_cache = tp.update_slice(k_cache, k, start, dim=2)
        v_cache = tp.update_slice(v_cache, v, start, dim=2)
        y = tp.scaled_dot_product_attention(q, k_cache, v_cache, causal=True, start=start)
        y = tp.reshape(tp.transpose(y, 1, 2), (batch, seq, self.n_embd))
        return self.c_proj(y), k_cache, v_cache


class MLP(tp.Module):
    """Two Linears with GELU (tanh approximation) between them."""

    def __init__(self, config: GPTConfig) -> None:
        self.c_fc = _linear(config, config.n_embd, config.mlp_hidden)
        self.c_proj = _linear(config, config.mlp_hidden, config.n_embd)

    def forward(self, x: tp.Tensor) -> tp.Tensor:
        return self.c_proj(tp.gelu(self.c_fc(x)))


class Block(tp.Module):
    """A pre-LayerNorm transformer block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``."""

    def __init__(self, config: GPTConfig) -> None:
        self.ln_1 = LayerNorm32(config.n_embd, config.layer_norm_epsilon)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm32(config.n_embd, config.layer_norm_epsilon)
        self.mlp = MLP(config)

    def forward(
        self, x: tp.Tensor, past: tuple[tp.Tensor, tp.Tensor] | None = None, use_cache: bool = False
    ) -> tuple[tp.Tensor, tuple[tp.Tensor, tp.Tensor] | None]:
        attn_out, present = self.attn(self.ln_1(x), past, use_cache)
        x = x + attn_out
        return x + self.mlp(self.ln_2(x)), present

    def step(self, x: tp.Tensor, k_cache: tp.Tensor, v_cache: tp.Tensor, start: tp.Tensor) -> StepOutput:
        """``forward`` over a static cache (see :meth:`CausalSelfAttention.step`)."""
        attn_out, k_cache, v_cache = self.attn.step(self.ln_1(x), k_cache, v_cache, start)
        x = x + attn_out
        return x + self.mlp(self.ln_2(x)), k_cache, v_cache


class Transformer(tp.Module):
    """Token and position embeddings, the blocks and the final LayerNorm (HuggingFace's ``transformer``)."""

    def __init__(self, config: GPTConfig) -> None:
        self.wte = tp.Embedding(config.vocab_size, config.n_embd, dtype=config.dtype)
        self.wpe = tp.Embedding(config.block_size, config.n_embd, dtype=config.dtype)
        self.h = [Block(config) for _ in range(config.n_layer)]
        self.ln_f = LayerNorm32(config.n_embd, config.layer_norm_epsilon)


class GPT(tp.Module):
    """GPT-2 with an LM head tied to the token embedding.

    Call it with int32 token ids of shape ``(batch, seq)`` to get float logits of shape
    ``(batch, seq, vocab_size)``. With ``use_cache=True`` it also returns the key/value cache to pass back as
    ``past`` with the next tokens, so that generation does not recompute the prefix.
    """

    def __init__(self, config: GPTConfig) -> None:
        self.config = config
        self.transformer = Transformer(config)

    def forward(
        self, idx: tp.Tensor, past: KVCache | None = None, use_cache: bool = False
    ) -> tp.Tensor | tuple[tp.Tensor, KVCache]:
        batch, seq = idx.shape
        past_len = 0 if past is None else past[0][0].shape[2]
        if past_len + seq > self.config.block_size:
            raise ValueError(f"GPT: {past_len + seq} positions exceed block_size={self.config.block_size}.")
        positions = tp.cast(tp.arange(past_len, past_len + seq), tp.int32)
        x = self.transformer.wte(idx) + self.transformer.wpe(positions)
        presents: KVCache = []
        for i, block in enumerate(self.transformer.h):
            x, present = block(x, None if past is None else past[i], use_cache)
            if use_cache:
                presents.append(present)
        x = self.transformer.ln_f(x)
        logits = x @ tp.transpose(self.transformer.wte.weight, 0, 1)
        return (logits, presents) if use_cache else logits

    def step(self, idx: tp.Tensor, position: tp.Tensor, *caches: tp.Tensor) -> tuple[tp.Tensor, ...]:
        """One step of greedy decoding over a static key/value cache.

        ``idx`` (batch, seq) int32 holds the tokens at positions ``position .. position + seq - 1``
        (``position`` an int32 tensor of shape (1,)); ``caches`` are each block's key then value cache,
        (batch, n_head, max_len, head_dim) in the model's dtype. Returns the most likely next token of each
        row (batch, 1) int32, ``position + seq`` and the caches with the new keys and values. Compiled with
        the position and the caches donated (:class:`StaticDecoder`), a step is one CUDA graph on the GPU.
        """
        _, seq = idx.shape
        if len(caches) != 2 * self.config.n_layer:
            raise ValueError(f"GPT.step: expected {2 * self.config.n_layer} caches, got {len(caches)}.")
        x = self.transformer.wte(idx) + self.transformer.wpe(position + tp.iota((seq,), 0, tp.int32))
        updated: list[tp.Tensor] = []
        for i, block in enumerate(self.transformer.h):
            x, k_cache, v_cache = block.step(x, caches[2 * i], caches[2 * i + 1], position)
            updated += [k_cache, v_cache]
        x = self.transformer.ln_f(x[:, seq - 1 :, :])  # only the last position's logits are needed
        logits = x @ tp.transpose(self.transformer.wte.weight, 0, 1)
        return (tp.argmax(logits, dim=-1), position + seq, *updated)


class StaticDecoder:
    """Greedy decoding with a static key/value cache of ``max_len`` positions, for a batch size and a prompt
    length, by :meth:`GPT.step`: compiled with ``tp.compile`` (the caches and the position donated) when
    ``compiled``, so that on the GPU the prompt is one CUDA graph and each new token another; else eager.
    """

    def __init__(self, model: GPT, batch: int, prompt_len: int, max_len: int, compiled: bool = True) -> None:
        config = model.config
        if max_len > config.block_size or prompt_len >= max_len:
            raise ValueError(
                f"StaticDecoder: need prompt_len < max_len <= block_size={config.block_size}, got "
                f"prompt_len={prompt_len}, max_len={max_len}."
            )
        self.model, self.batch, self.prompt_len, self.max_len = model, batch, prompt_len, max_len
        self.cache_shape = (batch, config.n_head, max_len, config.n_embd // config.n_head)
        n_caches = 2 * config.n_layer

        def step(idx: tp.Tensor, position: tp.Tensor, *caches: tp.Tensor) -> tuple[tp.Tensor, ...]:
            return model.step(idx, position, *caches)

        self.prefill: Callable[..., tuple[tp.Tensor, ...]] = step
        self.decode: Callable[..., tuple[tp.Tensor, ...]] = step
        if compiled:
            caches = [tp.InputInfo(self.cache_shape, config.dtype)] * n_caches
            position = tp.InputInfo((1,), tp.int32)
            donate = list(range(1, 2 + n_caches))
            self.prefill = tp.compile(
                step, [tp.InputInfo((batch, prompt_len), tp.int32), position, *caches], donate=donate
            )
            self.decode = tp.compile(step, [tp.InputInfo((batch, 1), tp.int32), position, *caches], donate=donate)

    def generate(self, ids: Sequence[Sequence[int]] | np.ndarray, max_new_tokens: int) -> np.ndarray:
        """``ids`` (batch, prompt_len) followed by ``max_new_tokens`` greedy tokens."""
        tokens = np.asarray(ids, dtype=np.int32)
        if tokens.shape != (self.batch, self.prompt_len) or self.prompt_len + max_new_tokens > self.max_len:
            raise ValueError(
                f"StaticDecoder.generate: this decoder takes ids of shape {(self.batch, self.prompt_len)} and at "
                f"most {self.max_len - self.prompt_len} new tokens, got {tokens.shape} and {max_new_tokens}."
            )
        dtype = self.model.config.dtype
        caches = [tp.zeros(self.cache_shape, dtype=dtype) for _ in range(2 * self.model.config.n_layer)]
        token, position, *caches = self.prefill(tp.Tensor(tokens), tp.Tensor(np.zeros(1, np.int32)), *caches)
        new = [token]
        for _ in range(max_new_tokens - 1):
            token, position, *caches = self.decode(token, position, *caches)
            new.append(token)
        return np.concatenate([tokens, np.from_dlpack(tp.copy(tp.concatenate(new, dim=1), tp.device("cpu")))], axis=1)


def generate(
    model: GPT,
    ids: Sequence[Sequence[int]] | np.ndarray,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int | None = None,
    use_cache: bool = True,
    on_token: Callable[[int, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Extend each row of ``ids`` (batch, seq) by ``max_new_tokens`` tokens and return all of them.

    ``temperature`` 0 picks the most likely token (greedy); otherwise tokens are sampled from the softmax
    of ``logits / temperature``, restricted to the ``top_k`` most likely ones, with a NumPy generator
    seeded by ``seed``. With ``use_cache`` the prefix is run once and each step feeds only the new token.
    ``on_token(step, new_tokens)`` is called after each step (for progress display).
    """
    tokens = np.asarray(ids, dtype=np.int32)
    if tokens.ndim != 2:
        raise ValueError(f"generate: `ids` must be 2-D (batch, seq), but it has shape {tokens.shape}.")
    if tokens.shape[1] + max_new_tokens > model.config.block_size:
        raise ValueError(
            f"generate: {tokens.shape[1]} prompt tokens + {max_new_tokens} new tokens exceed "
            f"block_size={model.config.block_size}."
        )
    if use_cache and temperature <= 0:
        return _greedy_with_static_cache(model, tokens, max_new_tokens, on_token)
    rng = np.random.default_rng(seed)
    past: KVCache | None = None
    for step in range(max_new_tokens):
        if use_cache:
            feed = tokens if past is None else tokens[:, -1:]
            logits, past = model(tp.Tensor(feed), past, use_cache=True)
        else:
            logits = model(tp.Tensor(tokens))
        if temperature <= 0:  # greedy: the argmax on the backend's device, only the tokens copied to the host
            new = tp.argmax(logits[:, -1, :], dim=-1).numpy().astype(np.int32)
        else:
            new = _pick(tp.cast(logits[:, -1, :], tp.float32).numpy(), temperature, top_k, rng)
        tokens = np.concatenate([tokens, new[:, None]], axis=1)
        if on_token is not None:
            on_token(step, new)
    return tokens


def _greedy_with_static_cache(
    model: GPT, tokens: np.ndarray, max_new_tokens: int, on_token: Callable[[int, np.ndarray], None] | None
) -> np.ndarray:
    """Greedy decoding by :meth:`GPT.step`, eagerly, over a static cache of ``prompt + max_new_tokens``
    positions: after the prompt, every step evaluates the same trace (the position is a tensor), which the
    GPU backend replays as one CUDA graph."""
    config = model.config
    batch, prompt_len = tokens.shape
    shape = (batch, config.n_head, prompt_len + max_new_tokens, config.n_embd // config.n_head)
    caches = [tp.zeros(shape, dtype=config.dtype) for _ in range(2 * config.n_layer)]
    token, position = tp.Tensor(tokens), tp.Tensor(np.zeros(1, np.int32))
    new: list[tp.Tensor] = []
    for step in range(max_new_tokens):
        token, position, *caches = model.step(token, position, *caches)
        token.eval()  # the caches and the position get values too: they are referenced
        new.append(token)
        if on_token is not None:  # else the tokens stay on the device until the end (no wait per step)
            on_token(step, token.numpy().reshape(batch))
    return np.concatenate([tokens, tp.concatenate(new, dim=1).numpy()], axis=1)


def _pick(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> np.ndarray:
    """The next token of each row: argmax when ``temperature`` is 0, else a top-k sample."""
    if temperature <= 0:
        return logits.argmax(axis=-1).astype(np.int32)
    logits = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = np.sort(logits, axis=-1)[:, -top_k][:, None]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    return np.array([rng.choice(len(p), p=p) for p in probs], dtype=np.int32)
