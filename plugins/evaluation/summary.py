"""An eval's summary, computed from what the store holds (so a resumed eval's summary is
the same as an uninterrupted one's): accuracy with its interval, cost per item, and how well
each candidate score separates right from wrong candidates."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ttc.dataset import Item
from ttc.grading import grading_format
from ttc.pipeline import Pipeline
from ttc.plugins.evaluation.results import EvalSummary, ScoreQuality
from ttc.plugins.evaluation.statistics import auroc, wilson
from ttc.storage.evals import EvalStore
from ttc.storage.models import CandidateRow, EvalItemRow, EvalRow, StageRow

SELECT_STAGE = "select"


def summarise(evals: EvalStore, row: EvalRow, items: Sequence[EvalItemRow],
              tasks: Sequence[Item], pipeline: Pipeline, wall_time: float) -> EvalSummary:
    graded = [r for r in items if r.correct is not None]
    correct = sum(1 for r in graded if r.correct)
    count = max(len(items), 1)
    prompt = sum(r.prompt_tokens or 0 for r in items)
    cached = sum(r.cached_tokens or 0 for r in items)
    labelled = candidate_labels(evals, items, tasks, pipeline)
    oracle_items = [any(label for _, label in pool) for pool in labelled.values() if pool]
    return EvalSummary(
        eval_id=row.id, recipe=row.recipe_name, dataset=row.dataset, seed=row.seed,
        items=len(items), graded=len(graded), correct=correct,
        accuracy=correct / len(graded) if graded else 0.0,
        interval=wilson(correct, len(graded)),
        prompt_tokens_per_item=prompt / count,
        completion_tokens_per_item=sum(r.completion_tokens or 0 for r in items) / count,
        cached_tokens_per_item=cached / count,
        calls_per_item=sum(r.calls or 0 for r in items) / count,
        wall_time=wall_time,
        cache_hit_ratio=cached / prompt if prompt else 0.0,
        failed=sum(1 for r in items if r.status == "failed"),
        oracle=sum(oracle_items) / len(oracle_items) if oracle_items else None,
        scores=score_quality(labelled),
        status="finished" if all(r.status in {"succeeded", "budget_exhausted"} for r in items)
        else "incomplete",
    )


def selection_pool(stages: Sequence[StageRow], candidates: Sequence[CandidateRow]
                   ) -> list[CandidateRow]:
    """The candidates the final selection chose among: the pool of the last stage before
    ``select`` (the final pool when the recipe does not select)."""
    before = [s for s in stages if s.name != SELECT_STAGE and s.status == "succeeded"]
    if not before:
        return []
    ids = list(before[-1].pool or ())
    by_id = {c.id: c for c in candidates}
    return [by_id[cid] for cid in ids if cid in by_id]


def candidate_labels(evals: EvalStore, items: Sequence[EvalItemRow], tasks: Sequence[Item],
                     pipeline: Pipeline) -> dict[str, list[tuple[CandidateRow, bool]]]:
    """Per item's run: each candidate of its selection pool with whether its own answer is
    right (items graded by a reference only: grading code by tests per candidate would run
    the sandbox N times per item)."""
    gradable = {r.run_id: tasks[r.seq].task for r in items
                if r.status in {"succeeded", "budget_exhausted"}
                and tasks[r.seq].task.reference is not None and not tasks[r.seq].task.tests}
    stages = evals.stages(gradable)
    candidates = evals.candidates(gradable)
    registry = pipeline.host.registry
    out: dict[str, list[tuple[CandidateRow, bool]]] = {}
    for run_id, task in gradable.items():
        fmt = grading_format(task, pipeline.plan.task_format, registry)
        pool = selection_pool(stages.get(run_id, []), candidates.get(run_id, []))
        out[run_id] = [(c, bool(fmt.grade(c.answer, task).correct)) for c in pool]
    return out


def score_quality(labelled: dict[str, list[tuple[CandidateRow, bool]]]
                  ) -> tuple[ScoreQuality, ...]:
    pooled: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    within: dict[str, list[float]] = defaultdict(list)
    for pool in labelled.values():
        per_item: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        for candidate, label in pool:
            for name, value in (candidate.scores or {}).items():
                if _usable(value):
                    per_item[name].append((float(value), label))
        for name, pairs in per_item.items():
            pooled[name].extend(pairs)
            area = auroc([s for s, _ in pairs], [y for _, y in pairs])
            if area is not None:
                within[name].append(area)
    out = []
    for name in sorted(pooled):
        pairs = pooled[name]
        if len({s for s, _ in pairs}) < 2:
            continue  # a constant score separates nothing
        areas = within.get(name, [])
        out.append(ScoreQuality(
            name=name, candidates=len(pairs),
            auroc=auroc([s for s, _ in pairs], [y for _, y in pairs]),
            auroc_within=sum(areas) / len(areas) if areas else None,
            items_with_both=len(areas)))
    return tuple(out)


def _usable(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(
        value)
