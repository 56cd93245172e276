"""The statistics against textbook values and independent implementations."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from ttc.plugins.evaluation.statistics import (
    auroc,
    compare_paired,
    mcnemar_exact,
    paired_bootstrap,
    wilson,
)


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (8, 10, 0.4902, 0.9433),   # Newcombe (1998), Table I style values for 8/10
    (0, 10, 0.0, 0.2775),      # zero successes: the interval still has width
    (10, 10, 0.7225, 1.0),
    (81, 263, 0.2553, 0.3662),  # Newcombe (1998) example 81/263
])
def test_wilson_matches_published_intervals(k, n, low, high):
    interval = wilson(k, n)
    assert interval.low == pytest.approx(low, abs=5e-4)
    assert interval.high == pytest.approx(high, abs=5e-4)


def test_wilson_agrees_with_scipy_on_random_counts():
    rng = random.Random(0)
    for _ in range(50):
        n = rng.randint(1, 500)
        k = rng.randint(0, n)
        ours = wilson(k, n)
        theirs = stats.binomtest(k, n).proportion_ci(method="wilson")
        assert (ours.low, ours.high) == pytest.approx((theirs.low, theirs.high), abs=1e-9)


@pytest.mark.parametrize(("wins", "losses"), [(10, 2), (0, 0), (5, 5), (0, 7), (30, 12)])
def test_exact_mcnemar_is_the_two_sided_binomial_test(wins, losses):
    expected = 1.0 if wins + losses == 0 else stats.binomtest(wins, wins + losses, 0.5).pvalue
    assert mcnemar_exact(wins, losses) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_textbook_value():
    # 10 vs 2 discordant pairs: 2 * P(X <= 2), X ~ Bin(12, 1/2) = 2 * 79 / 4096
    assert mcnemar_exact(10, 2) == pytest.approx(2 * 79 / 4096, rel=1e-12)


def test_auroc_matches_the_rank_formula_and_handles_ties():
    assert auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    assert auroc([1, 1, 1, 1], [True, False, True, False]) == pytest.approx(0.5)
    assert auroc([3, 2, 1], [True, True, False]) == 1.0
    assert auroc([1, 2], [True, True]) is None


def test_auroc_agrees_with_brute_force_pair_counting():
    rng = random.Random(1)
    scores = [rng.choice([0.0, 0.5, 1.0, rng.random()]) for _ in range(60)]
    labels = [rng.random() < 0.4 for _ in range(60)]
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    brute = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))
    assert auroc(scores, labels) == pytest.approx(brute)


def test_paired_bootstrap_is_degenerate_when_it_should_be():
    same = [True, False, True, True]
    assert paired_bootstrap(same, same).low == paired_bootstrap(same, same).high == 0.0
    assert paired_bootstrap([False] * 20, [True] * 20).low == 1.0


def test_paired_bootstrap_is_close_to_the_normal_interval_on_a_large_sample():
    rng = random.Random(2)
    a = [rng.random() < 0.3 for _ in range(400)]
    b = [x or rng.random() < 0.25 for x in a]  # b fixes some of a's misses
    diffs = [int(y) - int(x) for x, y in zip(a, b, strict=True)]
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    half = 1.96 * sd / math.sqrt(len(diffs))
    interval = paired_bootstrap(a, b, resamples=20_000, seed=3)
    assert interval.low == pytest.approx(mean - half, abs=0.01)
    assert interval.high == pytest.approx(mean + half, abs=0.01)


def test_compare_paired_counts_wins_and_losses():
    a = [True, True, False, False, True]
    b = [True, False, True, True, True]
    result = compare_paired(a, b)
    assert (result.wins, result.losses) == (2, 1)
    assert result.difference == pytest.approx(0.2)
    assert result.p_value == pytest.approx(1.0)
    assert not result.significant
