"""Per-row token choice: greedy, or seeded sampling that no other row can disturb.

Each sampled row owns a ``torch.Generator``; a token is drawn by the exponential race
argmax(p_i / E_i) with E_i ~ Exp(1) drawn from that generator (equivalent to sampling from
p), so a row's draws depend only on its own seed and logits, never on what shares the
batch. Sample i of a request is seeded from (request seed, i).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import torch

from ttc.runtime import SamplingParams


def sample_seed(request_seed: int | None, index: int) -> int:
    """The seed of sample ``index``: a stable hash of (request seed, index)."""
    if request_seed is None:
        return secrets.randbits(63)
    digest = hashlib.sha256(f"ttc-local:{request_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


@dataclass(slots=True)
class RowSampler:
    """The sampling state of one sequence."""

    params: SamplingParams
    generator: torch.Generator | None
    """None for greedy (temperature 0)."""

    @classmethod
    def create(cls, params: SamplingParams, seed: int) -> RowSampler:
        if params.temperature == 0:
            return cls(params, None)
        generator = torch.Generator()
        generator.manual_seed(seed)
        return cls(params, generator)


def choose_tokens(logits: torch.Tensor, samplers: list[RowSampler]) -> torch.Tensor:
    """One token per row of ``[rows, V]`` float32 raw logits."""
    greedy = logits.argmax(dim=-1)
    sampled_rows = [i for i, s in enumerate(samplers) if s.generator is not None]
    if not sampled_rows:
        return greedy
    index = torch.tensor(sampled_rows)
    params = [samplers[i].params for i in sampled_rows]
    scores = _truncated_log_weights(logits[index], params)
    noise = torch.empty_like(scores)
    for out_row, row in enumerate(sampled_rows):
        noise[out_row].exponential_(generator=samplers[row].generator)
    # argmax p/E == argmax (log p − log E); masked tokens carry −inf.
    chosen = (scores - noise.log()).argmax(dim=-1)
    greedy[index] = chosen
    return greedy


def _truncated_log_weights(logits: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
    """Temperature-scaled logits with top-k, top-p and min-p cut tokens set to −inf."""
    temperature = torch.tensor([p.temperature for p in params])[:, None]
    scaled = logits / temperature
    if any(p.min_p > 0 for p in params):
        log_probs = torch.log_softmax(scaled, dim=-1)
        min_p = torch.tensor([p.min_p for p in params])[:, None]
        threshold = log_probs.max(dim=-1, keepdim=True).values + torch.log(min_p)
        scaled = scaled.masked_fill(log_probs < threshold, float("-inf"))
    if any(p.top_k > 0 or p.top_p < 1 for p in params):
        ordered, order = torch.sort(scaled, dim=-1, descending=True)
        rank = torch.arange(scaled.shape[-1])[None, :]
        top_k = torch.tensor([p.top_k if p.top_k > 0 else scaled.shape[-1] for p in params])
        cut = rank >= top_k[:, None]
        probs = torch.softmax(ordered.masked_fill(cut, float("-inf")), dim=-1)
        top_p = torch.tensor([p.top_p for p in params])[:, None]
        # Drop a token when the mass strictly before it already reaches top_p.
        cut |= (probs.cumsum(dim=-1) - probs) >= top_p
        cut[:, 0] = False
        scaled = scaled.scatter(1, order, ordered.masked_fill(cut, float("-inf")))
    return scaled
