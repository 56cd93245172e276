"""Paired comparison of stored evals on the items they share: the accuracy difference with a
paired bootstrap interval, the exact McNemar p, wins and losses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ttc.errors import UsageError
from ttc.plugins.evaluation.statistics import PairedDifference, compare_paired
from ttc.storage.evals import EvalStore
from ttc.storage.models import EvalRow
from ttc.storage.store import RunStore


@dataclass(frozen=True, slots=True)
class Comparison:
    baseline: str
    """Eval id of A."""
    other: str
    """Eval id of B."""
    baseline_name: str
    other_name: str
    shared: int
    """Items graded in both."""
    baseline_accuracy: float
    other_accuracy: float
    paired: PairedDifference

    @property
    def verdict(self) -> str:
        d = self.paired
        if not d.significant:
            return f"not significant (p = {d.p_value:.3g})"
        better = "better" if d.difference > 0 else "worse"
        return f"{self.other_name} is {better} (p = {d.p_value:.3g})"

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "other": self.other,
                "baseline_name": self.baseline_name, "other_name": self.other_name,
                "shared": self.shared, "baseline_accuracy": self.baseline_accuracy,
                "other_accuracy": self.other_accuracy, "verdict": self.verdict,
                **self.paired.to_dict()}


def compare(store: RunStore | str, eval_ids: Sequence[str], *, resamples: int = 10_000,
            seed: int = 0) -> list[Comparison]:
    """Every eval after the first against the first (the baseline)."""
    if len(eval_ids) < 2:
        raise UsageError("compare needs at least two evals: a baseline and one to compare")
    evals = EvalStore(RunStore.open(store) if isinstance(store, str) else store)
    rows = [evals.get(e) for e in eval_ids]
    base = rows[0]
    return [compare_two(base, other, resamples=resamples, seed=seed) for other in rows[1:]]


def compare_two(a: EvalRow, b: EvalRow, *, resamples: int = 10_000,
                seed: int = 0) -> Comparison:
    graded_a = {r.item_id: bool(r.correct) for r in a.item_rows if r.correct is not None}
    graded_b = {r.item_id: bool(r.correct) for r in b.item_rows if r.correct is not None}
    shared = [item for item in graded_a if item in graded_b]
    if not shared:
        raise UsageError(f"evals {a.id} and {b.id} share no graded item; compare evals of the "
                         "same data set")
    xs = [graded_a[i] for i in shared]
    ys = [graded_b[i] for i in shared]
    return Comparison(
        baseline=a.id, other=b.id, baseline_name=_name(a), other_name=_name(b),
        shared=len(shared), baseline_accuracy=sum(xs) / len(xs),
        other_accuracy=sum(ys) / len(ys),
        paired=compare_paired(xs, ys, resamples=resamples, seed=seed))


def _name(row: EvalRow) -> str:
    return f"{row.recipe_name} (seed {row.seed})"
