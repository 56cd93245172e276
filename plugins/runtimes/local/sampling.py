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
    uniform = torch.cat([
        torch.rand(1, dtype=torch.float64, generator=samplers[i].generator)
        for i in sampled_rows
    ])
    chosen[index] = _inverse_cdf(torch.softmax(scores, dim=-1), uniform)
    return chosen


def _inverse_cdf(probs: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """The first token (in id order) whose cumulative probability exceeds ``u`` · total.

    Sums are float64 so the far tail keeps its tiny share, but over two levels: the mass of
    each block of ``_BLOCK`` tokens, then the running sum inside the one block ``u`` falls
    in. A full float64 running sum over the vocabulary cost more than the rest of sampling.
    A token with p = 0 is never chosen.
    """
    rows, width = probs.shape
    padded = -width % _BLOCK
    if padded:
        probs = torch.nn.functional.pad(probs, (0, padded))
    blocks = probs.view(rows, -1, _BLOCK)
    block_cdf = blocks.sum(dim=-1, dtype=torch.float64).cumsum(dim=-1)
    target = uniform * block_cdf[:, -1]
    block = torch.searchsorted(block_cdf, target[:, None], right=True)[:, 0]
    block = block.clamp_(max=blocks.shape[1] - 1)
    before = torch.where(block > 0, block_cdf.gather(1, (block - 1).clamp(min=0)[:, None])[:, 0],
                         torch.zeros_like(target))
    inside = blocks[torch.arange(rows), block].cumsum(dim=-1, dtype=torch.float64)
    offset = torch.searchsorted(inside, (target - before)[:, None], right=True)[:, 0]
    return (block * _BLOCK + offset.clamp_(max=_BLOCK - 1)).clamp_(max=width - 1)


def _truncated_log_weights(logits: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
    """Temperature-scaled logits with top-k, top-p and min-p cut tokens set to −inf.

    Ties are kept together (a token survives top-k when its logit reaches the k-th largest,
    and top-p when the mass of strictly more likely tokens is below p), so what a row keeps
    never depends on sort order or on the other rows of the batch.
    """
    temperature = torch.tensor([p.temperature for p in params])[:, None]
    scaled = logits / temperature
    if any(p.min_p > 0 for p in params):
        log_probs = torch.log_softmax(scaled, dim=-1)
        min_p = torch.tensor([p.min_p for p in params])[:, None]
        threshold = log_probs.max(dim=-1, keepdim=True).values + torch.log(min_p)
        scaled = scaled.masked_fill(log_probs < threshold, float("-inf"))
    if any(p.top_k > 0 or p.top_p < 1 for p in params):
        scaled = _top_k_top_p(scaled, params)
    return scaled


def _top_k_top_p(scaled: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
    """Top-k then top-p over the renormalised top-k set, looking only at the most likely
    candidates: ``topk`` of a few hundred is ~25× cheaper than sorting the vocabulary, and
    the candidate count doubles until every row's cut falls inside it."""
    width = scaled.shape[-1]
    top_k = torch.tensor([p.top_k if p.top_k > 0 else width for p in params])
    top_p = torch.tensor([p.top_p for p in params], dtype=torch.float64)
    count = min(width, max([_CANDIDATES, *(p.top_k + 1 for p in params if p.top_k > 0)]))
    while True:
        values, ids = torch.topk(scaled, count, dim=-1)
        ranks = torch.arange(count)
        kth = values.gather(1, (top_k.clamp(max=count) - 1)[:, None])
        keep = values >= kth
        # Renormalise over what top-k keeps; its set lies inside the candidates whenever
        # the last candidate is cut (checked below), else it is the whole vocabulary.
        full_norm = torch.logsumexp(scaled, dim=-1, keepdim=True)
        kept_norm = torch.logsumexp(values.masked_fill(~keep, float("-inf")), dim=-1,
                                    keepdim=True)
        norm = torch.where((top_k < width)[:, None], kept_norm, full_norm)
        probs = torch.exp(values.double() - norm.double()).masked_fill(~keep, 0.0)
        before = probs.cumsum(dim=-1) - probs
        # A tie group shares the mass before its first member.
        starts = torch.ones_like(keep)
        starts[:, 1:] = values[:, 1:] != values[:, :-1]
        first = torch.where(starts, ranks, torch.zeros_like(ranks)).cummax(dim=-1).values
        keep &= before.gather(1, first) < top_p[:, None]
        keep[:, 0] = True
        if count == width or not bool(keep[:, -1].any()):
            break
        count = min(width, count * 2)
    kept = values.masked_fill(~keep, float("-inf"))
    return torch.full_like(scaled, float("-inf")).scatter_(1, ids, kept)


_BLOCK = 256
_CANDIDATES = 256
