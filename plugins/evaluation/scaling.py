"""Scaling curves from one stored eval: accuracy at every N ≤ N_max for the selectors you
name, by re-selecting subsets of each item's stored candidates. No model call is made: a
selector that would call the model (a judge, a re-forward) is reported, not run.

For each item and N the subsets are every N-combination of its candidates when there are at
most ``subsets`` of them (exact), else ``subsets`` random ones (seeded). The curve's value is
the mean over items and subsets; its spread is the standard deviation of the accuracy over
``subsets`` replicate evals, replicate r taking subset r of every item. The oracle curve
(some candidate in the subset is right) shows how much a perfect selector would gain.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from ttc.candidate import Candidate, Origin, TokenStats
from ttc.context import ComponentContext, RunContext
from ttc.errors import UsageError
from ttc.events import RunInfo
from ttc.grading import grading_format
from ttc.pipeline import Pipeline
from ttc.plugins.evaluation.selector_spec import SelectorSpec, parse_selector
from ttc.plugins.evaluation.summary import selection_pool
from ttc.recipe.plan import Limits
from ttc.runtime import RequestError
from ttc.state import Task
from ttc.storage.evals import EvalStore
from ttc.storage.models import CandidateRow
from ttc.storage.store import RunStore
from ttc.task_format import TaskFormat

ORACLE = "oracle"


@dataclass(frozen=True, slots=True)
class CurvePoint:
    n: int
    accuracy: float
    spread: float
    """Standard deviation over replicate evals (see the module doc)."""
    tokens_per_item: float
    """Prompt and completion tokens an eval at this N would spend per item."""
    subsets: int
    """Distinct subsets evaluated per item (at most)."""


@dataclass(frozen=True, slots=True)
class Curve:
    selector: str
    points: tuple[CurvePoint, ...]
    error: str | None = None
    """Why the selector could not re-select (e.g. it calls the model)."""


@dataclass(frozen=True, slots=True)
class ScalingCurve:
    eval_id: str
    recipe: str
    dataset: str
    items: int
    n_max: int
    curves: tuple[Curve, ...]
    """One per selector, then the oracle."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def curve(self, selector: str) -> Curve:
        for curve in self.curves:
            if curve.selector == selector:
                return curve
        raise KeyError(selector)


class _Memo(TaskFormat):
    """The item's format with ``key`` and ``equivalent`` remembered: re-selecting subsets
    compares the same few answers hundreds of times (math equivalence can take
    milliseconds). ``groups`` is the base class's, on the remembered answers, so
    selections are exactly the format's."""

    def __init__(self, inner: TaskFormat) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.extracts_answers = inner.extracts_answers  # type: ignore[misc]
        self._keys: dict[str, Any] = {}
        self._equal: dict[tuple[str, str], bool] = {}

    def extract(self, text: str) -> str | None:
        return self.inner.extract(text)

    def key(self, answer: str) -> Any:
        found = self._keys.get(answer)
        if found is None:
            found = self._keys[answer] = self.inner.key(answer)
        return found

    def equivalent(self, a: str, b: str) -> bool:
        found = self._equal.get((a, b))
        if found is None:
            found = self._equal[(a, b)] = self.inner.equivalent(a, b)
        return found

    def read_reference(self, reference: str) -> str | None:
        return self.inner.read_reference(reference)

    def grade(self, answer: str | None, task: Task) -> Any:
        return self.inner.grade(answer, task)


class _NoModelCalls:
    """Stands in for every runtime while re-selecting: a selector that calls the model is
    told so instead of reaching one."""

    name = "stored"
    model = "stored"

    def __getattr__(self, attribute: str) -> Any:
        raise RequestError("scaling curves re-select stored candidates and make no model "
                           f"calls (the selector needs the runtime's {attribute!r})")

    async def generate(self, request: Any) -> Any:
        raise RequestError("scaling curves make no model calls")

    async def score(self, requests: Any) -> Any:
        raise RequestError("scaling curves make no model calls")


