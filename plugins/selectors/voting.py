"""Weighted answer voting: the shared last step of Borda, inverse-entropy, RPC and
reward-weighted selection (each answer group sums its members' weights)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ttc.candidate import Candidate
from ttc.component import Selection


def weighted_vote(
    pool: Sequence[Candidate],
    groups: Sequence[int | None],
    weights: Sequence[float],
    score_name: str,
    details: Mapping[str, Any] | None = None,
) -> Selection:
    """The answer group with the largest total weight wins; ties go to the group seen first.

    Within the winning group the candidate with the largest own weight represents it (ties:
    lowest index). A candidate's score is its group's total; answerless candidates get 0 and
    rank last. With every answer missing the selection has no winner.
    """
    totals: dict[int, float] = {}
    for group, weight in zip(groups, weights, strict=True):
        if group is not None:
            totals[group] = totals.get(group, 0.0) + weight
    scores = {c.id: totals[g] if g is not None else 0.0
              for c, g in zip(pool, groups, strict=True)}

    def rank(i: int) -> tuple:
        group = groups[i]
        if group is None:
            return (1, 0.0, 0, -weights[i], i)
        return (0, -totals[group], group, -weights[i], i)

    order = sorted(range(len(pool)), key=rank)
    extra = {"votes": {pool[groups.index(g)].answer: v for g, v in totals.items()},
             **(details or {})}
    if not totals:
        return Selection(winner=None, answer=None, scores=scores, score_name=score_name,
                         order=tuple(pool[i].id for i in order), details=extra)
    best = pool[order[0]]
    return Selection(winner=best.id, answer=best.answer, scores=scores, score_name=score_name,
                     order=tuple(pool[i].id for i in order), details=extra)


def argmax_selection(pool: Sequence[Candidate], values: Sequence[float], score_name: str,
                     details: Mapping[str, Any] | None = None) -> Selection:
    """The candidate with the highest value wins; ties go to the lowest index."""
    values = [float("-inf") if v != v else v for v in values]  # NaN ranks last
    order = sorted(range(len(pool)), key=lambda i: (-values[i], i))
    scores = {c.id: float(v) for c, v in zip(pool, values, strict=True)}
    if not pool:
        return Selection(winner=None, answer=None, score_name=score_name)
    best = pool[order[0]]
    return Selection(winner=best.id, answer=best.answer, scores=scores, score_name=score_name,
                     order=tuple(pool[i].id for i in order), details=dict(details or {}))
