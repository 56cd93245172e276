"""A lean forward pass for Llama-family decoders over our own KV cache (``BatchKV``).

The weights are read straight from the folder's safetensors (memory-mapped) and every
projection goes through a kernel chosen in ``linear.py``: no transformers model is built, so
a start costs importing torch and touching the weights, and a decode step is little more
than the matrix products. Rows with different lengths and positions share one batch.
The arithmetic follows transformers' Llama implementation (RMSNorm, rotary embedding with
``rotate_half``, grouped-query SDPA, gated MLP); tests hold it to transformers' own forward.
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

        def tensor(name: str) -> torch.Tensor:
            if name not in weights:
                raise UnsupportedModelError(f"weight {name!r} is missing from the model files")
            return weights[name].to(dtype)

        def optional(name: str) -> torch.Tensor | None:
            return weights[name].to(dtype) if name in weights else None

        def joined(prefix: str, parts: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
            matrices = [tensor(f"{prefix}.{part}.weight") for part in parts]
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
                output=make(tensor(f"{prefix}.self_attn.o_proj.weight"),
                            optional(f"{prefix}.self_attn.o_proj.bias")),
                post_norm=tensor(f"{prefix}.post_attention_layernorm.weight"),
                gate_up=make(*gate_up),
                down=make(tensor(f"{prefix}.mlp.down_proj.weight"),
                          optional(f"{prefix}.mlp.down_proj.bias")),
            ))
        self.norm = tensor("model.norm.weight")
        head = "model.embed_tokens.weight" if config.tie_word_embeddings or (
            "lm_head.weight" not in weights) else "lm_head.weight"
        self.lm_head = make(tensor(head), None)
        self.q_size = config.heads * config.head_dim
        self.kv_size = config.kv_heads * config.head_dim
        self.activation = _ACTIVATIONS[config.hidden_act]
        self.cos, self.sin = _rotary_tables(config, dtype)

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
        cos, sin = self.cos[positions][:, None], self.sin[positions][:, None]
        eps, width = self.config.rms_norm_eps, (self.config.hidden_size,)
        gqa = self.kv_heads != self.heads
        hidden = F.embedding(token_ids, self.embed)
        for index, layer in enumerate(self.layers):
            normed = F.rms_norm(hidden, width, layer.input_norm, eps)
            query, key, value = layer.qkv(normed).split(
                (self.q_size, self.kv_size, self.kv_size), dim=-1)
            query = query.view(rows, new, self.heads, self.head_dim).transpose(1, 2)
            key = key.view(rows, new, self.kv_heads, self.head_dim).transpose(1, 2)
            value = value.view(rows, new, self.kv_heads, self.head_dim).transpose(1, 2)
            query = query * cos + _rotate_half(query) * sin
            key = key * cos + _rotate_half(key) * sin
            keys, values = kv.write(index, key, value)
            attended = F.scaled_dot_product_attention(query, keys, values, attn_mask=mask,
                                                      enable_gqa=gqa)
            attended = attended.transpose(1, 2).reshape(rows, new, self.q_size)
            hidden = hidden + layer.output(attended)
            normed = F.rms_norm(hidden, width, layer.post_norm, eps)
            gate, up = layer.gate_up(normed).chunk(2, dim=-1)
            hidden = hidden + layer.down(self.activation(gate) * up)
        kv.length += new
        hidden = hidden[:, -1] if logits_from is None else hidden[:, logits_from:]
        hidden = F.rms_norm(hidden, width, self.norm, eps)
        return self.lm_head(hidden).float()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rotary_tables(config: DecoderConfig, dtype: torch.dtype
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin for every position ``[context, head_dim]``, computed as transformers does
    (float32 products of position and inverse frequency, then the attention scaling)."""
    if config.rope_type == "default":
        exponents = torch.arange(0, config.head_dim, 2, dtype=torch.int64).float()
        inv_freq = 1.0 / (config.rope_theta ** (exponents / config.head_dim))
        scaling = 1.0
    else:  # scaled variants (llama3, yarn, ...) come from transformers itself
        inv_freq, scaling = _transformers_rope(config)
    positions = torch.arange(config.context_length, dtype=torch.float32)
    freqs = positions[:, None] * inv_freq.float()[None, :]
    angles = torch.cat((freqs, freqs), dim=-1)
    return (angles.cos() * scaling).to(dtype), (angles.sin() * scaling).to(dtype)


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
