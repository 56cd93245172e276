"""Token choice and exact statistics on synthetic logits (no model)."""

from __future__ import annotations

import math

import pytest
import torch

from ttc.plugins.runtimes.local.sampling import RowSampler, choose_tokens, sample_seed
from ttc.plugins.runtimes.local.token_stats import position_stats, top_logprobs
from ttc.runtime import SamplingParams


def sampler(seed: int = 0, **params: float) -> RowSampler:
    return RowSampler.create(SamplingParams(**params), seed)


def test_sample_seeds_are_stable_and_distinct() -> None:
    assert sample_seed(7, 0) == sample_seed(7, 0)
    assert len({sample_seed(7, i) for i in range(100)}) == 100
    assert sample_seed(7, 1) != sample_seed(8, 1)


def test_temperature_zero_is_argmax() -> None:
    logits = torch.randn(4, 50)
    chosen = choose_tokens(logits, [sampler(temperature=0) for _ in range(4)])
    assert chosen.tolist() == logits.argmax(dim=-1).tolist()


def test_a_row_draws_the_same_token_whatever_shares_the_batch() -> None:
    torch.manual_seed(0)
    logits = torch.randn(5, 1000)
    alone = choose_tokens(logits[2:3], [sampler(seed=42)]).item()
    rows = [sampler(seed=s) for s in (1, 2, 42, 3, 4)]
    rows[1] = sampler(temperature=0)
    together = choose_tokens(logits, rows)
    assert together[2].item() == alone


def test_sampling_follows_the_distribution() -> None:
    probs = torch.tensor([0.5, 0.3, 0.2])
    logits = probs.log()[None].repeat(2000, 1)
    chosen = choose_tokens(logits, [sampler(seed=i) for i in range(2000)])
    frequency = torch.bincount(chosen, minlength=3).float() / 2000
    assert torch.allclose(frequency, probs, atol=0.04)


def test_temperature_sharpens() -> None:
    logits = torch.tensor([1.0, 0.0]).log_softmax(-1)[None].repeat(1000, 1)
    cold = choose_tokens(logits, [sampler(seed=i, temperature=0.2) for i in range(1000)])
    assert (cold == 0).float().mean() > 0.95


@pytest.mark.parametrize(("params", "allowed"), [
    ({"top_k": 2}, {0, 1}),
    ({"top_p": 0.6}, {0, 1}),   # 0.4 before token 1 < 0.6, 0.7 before token 2 ≥ 0.6
    ({"top_p": 0.3}, {0}),
    ({"min_p": 0.6}, {0, 1}),     # p ≥ 0.6 · 0.4 = 0.24 keeps 0.3, drops 0.2
    ({"min_p": 0.8}, {0}),
])
def test_truncation_keeps_only_allowed_tokens(params: dict, allowed: set[int]) -> None:
    probs = torch.tensor([0.4, 0.3, 0.2, 0.1])
    logits = probs.log()[None].repeat(600, 1)
    chosen = choose_tokens(logits, [sampler(seed=i, **params) for i in range(600)])
    assert set(chosen.tolist()) == allowed


def test_stats_equal_log_softmax_entropy_and_kl() -> None:
    torch.manual_seed(1)
    logits = torch.randn(3, 500) * 3
    chosen = torch.tensor([5, 17, 499])
    stats = position_stats(logits, chosen)
    log_probs = logits.log_softmax(-1)
    assert torch.allclose(stats.logprob, log_probs[torch.arange(3), chosen], atol=1e-5)
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    assert torch.allclose(stats.entropy, entropy, atol=1e-4)
    kl = (-(log_probs.mean(-1)) - math.log(500))  # KL(U‖p) = −log V − mean log p
    assert torch.allclose(stats.kl_uniform, kl, atol=1e-4)
    ids, values = top_logprobs(logits, stats.log_norm, 3)
    assert torch.allclose(values, log_probs.topk(3).values, atol=1e-5)
    assert ids[:, 0].tolist() == logits.argmax(-1).tolist()


def test_kl_uniform_is_zero_for_uniform_and_shift_invariant() -> None:
    uniform = torch.zeros(1, 100)
    kl = position_stats(uniform, torch.tensor([0])).kl_uniform.item()
    assert kl == pytest.approx(0, abs=1e-6)
    logits = torch.randn(1, 100)
    shifted = position_stats(logits + 7.5, torch.tensor([0]))
    assert shifted.kl_uniform.item() == pytest.approx(
        position_stats(logits, torch.tensor([0])).kl_uniform.item(), abs=1e-5)
    spike = torch.zeros(1, 100)
    spike[0, 0] = 10.0
    expected = math.log(math.exp(10) + 99) - 10 / 100 - math.log(100)
    assert position_stats(spike, torch.tensor([0])).kl_uniform.item() == pytest.approx(
        expected, abs=1e-4)


def kept_by_sorting(logits: torch.Tensor, params: SamplingParams) -> set[int]:
    """Top-k then top-p by a full sort, ties kept together: the rule ``_top_k_top_p``
    applies to a few hundred candidates at a time."""
    scaled = (logits / params.temperature).double()
    values = sorted(scaled.tolist(), reverse=True)
    kth = values[params.top_k - 1] if params.top_k > 0 else values[-1]
    inside = scaled >= kth
    probs = torch.softmax(scaled.masked_fill(~inside, float("-inf")), dim=-1)
    kept = set()
    for token in inside.nonzero()[:, 0].tolist():
        before = probs[scaled > scaled[token]].sum().item()
        if before < params.top_p:
            kept.add(token)
    return kept


@pytest.mark.parametrize("seed", range(6))
def test_candidate_truncation_equals_a_full_sort(seed: int) -> None:
    """Rows with their own top-k/top-p in one batch, vocabularies wider than the first
    candidate count (flat rows force the count to double), ties included."""
    from ttc.plugins.runtimes.local.sampling import _truncated_log_weights

    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(4, 1500, generator=generator)
    logits[1] *= 0.05  # nearly flat: top-p 0.9 keeps over a thousand tokens
    logits[2, :40] = logits[2].max() + 1  # a 40-way tie at the top
    logits[3] = (logits[3] * 4).round()  # many ties everywhere
    params = [SamplingParams(top_p=0.8, temperature=0.7), SamplingParams(top_p=0.9),
              SamplingParams(top_k=20, top_p=0.95), SamplingParams(top_k=300, top_p=0.5)]
    scaled = _truncated_log_weights(logits, params)
    for row, row_params in enumerate(params):
        kept = set(torch.isfinite(scaled[row]).nonzero()[:, 0].tolist())
        assert kept == kept_by_sorting(logits[row], row_params)
    assert len(set(torch.isfinite(scaled[1]).nonzero()[:, 0].tolist())) > 1000
    assert len(set(torch.isfinite(scaled[2]).nonzero()[:, 0].tolist())) == 40


def test_shaped_and_plain_rows_draw_as_they_would_alone() -> None:
    """Temperature-1 rows race on the raw logits, shaped rows on their own weights; either
    way a row's draw is the one it makes alone (fresh generators with the same seeds)."""
    torch.manual_seed(2)
    logits = torch.randn(4, 3000)

    def rows() -> list[RowSampler]:
        return [sampler(seed=1), sampler(seed=2, temperature=0.6, top_p=0.9), sampler(seed=3),
                sampler(seed=4, min_p=0.05)]

    together = choose_tokens(logits, rows()).tolist()
    alone = [choose_tokens(logits[i:i + 1], [rows()[i]]).item() for i in range(4)]
    assert together == alone
