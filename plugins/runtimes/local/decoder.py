"""A lean forward pass for Llama-family decoders over our own KV cache (``BatchKV``).

It reuses the Hugging Face modules (embeddings, norms, projections, MLP, rotary embedding)
so weights, int8 dynamic quantisation and architecture details stay theirs; only attention
and the cache are ours, which removes the per-step overhead of ``generate`` and lets rows
with different lengths and positions share one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .batch_kv import BatchKV

SUPPORTED_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2"})


class UnsupportedModelError(ValueError):
    """The model's architecture is not a Llama-family decoder this engine can run."""


class Decoder:
    """Wraps a loaded ``*ForCausalLM`` and runs it over ``BatchKV`` caches."""

    def __init__(self, model: Any) -> None:
        config = model.config
        if config.model_type not in SUPPORTED_MODEL_TYPES:
            raise UnsupportedModelError(
                f"model type {config.model_type!r} is not supported by the local engine "
                f"(supported: {', '.join(sorted(SUPPORTED_MODEL_TYPES))})"
            )
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

        self._rotate = apply_rotary_pos_emb
        self.model = model
        self.layers = list(model.model.layers)
        self.heads = config.num_attention_heads
        self.kv_heads = getattr(config, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.vocab_size = int(model.lm_head.out_features)
        self.context_length = int(getattr(config, "max_position_embeddings", 2048))
        self.dtype = model.model.embed_tokens.weight.dtype
        self.fused = [_fuse(layer) for layer in self.layers]

    def new_batch(self, rows: int = 0) -> BatchKV:
        return BatchKV.empty(len(self.layers), self.kv_heads, self.head_dim, self.dtype, rows)

    def forward(self, token_ids: torch.Tensor, kv: BatchKV, *, logits_from: int | None = None
                ) -> torch.Tensor:
        """Run ``[rows, t]`` new tokens after what ``kv`` holds; returns float32 logits.

        Logits are for the last position ``[rows, vocab]``, or with ``logits_from`` for new
        positions ``logits_from:`` as ``[rows, t - logits_from, vocab]``. ``kv`` is extended
        by ``t`` columns.
        """
        rows, new = token_ids.shape
        kv.reserve(new)
        positions = kv.positions()[:, None] + torch.arange(new)[None, :]
        start = kv.length
        # Column j of the cache is visible to new token i iff it is a real token and not in
        # the future: j <= start + i.
        kv.valid[:, start:start + new] = True
        columns = torch.arange(start + new)
        causal = columns[None, :] <= (start + torch.arange(new))[:, None]
        mask = kv.valid[:, None, None, : start + new] & causal[None, None]
        hidden = self.model.model.embed_tokens(token_ids)
        cos, sin = self.model.model.rotary_emb(hidden, positions)
        for index, layer in enumerate(self.layers):
            attention = layer.self_attn
            fused = self.fused[index]
            normed = layer.input_layernorm(hidden)
            if fused is None:
                query = attention.q_proj(normed)
                key = attention.k_proj(normed)
                value = attention.v_proj(normed)
            else:
                query, key, value = F.linear(normed, fused.qkv, fused.qkv_bias).split(
                    fused.qkv_sizes, dim=-1)
            query = query.view(rows, new, self.heads, self.head_dim)
            key = key.view(rows, new, self.kv_heads, self.head_dim)
            value = value.view(rows, new, self.kv_heads, self.head_dim)
            query, key = self._rotate(query.transpose(1, 2), key.transpose(1, 2), cos, sin)
            keys, values = kv.write(index, key, value.transpose(1, 2))
            attended = F.scaled_dot_product_attention(
                query, keys, values, attn_mask=mask, enable_gqa=self.kv_heads != self.heads
            )
            attended = attended.transpose(1, 2).reshape(rows, new, self.heads * self.head_dim)
            hidden = hidden + attention.o_proj(attended)
            normed = layer.post_attention_layernorm(hidden)
            if fused is None:
                hidden = hidden + layer.mlp(normed)
            else:
                gate, up = F.linear(normed, fused.gate_up).chunk(2, dim=-1)
                hidden = hidden + layer.mlp.down_proj(layer.mlp.act_fn(gate) * up)
        kv.length += new
        hidden = hidden[:, -1] if logits_from is None else hidden[:, logits_from:]
        hidden = self.model.model.norm(hidden)
        return self.model.lm_head(hidden).float()


@dataclass(frozen=True, slots=True)
class FusedLayer:
    """One layer's q/k/v and gate/up weights as single matrices (one matmul each instead of
    three and two). The modules' own weights become views into these, so memory is unchanged
    and the Hugging Face modules stay usable."""

    qkv: torch.Tensor
    qkv_bias: torch.Tensor | None
    qkv_sizes: tuple[int, int, int]
    gate_up: torch.Tensor


def _fuse(layer: Any) -> FusedLayer | None:
    attention, mlp = layer.self_attn, layer.mlp
    projections = (attention.q_proj, attention.k_proj, attention.v_proj)
    linears = (*projections, mlp.gate_proj, mlp.up_proj)
    # Quantised (or otherwise replaced) modules keep their own forward.
    if not all(type(m) is torch.nn.Linear for m in linears) or mlp.gate_proj.bias is not None:
        return None
    with torch.no_grad():
        qkv = torch.cat([m.weight for m in projections])
        biases = [m.bias for m in projections]
        qkv_bias = None if all(b is None for b in biases) else torch.cat([
            b if b is not None else torch.zeros(m.out_features, dtype=qkv.dtype)
            for m, b in zip(projections, biases, strict=True)])
        gate_up = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight])
        sizes = tuple(m.out_features for m in projections)
        start = 0
        for m in projections:
            m.weight = torch.nn.Parameter(qkv[start:start + m.out_features], requires_grad=False)
            start += m.out_features
        half = mlp.gate_proj.out_features
        mlp.gate_proj.weight = torch.nn.Parameter(gate_up[:half], requires_grad=False)
        mlp.up_proj.weight = torch.nn.Parameter(gate_up[half:], requires_grad=False)
    return FusedLayer(qkv, qkv_bias, sizes, gate_up)  # type: ignore[arg-type]
