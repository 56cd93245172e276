"""Per-row token choice: greedy, or seeded sampling that no other row can disturb.

A sampled row draws its token by an exponential race: with weights w = softmax(z/T) after
top-k, top-p and min-p, token i arrives at Eᵢ/wᵢ for independent exponentials Eᵢ, and the
first arrival, argmax(z/T − log Eᵢ), is distributed exactly as w. Each row owns a numpy PCG64
generator seeded from (request seed, sample index), so its draws depend only on its own
seed and logits, never on what shares the batch.

Why a race and not one uniform through the CDF: the same row's logits differ by ~1e-5
between batch shapes and between a prefix-cache hit and a miss (other GEMM shapes, other
summation order). Inverting the CDF turns that into a different token whenever the uniform
lands in the long run of tiny tail slots, which happened often enough to break seeded
reproducibility; a race changes its winner only when the two best arrivals are within
~1e-5 of each other. numpy's ziggurat draws a row's 49k exponentials in ~0.16 ms (torch's
generator took ~1.2 ms).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass

import numpy as np
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
    generator: np.random.Generator | None
    """None for greedy (temperature 0)."""

    @classmethod
    def create(cls, params: SamplingParams, seed: int) -> RowSampler:
        if params.temperature == 0:
            return cls(params, None)
        return cls(params, np.random.Generator(np.random.PCG64(seed)))


def choose_tokens(logits: torch.Tensor, samplers: list[RowSampler]) -> torch.Tensor:
    """One token per row of ``[rows, V]`` float32 raw logits."""
    sampled = [i for i, s in enumerate(samplers) if s.generator is not None]
    if len(sampled) < len(samplers):
        # numpy's argmax is vectorised; torch's walks each row serially (~0.9 ms at 32 rows).
        chosen = torch.from_numpy(logits.numpy().argmax(axis=-1)).long()
        if not sampled:
            return chosen
    else:
        chosen = torch.empty(len(samplers), dtype=torch.long)
    width = logits.shape[-1]
    noise = _noise_buffer(len(sampled), width)
    for slot, i in enumerate(sampled):
        generator = samplers[i].generator
        assert generator is not None
        generator.standard_exponential(out=noise[slot], dtype=np.float32)
    # A zero exponential (probability ~2⁻²⁴ per token) would win regardless of its weight.
    np.maximum(noise, np.finfo(np.float32).tiny, out=noise)
    np.log(noise, out=noise)
    plain = [slot for slot, i in enumerate(sampled) if _untouched(samplers[i].params)]
    if len(plain) == len(samplers):
        scores = logits.numpy()
    else:
        scaled = logits.clone() if len(sampled) == len(samplers) else logits[sampled]
        shaped = sorted(set(range(len(sampled))) - set(plain))
        if shaped:
            rows = [sampled[slot] for slot in shaped]
            scaled[shaped] = _truncated_log_weights(logits[rows],
                                                    [samplers[i].params for i in rows])
        scores = scaled.numpy()
    winners = np.subtract(scores, noise, out=noise).argmax(axis=-1)
    chosen[sampled] = torch.from_numpy(winners).long()
    return chosen


_buffers = threading.local()


def _noise_buffer(rows: int, width: int) -> np.ndarray:
    """A reused ``[rows, width]`` float32 array: a fresh 6 MB array at 32 rows costs its page
    faults on every step."""
    buffer = getattr(_buffers, "noise", None)
    if buffer is None or buffer.shape[1] != width or buffer.shape[0] < rows:
        buffer = np.empty((max(rows, 8), width), dtype=np.float32)
        _buffers.noise = buffer
    return buffer[:rows]


def _untouched(params: SamplingParams) -> bool:
    """Temperature 1 and no truncation: the weights are the model's own probabilities."""
    return (params.temperature == 1 and params.top_k == 0 and params.top_p >= 1
            and params.min_p == 0)


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
        threshold = log_probs.amax(dim=-1, keepdim=True) + torch.log(min_p)
        scaled = scaled.masked_fill(log_probs < threshold, float("-inf"))
    # Only rows that truncate go through top-k/top-p: an untruncated row would need the
    # whole vocabulary as candidates, and the loop below doubles until every row is covered.
    truncated = [i for i, p in enumerate(params) if p.top_k > 0 or p.top_p < 1]
    if len(truncated) == len(params):
        scaled = _top_k_top_p(scaled, params)
    elif truncated:
        scaled[truncated] = _top_k_top_p(scaled[truncated], [params[i] for i in truncated])
    return scaled


def _top_k_top_p(scaled: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
    """Top-k then top-p over the renormalised top-k set, looking only at the most likely
    candidates: ``topk`` of a few hundred is ~25× cheaper than sorting the vocabulary, and
    the candidate count doubles until every row's cut falls inside it."""
    width = scaled.shape[-1]
    # A top-k at or above the vocabulary keeps it all (and a huge one must not overflow).
    top_k = torch.tensor([min(p.top_k, width) if p.top_k > 0 else width for p in params])
    top_p = torch.tensor([p.top_p for p in params], dtype=torch.float64)
    count = min(width, max([_CANDIDATES, *(min(p.top_k, width) + 1 for p in params
                                           if p.top_k > 0)]))
    full_norm = torch.logsumexp(scaled, dim=-1, keepdim=True)
    while True:
        values, ids = torch.topk(scaled, count, dim=-1)
        ranks = torch.arange(count)
        kth = values.gather(1, (top_k.clamp(max=count) - 1)[:, None])
        keep = values >= kth
        # Renormalise over what top-k keeps; its set lies inside the candidates whenever
        # the last candidate is cut (checked below), else it is the whole vocabulary.
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


_CANDIDATES = 256
