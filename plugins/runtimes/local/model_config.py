"""What the decoder needs from a model folder's ``config.json``, read without transformers.

Importing transformers and building its model costs ~3 s of a start; the engine only needs a
dozen numbers, so it reads them here. Config files written by transformers 4 (``rope_theta``,
``rope_scaling``) and 5 (``rope_parameters``) are both understood.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

SUPPORTED_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2"})
SUPPORTED_ACTIVATIONS = frozenset({"silu", "gelu", "gelu_pytorch_tanh"})


class UnsupportedModelError(ValueError):
    """The model's architecture is not a Llama-family decoder this engine can run."""


@dataclass(frozen=True, slots=True)
class DecoderConfig:
    model_type: str
    hidden_size: int
    intermediate_size: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    rms_norm_eps: float
    context_length: int
    """Longest sequence the engine accepts (a sliding window, when there is one, bounds it:
    the engine does not implement windowed attention)."""
    tie_word_embeddings: bool
    hidden_act: str
    rope_type: str
    rope_theta: float
    eos_token_ids: frozenset[int] = field(default_factory=frozenset)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    """The whole ``config.json``, for rope types computed by transformers."""

    @classmethod
    def from_folder(cls, folder: Path) -> DecoderConfig:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        config = cls.from_dict(raw)
        generation = folder / "generation_config.json"
        if generation.is_file():
            extra = _ids(json.loads(generation.read_text(encoding="utf-8")).get("eos_token_id"))
            config = replace(config, eos_token_ids=config.eos_token_ids | extra)
        return config

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DecoderConfig:
        model_type = raw.get("model_type", "")
        if model_type not in SUPPORTED_MODEL_TYPES:
            raise UnsupportedModelError(
                f"model type {model_type!r} is not supported by the local engine "
                f"(supported: {', '.join(sorted(SUPPORTED_MODEL_TYPES))})")
        activation = raw.get("hidden_act", "silu")
        if activation not in SUPPORTED_ACTIVATIONS:
            raise UnsupportedModelError(
                f"activation {activation!r} is not supported by the local engine "
                f"(supported: {', '.join(sorted(SUPPORTED_ACTIVATIONS))})")
        heads = int(raw["num_attention_heads"])
        hidden = int(raw["hidden_size"])
        rope = raw.get("rope_parameters") or raw.get("rope_scaling") or {}
        rope_type = rope.get("rope_type") or rope.get("type") or "default"
        theta = rope.get("rope_theta", raw.get("rope_theta", 10000.0))
        context = int(raw.get("max_position_embeddings", 2048))
        window = raw.get("sliding_window")
        if window and (model_type != "qwen2" or raw.get("use_sliding_window")):
            context = min(context, int(window))
        return cls(
            model_type=model_type,
            hidden_size=hidden,
            intermediate_size=int(raw["intermediate_size"]),
            layers=int(raw["num_hidden_layers"]),
            heads=heads,
            kv_heads=int(raw.get("num_key_value_heads") or heads),
            head_dim=int(raw.get("head_dim") or hidden // heads),
            vocab_size=int(raw["vocab_size"]),
            rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
            context_length=context,
            tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
            hidden_act=activation,
            rope_type=rope_type,
            rope_theta=float(theta),
            eos_token_ids=_ids(raw.get("eos_token_id")),
            raw=raw,
        )


def _ids(value: Any) -> frozenset[int]:
    if value is None:
        return frozenset()
    values = value if isinstance(value, list) else [value]
    return frozenset(int(v) for v in values if v is not None)