@dataclass
class _Item:
    task: Task
    pool: list[Candidate]
    fmt: TaskFormat
    fixed_tokens: float
    """The run's tokens that do not grow with N (prompts, other stages)."""
    correct: list[bool]
    """Per candidate: is its own answer right."""


def scaling_curve(store: RunStore | str, eval_id: str, selectors: Sequence[str], *,
                  ns: Sequence[int] | None = None, subsets: int = 64, seed: int = 0,
                  pipeline: Pipeline | None = None) -> ScalingCurve:
    """The curves of ``selectors`` (specs, see ``parse_selector``) for a stored eval."""
    if subsets < 1:
        raise UsageError("--subsets must be at least 1")
    run_store = RunStore.open(store) if isinstance(store, str) else store
    evals = EvalStore(run_store)
    row = evals.get(eval_id)
    pipeline = pipeline or Pipeline.from_text(row.recipe_text, f"<{row.id}>", store=False)
    registry = pipeline.host.registry
    specs = [parse_selector(s, registry) for s in selectors]
    items = _load_items(evals, row, pipeline)
    if not items:
        raise UsageError(f"eval {row.id} has no finished, graded items with candidates")
    n_max = max(len(item.pool) for item in items)
    if ns is None:
        ns = sorted({*(2**k for k in range(int(math.log2(n_max)) + 1)), n_max})
    bad = [n for n in ns if n < 1 or n > n_max]
    if bad:
        raise UsageError(f"N must be between 1 and {n_max} (the candidates per item): {bad}")
    draws = {n: [_subsets(len(item.pool), n, subsets, _rng(seed, i, n))
                 for i, item in enumerate(items)] for n in ns}
    curves = [asyncio.run(_selector_curve(spec, items, draws, subsets)) for spec in specs]
    curves.append(_oracle_curve(items, draws, subsets))
    return ScalingCurve(row.id, row.recipe_name, row.dataset, len(items), n_max, tuple(curves))


def _rng(seed: int, item: int, n: int) -> np.random.Generator:
    """One stream per (seed, item, N): a curve does not change when items are added."""
    return np.random.default_rng([seed, item, n])


def _subsets(size: int, n: int, limit: int, rng: np.random.Generator
             ) -> list[tuple[int, ...]]:
    n = min(n, size)
    if math.comb(size, n) <= limit:
        return list(itertools.combinations(range(size), n))
    # ``limit`` uniform draws (repeats allowed, like the replicate evals they stand for),
    # each the first n of a random permutation, in pool order
    picks = np.sort(np.argsort(rng.random((limit, size)), axis=1)[:, :n], axis=1)
    return [tuple(int(i) for i in row) for row in picks]


def _load_items(evals: EvalStore, row: Any, pipeline: Pipeline) -> list[_Item]:
    from ttc.plugins.evaluation.runner import DONE

    done = [r for r in row.item_rows if r.status in DONE and r.correct is not None]
    run_ids = [r.run_id for r in done]
    runs = evals.runs(run_ids)
    stages = evals.stages(run_ids)
    candidates = evals.candidates(run_ids)
    items = []
    for item_row in done:
        run = runs[item_row.run_id]
        task = Task.of({k: v for k, v in run.task.items() if v not in (None, [], {})})
        if task.tests:
            continue  # graded by running tests: not re-gradable per candidate here
        fmt = _Memo(grading_format(task, pipeline.plan.task_format, pipeline.host.registry))
        final_score = (run.selection or {}).get("score_name") if run.selection else None
        pool = [_candidate(c, final_score) for c in
                selection_pool(stages[item_row.run_id], candidates[item_row.run_id])]
        if not pool:
            continue
        completion = sum(c.tokens.count if c.tokens else 0 for c in pool)
        fixed = (run.prompt_tokens or 0) + (run.completion_tokens or 0) - completion
        items.append(_Item(task, pool, fmt, float(fixed),
                           [bool(fmt.grade(c.answer, task).correct) for c in pool]))
    return items


