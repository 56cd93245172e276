"""``evaluate``: run recipes over a data set, every item a recorded run, grade each answer and
summarise, resuming an eval that stopped instead of repeating its model calls.

An eval is one (recipe, data set, items, seed). Its item rows and run ids are written before
the first model call, so whatever kills it, running it again finds it by its key and goes on:
finished items are read back, interrupted runs are resumed from their recorded calls, the
rest are run.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttc.background_loop import run_sync
from ttc.dataset import Dataset, DatasetError, Item, dataset_hash, read_jsonl
from ttc.errors import UsageError
from ttc.grading import grade, grading_format
from ttc.pipeline import Pipeline
from ttc.plugin_system import PluginHost, default_host
from ttc.plugins.evaluation.results import EvalResult, EvalSummary, ItemResult
from ttc.plugins.evaluation.summary import summarise
from ttc.recipe.compile import recipe_hash
from ttc.registry import did_you_mean
from ttc.state import Task
from ttc.storage.evals import EvalStore, NewEval
from ttc.storage.models import EvalItemRow, EvalRow
from ttc.storage.store import RunStore

logger = logging.getLogger(__name__)

DONE = frozenset({"succeeded", "budget_exhausted"})
"""Run statuses that finish an item; a failed item is tried again when the eval resumes."""

OnItem = Callable[[ItemResult], None]


@dataclass(frozen=True, slots=True)
class LoadedDataset:
    name: str
    items: tuple[Item, ...]
    hash: str


def load_dataset(dataset: str | Path | Sequence[Item], *, limit: int | None = None,
                 host: PluginHost | None = None) -> LoadedDataset:
    """A registered data set by name, a JSONL file, or items; the first ``limit`` items."""
    host = host or default_host()
    if isinstance(dataset, (str, Path)):
        name = str(dataset)
        registered = host.registry.datasets.get(name)
        if registered is not None:
            entry: Dataset = registered.obj
            items = entry.load()
        elif name.endswith(".jsonl") or Path(name).exists():
            items = read_jsonl(name)
        else:
            hint = did_you_mean(name, host.registry.datasets)
            raise DatasetError(f"no data set {name!r}; {hint or 'give a registered name'} "
                               "(`ttc datasets` lists them) or a .jsonl file")
    else:
        name, items = "<items>", list(dataset)
    if limit is not None:
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        items = items[:limit]
    return LoadedDataset(name, tuple(items), dataset_hash(items))


def check_references(pipeline: Pipeline, dataset: LoadedDataset) -> None:
    """Every item can be graded in its format, before any model call."""
    registry = pipeline.host.registry
    problems = []
    for item in dataset.items:
        try:
            fmt = grading_format(item.task, pipeline.plan.task_format, registry)
        except UsageError as exc:
            problems.append(f"{item.where}: {exc}")
            continue
        reference = item.task.reference
        if reference is not None and fmt.read_reference(reference) is None:
            problems.append(
                f"{item.where}: the reference {reference!r} is not a {fmt.name!r} answer; "
                f"fix: write it as the answer itself (e.g. \"42\"), or set \"task\" to the "
                "format it is written in")
    if problems:
        more = f"\n(and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise DatasetError("\n".join(problems[:5]) + more)
    if not any(item.task.reference is not None or item.task.tests for item in dataset.items):
        logger.warning("%s: no item has a reference or tests; nothing can be graded",
                       dataset.name)


def open_store(store: Any) -> RunStore:
    if isinstance(store, RunStore):
        return store
    if store is True or store is None:
        return RunStore.open(None)
    if isinstance(store, str):
        return RunStore.open(store)
    raise UsageError(f"an eval is recorded: store={store!r} must be a URL, a RunStore or True")


def eval_key(plan_hash: str, data: LoadedDataset, seed: int) -> str:
    parts = f"{plan_hash}|{data.hash}|{len(data.items)}|{seed}".encode()
    return hashlib.blake2b(parts, digest_size=16).hexdigest()


async def aevaluate(
    recipes: Sequence[str | Path | Pipeline],
    dataset: str | Path | Sequence[Item],
    *,
    store: Any = True,
    limit: int | None = None,
    concurrency: int = 4,
    seed: int | None = None,
    seeds: int = 1,
    fresh: bool = False,
    host: PluginHost | None = None,
    on_item: OnItem | None = None,
    on_eval: Callable[[str, int, int], None] | None = None,
) -> list[EvalResult]:
    """Evaluate each recipe on the data set with ``seeds`` seeds from ``seed`` (default: the
    recipe's). Results in the order recipe × seed. ``on_eval(eval_id, items, done)`` is
    called as an eval starts (``done`` items already finished), ``on_item`` per item."""
    host = host or default_host()
    if seeds < 1:
        raise UsageError("--seeds must be at least 1")
    if concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    run_store = open_store(store)
    data = load_dataset(dataset, limit=limit, host=host)
    pipelines = [recipe if isinstance(recipe, Pipeline)
                 else Pipeline.from_yaml(recipe, host=host) for recipe in recipes]
    for pipeline in pipelines:  # every problem before any model call
        check_references(pipeline, data)
    results = []
    for pipeline in pipelines:
        recorded = pipeline.with_store(run_store)
        first = pipeline.plan.seed if seed is None else seed
        for offset in range(seeds):
            job = EvalJob(recorded, data, run_store, first + offset, concurrency, fresh)
            results.append(await job.run(on_item, on_eval))
    return results


def evaluate(recipes: Sequence[str | Path | Pipeline], dataset: str | Path | Sequence[Item],
             **kwargs: Any) -> list[EvalResult]:
    """The synchronous ``aevaluate``."""
    return run_sync(aevaluate(recipes, dataset, **kwargs))


class EvalJob:
    """One eval: create or find its rows, run what is not done, grade, summarise."""

    def __init__(self, pipeline: Pipeline, data: LoadedDataset, store: RunStore, seed: int,
                 concurrency: int, fresh: bool) -> None:
        self.pipeline = pipeline
        self.data = data
        self.store = store
        self.evals = EvalStore(store)
        self.seed = seed
        self.concurrency = concurrency
        self.fresh = fresh

    async def run(self, on_item: OnItem | None,
                  on_eval: Callable[[str, int, int], None] | None) -> EvalResult:
        started = time.perf_counter()
        eval_id = self._find_or_create()
        row = self.evals.get(eval_id)
        rows = {r.seq: r for r in row.item_rows}
        done = sum(1 for r in rows.values() if r.status in DONE)
        if on_eval is not None:
            on_eval(eval_id, len(rows), done)
        if row.status == "finished":
            return self._result(row, rows)
        runs = self.evals.runs(r.run_id for r in rows.values() if r.status not in DONE)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(seq: int, item: Item) -> None:
            item_row = rows[seq]
            if item_row.status in DONE:
                return
            async with gate:
                result = await self._answer(item, item_row, runs.get(item_row.run_id))
            rows[seq] = self._grade(eval_id, seq, item, result)
            if on_item is not None:
                on_item(self._item_result(rows[seq], item.task))

        await asyncio.gather(*(one(seq, item) for seq, item in enumerate(self.data.items)))
        complete = all(r.status in DONE for r in rows.values())
        summary = summarise(self.evals, row, list(rows.values()), self.data.items,
                            self.pipeline, time.perf_counter() - started + (row.wall_time or 0))
        self.evals.finish(eval_id, "finished" if complete else "incomplete", summary.to_dict(),
                          time.perf_counter() - started)
        return EvalResult(summary, tuple(self._item_result(rows[seq], item.task)
                                         for seq, item in enumerate(self.data.items)))

    def _find_or_create(self) -> str:
        plan = self.pipeline.plan
        key = eval_key(recipe_hash(plan.text), self.data, self.seed)
        found = None if self.fresh else self.evals.find(key)
        if found is not None:
            if found.status == "running" and found.pid and found.pid != os.getpid() \
                    and found.host == socket.gethostname() and _alive(found.pid):
                raise UsageError(f"eval {found.id} is running in process {found.pid}; wait "
                                 "for it, or stop it and run this again to resume it")
            if found.status != "finished":
                self.evals.reopen(found.id)
            return found.id
        return self.evals.create(NewEval(
            name=f"{plan.name} on {self.data.name}", recipe_name=plan.name,
            recipe_text=plan.text, recipe_hash=recipe_hash(plan.text),
            recipe_source=plan.source, dataset=self.data.name, dataset_hash=self.data.hash,
            seed=self.seed, key=key, options={"concurrency": self.concurrency},
            items=[(str(item.task.id), item.task.reference) for item in self.data.items]))

    async def _answer(self, item: Item, item_row: EvalItemRow, run: Any) -> _Answered:
        """Run the item, or resume its interrupted run, or read back its finished one."""
        from ttc.storage.replay import aresume

        started = time.perf_counter()
        if run is not None and run.status in DONE:  # killed after the run, before grading
            return _Answered(run.status, run.answer, run.error, _tokens(run), 0.0)
        if run is not None:
            report = await aresume(self.store, run.id, recipe_text=self.pipeline.plan.text,
                                   force=True, host=self.pipeline.host,
                                   runtimes=await self.pipeline.open_runtimes())
            result = report.result
        else:
            result = await self.pipeline.arun(item.task, seed=self.seed, run_id=item_row.run_id)
        total = result.ledger.total
        tokens = (total.prompt_tokens, total.cached_tokens, total.completion_tokens, total.calls)
        return _Answered(result.status, result.answer, result.error, tokens,
                         time.perf_counter() - started)

    def _grade(self, eval_id: str, seq: int, item: Item, answered: _Answered) -> EvalItemRow:
        task = item.task
        if answered.status in DONE:
            outcome = grade(answered.answer, task, self.pipeline.plan.task_format,
                            self.pipeline.host.registry)
            correct, detail = outcome.correct, outcome.detail
        else:
            correct = False if task.reference is not None or task.tests else None
            detail = f"the run {answered.status}: {answered.error or ''}".strip()
        prompt, cached, completion, calls = answered.tokens
        values = {"status": answered.status, "answer": answered.answer, "correct": correct,
                  "prompt_tokens": prompt, "cached_tokens": cached,
                  "completion_tokens": completion, "calls": calls,
                  "wall_time": answered.wall_time,
                  "grading": {"detail": detail} if detail else None}
        self.evals.record_item(eval_id, seq, **values)
        row = EvalItemRow(eval_id=eval_id, seq=seq, item_id=str(task.id),
                          run_id=_run_id(eval_id, seq), reference=task.reference, **values)
        return row

    def _result(self, row: EvalRow, rows: dict[int, EvalItemRow]) -> EvalResult:
        summary = EvalSummary.from_dict(row.summary)
        return EvalResult(summary, tuple(self._item_result(rows[seq], item.task)
                                         for seq, item in enumerate(self.data.items)))

    @staticmethod
    def _item_result(row: EvalItemRow, task: Task) -> ItemResult:
        detail = (row.grading or {}).get("detail", "") if isinstance(row.grading, dict) else ""
        return ItemResult(
            eval_id=row.eval_id, seq=row.seq, id=row.item_id, input=task.question,
            reference=row.reference, answer=row.answer, correct=row.correct,
            run_id=row.run_id, status=row.status, prompt_tokens=row.prompt_tokens or 0,
            cached_tokens=row.cached_tokens or 0, completion_tokens=row.completion_tokens or 0,
            calls=row.calls or 0, wall_time=row.wall_time or 0.0, detail=detail)


@dataclass(frozen=True, slots=True)
class _Answered:
    status: str
    answer: str | None
    error: str | None
    tokens: tuple[int, int, int, int]
    """prompt, cached, completion tokens and calls."""
    wall_time: float


def _tokens(run: Any) -> tuple[int, int, int, int]:
    return (run.prompt_tokens or 0, run.cached_tokens or 0, run.completion_tokens or 0,
            run.calls or 0)


def _run_id(eval_id: str, seq: int) -> str:
    from ttc.storage.evals import item_run_id

    return item_run_id(eval_id, seq)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
