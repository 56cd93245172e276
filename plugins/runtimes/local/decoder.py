"""A lean forward pass for Llama-family decoders over our own KV cache (``BatchKV``).

The weights are read straight from the folder's safetensors (memory-mapped) and every
projection goes through a kernel chosen in ``linear.py``: no transformers model is built, so
a start costs importing torch and touching the weights, and a decode step is little more
than the matrix products. Rows with different lengths and positions share one batch.
The arithmetic follows transformers' Llama implementation (RMSNorm, rotary embedding with
``rotate_half``, grouped-query attention, gated MLP); tests hold it to transformers' own
forward.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .batch_kv import BatchKV
from .linear import Linear, LinearKernel, linear_factory
from .model_config import DecoderConfig, UnsupportedModelError

__all__ = ["Decoder", "UnsupportedModelError"]

_DECODE_QUERIES = 16
"""Steps with at most this many new tokens per row attend with plain matmuls."""

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


@dataclass(frozen=True, slots=True)
class Layer:
    input_norm: torch.Tensor
    qkv: Linear
    """q, k and v projections as one matrix (one product instead of three)."""
    output: Linear
    post_norm: torch.Tensor
    gate_up: Linear
    """gate and up projections as one matrix."""
    down: Linear


class Decoder:
    """Weights of one model and its forward pass over ``BatchKV`` caches."""

    def __init__(self, config: DecoderConfig, weights: dict[str, torch.Tensor], *,
                 dtype: torch.dtype = torch.float32, quantize: str = "none",
                 kernel: LinearKernel = "auto") -> None:
        self.config = config
        self.dtype = dtype
        self.heads, self.kv_heads, self.head_dim = config.heads, config.kv_heads, config.head_dim
        self.vocab_size = config.vocab_size
        self.context_length = config.context_length
        make = linear_factory(kernel, dtype, quantize)
        self.kernel = make.__name__

        # The tensors come memory-mapped from the weights file; one kept as a view would keep
        # the whole mapping, and every page the load touched, resident (RSS 1.36 GB instead
        # of ~0.96 GB). So what the decoder keeps dense is copied (``tensor``), and matrices
        # go to the kernels as views (``source``): each kernel makes its own copy.
        def source(name: str) -> torch.Tensor:
            if name not in weights:
                raise UnsupportedModelError(f"weight {name!r} is missing from the model files")
            return weights[name].to(dtype)

        def tensor(name: str) -> torch.Tensor:
            return source(name).clone()

        def optional(name: str) -> torch.Tensor | None:
            return tensor(name) if name in weights else None

        def joined(prefix: str, parts: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
            matrices = [source(f"{prefix}.{part}.weight") for part in parts]
            biases = [optional(f"{prefix}.{part}.bias") for part in parts]
            bias = None if all(b is None for b in biases) else torch.cat([
                b if b is not None else torch.zeros(m.shape[0], dtype=dtype)
                for m, b in zip(matrices, biases, strict=True)])
            return torch.cat(matrices), bias

        self.embed = tensor("model.embed_tokens.weight")
        self.layers: list[Layer] = []
        for index in range(config.layers):
            prefix = f"model.layers.{index}"
            qkv = joined(f"{prefix}.self_attn", ("q_proj", "k_proj", "v_proj"))
            gate_up = joined(f"{prefix}.mlp", ("gate_proj", "up_proj"))
            self.layers.append(Layer(
                input_norm=tensor(f"{prefix}.input_layernorm.weight"),
                qkv=make(*qkv),
                output=make(source(f"{prefix}.self_attn.o_proj.weight"),
                            optional(f"{prefix}.self_attn.o_proj.bias")),
                post_norm=tensor(f"{prefix}.post_attention_layernorm.weight"),
                gate_up=make(*gate_up),
                down=make(source(f"{prefix}.mlp.down_proj.weight"),
                          optional(f"{prefix}.mlp.down_proj.bias")),
            ))
        self.norm = tensor("model.norm.weight")
        head = "model.embed_tokens.weight" if config.tie_word_embeddings or (
            "lm_head.weight" not in weights) else "lm_head.weight"
        self.lm_head = make(source(head), None)
        self.q_size = config.heads * config.head_dim
        self.kv_size = config.kv_heads * config.head_dim
        self.activation = _ACTIVATIONS[config.hidden_act]
        self.cos, self.sin_signed = _rotary_tables(config, dtype)
        self.scale = config.head_dim ** -0.5

    @classmethod
    def load(cls, folder: Path, *, dtype: torch.dtype = torch.float32, quantize: str = "none",
             kernel: LinearKernel = "auto") -> Decoder:
        config = DecoderConfig.from_folder(folder)
        return cls(config, load_weights(folder), dtype=dtype, quantize=quantize, kernel=kernel)

    def new_batch(self, rows: int = 0) -> BatchKV:
        return BatchKV.empty(len(self.layers), self.kv_heads, self.head_dim, self.dtype, rows)

    def forward(self, token_ids: torch.Tensor, kv: BatchKV, *, logits_from: int | None = None
                ) -> torch.Tensor:
        """Run ``[rows, t]`` new tokens after what ``kv`` holds; returns float32 logits.

        Logits are for the last position ``[rows, vocab]``, or with ``logits_from`` for new
        positions ``logits_from:`` as ``[rows, t - logits_from, vocab]`` (none when it is
        ``t``: a prefill chunk before the positions that need logits). ``kv`` is extended
        by ``t`` columns.
        """
        rows, new = token_ids.shape
        kv.reserve(new)
        positions = kv.positions()[:, None] + torch.arange(new)[None, :]
        start = kv.length
        end = start + new
        # Column j of the cache is visible to new token i iff it is a real token and not in
        # the future: j <= start + i. One additive mask per step, shared by every layer and
        # by the query heads of a group (stacked along the query axis, see below).
        kv.valid[:, start:end] = True
        causal = torch.arange(end)[None, :] <= (start + torch.arange(new))[:, None]
        visible = kv.valid[:, None, None, :end] & causal[None, None]
        group = self.heads // self.kv_heads
        if group > 1 and new > 1:
            visible = visible.expand(rows, 1, group, new, end).reshape(rows, 1, group * new, end)
        mask = torch.zeros(visible.shape).masked_fill_(~visible, float("-inf")).to(self.dtype)
        cos, sin = self.cos[positions][:, :, None], self.sin_signed[positions][:, :, None]
        eps, width = self.config.rms_norm_eps, (self.config.hidden_size,)
        rotated_heads = self.heads + self.kv_heads
        hidden = F.embedding(token_ids, self.embed)
        for index, layer in enumerate(self.layers):
            normed = F.rms_norm(hidden, width, layer.input_norm, eps)
            qkv = layer.qkv(normed).view(rows, new, rotated_heads + self.kv_heads, self.head_dim)
            # q and k rotate together: x·cos + rotate_half(x)·sin, where rotate_half(x)·sin
            # = roll(x, half)·(−sin₁, sin₂).
            qk = qkv[:, :, :rotated_heads]
            qk = qk * cos + qk.roll(self.head_dim // 2, dims=-1) * sin
            key = qk[:, :, self.heads:].transpose(1, 2)
            value = qkv[:, :, rotated_heads:].transpose(1, 2)
            keys, values = kv.write(index, key, value)
            # Grouped-query attention without repeating K/V: the query heads that share a
            # K/V head become extra query positions of that head.
            query = qk[:, :, :self.heads].transpose(1, 2).reshape(
                rows, self.kv_heads, group * new, self.head_dim)
            attended = self._attend(query, keys, values, mask, new)
            attended = attended.view(rows, self.heads, new, self.head_dim).transpose(1, 2)
            hidden = layer.output.add_to(attended.reshape(rows, new, self.q_size), hidden)
            normed = F.rms_norm(hidden, width, layer.post_norm, eps)
            gate, up = layer.gate_up(normed).chunk(2, dim=-1)
            hidden = layer.down.add_to(self.activation(gate) * up, hidden)
        kv.length += new
        if logits_from is not None and logits_from >= new:
            return hidden.new_empty(rows, 0, self.vocab_size, dtype=torch.float32)
        hidden = hidden[:, -1] if logits_from is None else hidden[:, logits_from:]
        hidden = F.rms_norm(hidden, width, self.norm, eps)
        return self.lm_head(hidden).float()

    def _attend(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor, new: int) -> torch.Tensor:
        """Two matmuls and a softmax for decode steps (a few query rows): in alternating runs
        of whole forward passes, as fast as torch's CPU flash attention at 8 rows and ~8 %
        faster at 32. Prefills use flash attention, which never holds the whole
        ``[queries, keys]`` score matrix."""
        if new <= _DECODE_QUERIES:
            scores = torch.matmul(query, keys.transpose(-1, -2)).mul_(self.scale).add_(mask)
            return torch.matmul(torch.softmax(scores, dim=-1), values)
        return F.scaled_dot_product_attention(query, keys, values, attn_mask=mask)


def _rotary_tables(config: DecoderConfig, dtype: torch.dtype
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and signed sin ``(−sin, sin)`` for every position ``[context, head_dim]``,
    computed as transformers does (float32 products of position and inverse frequency, then
    the attention scaling)."""
    if config.rope_type == "default":
        exponents = torch.arange(0, config.head_dim, 2, dtype=torch.int64).float()
        inv_freq = 1.0 / (config.rope_theta ** (exponents / config.head_dim))
        scaling = 1.0
    else:  # scaled variants (llama3, yarn, ...) come from transformers itself
        inv_freq, scaling = _transformers_rope(config)
    positions = torch.arange(config.context_length, dtype=torch.float32)
    freqs = positions[:, None] * inv_freq.float()[None, :]
    cos, sin = freqs.cos() * scaling, freqs.sin() * scaling
    return torch.cat((cos, cos), dim=-1).to(dtype), torch.cat((-sin, sin), dim=-1).to(dtype)


def _transformers_rope(config: DecoderConfig) -> tuple[torch.Tensor, float]:
    from transformers import AutoConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    if config.rope_type not in ROPE_INIT_FUNCTIONS:
        raise UnsupportedModelError(f"rope type {config.rope_type!r} is not supported")
    hf_config = AutoConfig.for_model(**config.raw)
    inv_freq, scaling = ROPE_INIT_FUNCTIONS[config.rope_type](hf_config, torch.device("cpu"))
    return inv_freq, float(scaling)


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor of the model, memory-mapped from safetensors (sharded or not), else from
    ``pytorch_model.bin``."""
    from safetensors.torch import load_file

    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    if single.is_file():
        return load_file(single)
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        weights: dict[str, torch.Tensor] = {}
        for shard in shards:
            weights.update(load_file(folder / shard))
        return weights
    binary = folder / "pytorch_model.bin"
    if binary.is_file():
        return torch.load(binary, map_location="cpu", weights_only=True, mmap=True)
    raise UnsupportedModelError(
        f"{folder} has no model.safetensors, model.safetensors.index.json or pytorch_model.bin")