def _candidate(row: CandidateRow, drop_score: str | None) -> Candidate:
    """A stored candidate, without the score the recorded final selection wrote (it was
    computed on the whole pool, and would leak into a re-selection of a subset)."""
    scores = {k: v for k, v in (row.scores or {}).items() if k != drop_score}
    return Candidate(
        id=row.id, text=row.text, answer=row.answer, parents=tuple(row.parents or ()),
        origin=Origin(**(row.origin or {})),
        tokens=None if row.tokens is None else TokenStats.from_dict(row.tokens),
        scores=MappingProxyType(scores), feedback=MappingProxyType(dict(row.feedback or {})),
        finish_reason=row.finish_reason,
        artifacts=MappingProxyType(dict(row.artifacts or {})))


async def _selector_curve(spec: SelectorSpec, items: list[_Item],
                          draws: dict[int, list[list[tuple[int, ...]]]], replicates: int
                          ) -> Curve:
    points = []
    for n, per_item in draws.items():
        sums = [0.0] * replicates
        total_mean = 0.0
        tokens = 0.0
        for item, picks in zip(items, per_item, strict=True):
            ctx = _context(item)
            cache: dict[tuple[int, ...], bool] = {}
            graded: dict[str | None, bool] = {}
            for pick in set(picks):
                pool = tuple(item.pool[i] for i in pick)
                try:
                    selection = await spec.selector.select(pool, ctx)
                except Exception as exc:  # the selector cannot work from stored data
                    return Curve(spec.label, (), f"{type(exc).__name__}: {exc}")
                answer = selection.answer
                if answer not in graded:
                    graded[answer] = bool(item.fmt.grade(answer, item.task).correct)
                cache[pick] = graded[answer]
            distinct = sorted(cache)
            total_mean += sum(cache[p] for p in distinct) / len(distinct)
            for r in range(replicates):
                sums[r] += cache[picks[r % len(picks)]]
            tokens += _tokens(item, distinct)
        points.append(_point(n, total_mean, sums, tokens, len(items),
                             max(len(set(p)) for p in per_item)))
    return Curve(spec.label, tuple(points))


def _oracle_curve(items: list[_Item], draws: dict[int, list[list[tuple[int, ...]]]],
                  replicates: int) -> Curve:
    points = []
    for n, per_item in draws.items():
        sums = [0.0] * replicates
        total_mean = 0.0
        tokens = 0.0
        for item, picks in zip(items, per_item, strict=True):
            hit = {p: any(item.correct[i] for i in p) for p in set(picks)}
            distinct = sorted(hit)
            total_mean += sum(hit[p] for p in distinct) / len(distinct)
            for r in range(replicates):
                sums[r] += hit[picks[r % len(picks)]]
            tokens += _tokens(item, distinct)
        points.append(_point(n, total_mean, sums, tokens, len(items),
                             max(len(set(p)) for p in per_item)))
    return Curve(ORACLE, tuple(points))


def _point(n: int, total_mean: float, sums: list[float], tokens: float, items: int,
           subsets: int) -> CurvePoint:
    replicate = [s / items for s in sums]
    spread = statistics.pstdev(replicate) if len(replicate) > 1 else 0.0
    return CurvePoint(n, total_mean / items, spread, tokens / items, subsets)


def _tokens(item: _Item, subsets: list[tuple[int, ...]]) -> float:
    """Mean tokens over the subsets: the fixed part plus the subset's completions."""
    counts = [c.tokens.count if c.tokens else 0 for c in item.pool]
    return item.fixed_tokens + sum(sum(counts[i] for i in p) for p in subsets) / len(subsets)


def _context(item: _Item) -> ComponentContext:
    run = RunInfo(run_id="scaling", recipe_name="", recipe_text="", recipe_hash="",
                  task=item.task, seed=0, store=False)
    ctx = RunContext(run=run, runtimes=_AnyAlias(), task_format=item.fmt, hook=_NoHooks(),
                     limits=Limits(), semaphore=asyncio.Semaphore(1))
    return ComponentContext(ctx, "select", "scaling", 0, "stored")


class _NoHooks:
    """No plugin observes a re-selection, and nothing is served from a recording."""

    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: None


class _AnyAlias(dict):
    """Every model alias maps to the runtime that refuses calls."""

    def __missing__(self, key: str) -> _NoModelCalls:
        return _NoModelCalls()
