"""Per-row token choice: greedy, or seeded sampling that no other row can disturb.

Each sampled row owns a ``torch.Generator``; a token is drawn by inverting the row's CDF
(temperature, top-k, top-p and min-p applied) at one uniform number from that generator, so a
row's draws depend only on its own seed and logits, never on what shares the batch. One
uniform per row per step keeps sampling cheap: drawing V exponentials per row (the
exponential race) cost more than a tenth of a decode step. Sample i of a request is seeded
from (request seed, i).
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
    sampled_rows = [i for i, s in enumerate(samplers) if s.generator is not None]
    if len(sampled_rows) < len(samplers):
        chosen = logits.argmax(dim=-1)
        if not sampled_rows:
            return chosen
        index = torch.tensor(sampled_rows)
        scores = logits[index]
    else:
        chosen = torch.empty(len(samplers), dtype=torch.long)
        index = torch.arange(len(samplers))
        scores = logits
    scores = _truncated_log_weights(scores, [samplers[i].params for i in sampled_rows])
    # The CDF in float64 so the far tail keeps its (tiny) share; cut tokens have p = 0.
    cdf = torch.softmax(scores, dim=-1).cumsum(dim=-1, dtype=torch.float64)
    uniform = torch.cat([
        torch.rand(1, dtype=torch.float64, generator=samplers[i].generator)
        for i in sampled_rows
    ])
    # The first token whose CDF exceeds u: a token with p = 0 is never chosen.
    drawn = torch.searchsorted(cdf, (uniform * cdf[:, -1])[:, None], right=True)[:, 0]
    chosen[index] = drawn.clamp_(max=logits.shape[-1] - 1)
    return chosen


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
