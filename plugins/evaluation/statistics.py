"""The statistics an accuracy claim needs: a binomial interval, a paired bootstrap of the
difference between two recipes on the same items, the exact McNemar test, and AUROC.

Plain Python and NumPy on purpose: these are a few lines each, checked against textbook
values in the tests, and SciPy is not needed to read an eval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
"""The standard normal's 97.5th percentile."""


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high}


def wilson(correct: int, total: int, z: float = Z95) -> Interval:
    """The Wilson score interval for a proportion (95 % by default): unlike the normal
    approximation it stays inside [0, 1] and is sound for small n and for 0 or n successes."""
    if total <= 0:
        return Interval(0.0, 1.0)
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """Accuracy of B minus accuracy of A on the same items."""

    items: int
    difference: float
    interval: Interval
    """Percentile interval of the paired bootstrap."""
    wins: int
    """Items B got right and A wrong."""
    losses: int
    """Items A got right and B wrong."""
    p_value: float
    """Exact McNemar test (two-sided binomial test on the discordant pairs)."""

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05

    def to_dict(self) -> dict[str, object]:
        return {"items": self.items, "difference": self.difference,
                "interval": self.interval.to_dict(), "wins": self.wins,
                "losses": self.losses, "p_value": self.p_value,
                "significant": self.significant}


def paired_bootstrap(a: Sequence[bool], b: Sequence[bool], *, resamples: int = 10_000,
                     seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile interval of mean(b) − mean(a) over items resampled with replacement
    (the same items for both: the pairing is what makes it tighter than two intervals)."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    if not a:
        return Interval(0.0, 0.0)
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // len(diff))  # bound memory: resamples × items indices
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        picks = rng.integers(0, len(diff), size=(stop - start, len(diff)))
        means[start:stop] = diff[picks].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(low), float(high))


def mcnemar_exact(wins: int, losses: int) -> float:
    """Two-sided exact McNemar p: twice the smaller binomial tail of the discordant pairs
    under p = 1/2, capped at 1 (1.0 when there are none)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def compare_paired(a: Sequence[bool], b: Sequence[bool], *, resamples: int = 10_000,
                   seed: int = 0) -> PairedDifference:
    wins = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    losses = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    difference = (sum(b) - sum(a)) / len(a) if a else 0.0
    return PairedDifference(len(a), difference,
                            paired_bootstrap(a, b, resamples=resamples, seed=seed),
                            wins, losses, mcnemar_exact(wins, losses))


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the chance a random correct candidate scores above a random
    wrong one (ties count half). None when one class is missing."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not positives or not negatives:
        return None
    values = np.asarray([*positives, *negatives], dtype=np.float64)
    ranks = _average_ranks(values)
    rank_sum = ranks[: len(positives)].sum()
    n_pos, n_neg = len(positives), len(negatives)
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their mean rank (the Mann–Whitney convention)."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i: j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks
