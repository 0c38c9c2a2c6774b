"""The PyTorch GPT-2 decoder a user who cares about speed would write: a static KV cache, and one decode
step captured as a CUDA graph and replayed per token.

It reads the weights of a HuggingFace ``GPT2LMHeadModel``. The prompt runs once, eagerly, filling the
cache; each new token is then one graph replay (on the CPU, one eager call of the same step). Greedy
decoding only: the next token is chosen inside the step, so a replay needs no host round trip.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class StaticGPT2Decoder:
    """Greedy decoding of a GPT-2 model for a fixed batch size and at most ``max_len`` positions."""

    def __init__(self, hf_model: torch.nn.Module, batch: int, max_len: int, use_graph: bool | None = None) -> None:
        config = hf_model.config
        parameter = next(hf_model.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype
        self.n_head, self.n_embd, self.eps = config.n_head, config.n_embd, config.layer_norm_epsilon
        self.head_dim = self.n_embd // self.n_head
        self.batch, self.max_len = batch, max_len
        state = {k: v.detach() for k, v in hf_model.state_dict().items()}
        self.wte, self.wpe = state["transformer.wte.weight"], state["transformer.wpe.weight"]
        self.ln_f = (state["transformer.ln_f.weight"], state["transformer.ln_f.bias"])
        self.layers = [
            {name: state[f"transformer.h.{i}.{name}"] for name in _LAYER_WEIGHTS} for i in range(config.n_layer)
        ]
        shape = (config.n_layer, batch, self.n_head, max_len, self.head_dim)
        self.k_cache = torch.zeros(shape, device=self.device, dtype=self.dtype)
        self.v_cache = torch.zeros(shape, device=self.device, dtype=self.dtype)
        self.positions = torch.arange(max_len, device=self.device)
        # The step's inputs and output live in static buffers (a graph reads and writes fixed addresses).
        self.token = torch.zeros((batch, 1), device=self.device, dtype=torch.long)
        self.position = torch.zeros((1,), device=self.device, dtype=torch.long)
        self.next_token = torch.zeros((batch, 1), device=self.device, dtype=torch.long)
        self.use_graph = self.device.type == "cuda" if use_graph is None else use_graph
        self.graph: torch.cuda.CUDAGraph | None = None

    # -- the model -------------------------------------------------------------------------------------------
    def _attention_inputs(self, layer: dict, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = F.layer_norm(x, (self.n_embd,), layer["ln_1.weight"], layer["ln_1.bias"], self.eps)
        qkv = h @ layer["attn.c_attn.weight"] + layer["attn.c_attn.bias"]  # Conv1D weights are (in, out)
        batch, seq, _ = x.shape
        q, k, v = (t.view(batch, seq, self.n_head, self.head_dim).transpose(1, 2) for t in qkv.split(self.n_embd, 2))
        return q, k, v

    def _finish_block(self, layer: dict, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        y = attended.transpose(1, 2).reshape(batch, seq, self.n_embd)
        x = x + (y @ layer["attn.c_proj.weight"] + layer["attn.c_proj.bias"])
        h = F.layer_norm(x, (self.n_embd,), layer["ln_2.weight"], layer["ln_2.bias"], self.eps)
        h = F.gelu(h @ layer["mlp.c_fc.weight"] + layer["mlp.c_fc.bias"], approximate="tanh")
        return x + (h @ layer["mlp.c_proj.weight"] + layer["mlp.c_proj.bias"])

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (self.n_embd,), *self.ln_f, self.eps) @ self.wte.t()

    def _prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """Run the prompt at once, filling the cache; returns the first new token."""
        seq = ids.shape[1]
        x = self.wte[ids] + self.wpe[:seq]
        for i, layer in enumerate(self.layers):
            q, k, v = self._attention_inputs(layer, x)
            self.k_cache[i, :, :, :seq] = k
            self.v_cache[i, :, :, :seq] = v
            x = self._finish_block(layer, x, F.scaled_dot_product_attention(q, k, v, is_causal=True))
        return self._logits(x[:, -1:]).argmax(-1)

    def _step(self) -> None:
        """One token at ``self.position``: reads ``self.token``, writes the cache and ``self.next_token``."""
        x = self.wte[self.token] + self.wpe[self.position]
        visible = (self.positions <= self.position).view(1, 1, 1, self.max_len)  # keys written so far
        scale = 1.0 / math.sqrt(self.head_dim)
        for i, layer in enumerate(self.layers):
            q, k, v = self._attention_inputs(layer, x)
            self.k_cache[i].index_copy_(2, self.position, k)
            self.v_cache[i].index_copy_(2, self.position, v)
            attended = F.scaled_dot_product_attention(q, self.k_cache[i], self.v_cache[i], visible, scale=scale)
            x = self._finish_block(layer, x, attended)
        self.next_token.copy_(self._logits(x).argmax(-1))

    # -- decoding --------------------------------------------------------------------------------------------
    def _capture(self) -> None:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):  # warm the allocator and the kernels on the capture stream
                self._step()
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._step()

    @torch.no_grad()
    def generate(self, ids: torch.Tensor, new_tokens: int) -> torch.Tensor:
        """``ids`` (batch, prompt) followed by ``new_tokens`` greedy tokens."""
        prompt = ids.shape[1]
        if ids.shape[0] != self.batch or prompt + new_tokens > self.max_len:
            raise ValueError(f"this decoder takes batch {self.batch} and at most {self.max_len} positions")
        if self.use_graph and self.graph is None:
            self.token.zero_()
            self.position.fill_(self.max_len - 1)  # the capture's warm-up writes a position the prompt never uses
            self._capture()
        out = [ids, self._prefill(ids)]
        for step in range(1, new_tokens):
            self.token.copy_(out[-1])
            self.position.fill_(prompt + step - 1)
            if self.graph is not None:
                self.graph.replay()
            else:
                self._step()
            out.append(self.next_token.clone())
        return torch.cat(out, dim=1)


_LAYER_WEIGHTS = (
    "ln_1.weight",
    "ln_1.bias",
    "attn.c_attn.weight",
    "attn.c_attn.bias",
    "attn.c_proj.weight",
    "attn.c_proj.bias",
    "ln_2.weight",
    "ln_2.bias",
    "mlp.c_fc.weight",
    "mlp.c_fc.bias",
    "mlp.c_proj.weight",
    "mlp.c_proj.bias",
)
