"""Run a pipeline from the UI and report its progress while it runs.

The pipeline runs on a worker thread (``Pipeline.run``); a plugin of the lifecycle hooks,
registered for that one run id, queues what happens (stages finished, model calls) and the
page's script thread drains the queue into a progress display. Streamlit elements are only
touched from the script thread.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ttc import Pipeline, RunResult, hookimpl
from ttc.pipeline import new_run_id
from ttc.recipe.plan import Plan, RepeatPlan, StagePlan


@dataclass
class Progress:
    """What a running run has done so far."""

    expected_stages: int
    stages: list[str] = field(default_factory=list)
    calls: int = 0
    failed_calls: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def fraction(self) -> float:
        """Stages finished over the most a run of this plan can have (repeat blocks may stop
        early, so the bar can jump to the end)."""
        return min(len(self.stages) / max(self.expected_stages, 1), 1.0)

    def describe(self) -> str:
        last = self.stages[-1] if self.stages else "loading models"
        failed = f", {self.failed_calls} failed" if self.failed_calls else ""
        return (f"{len(self.stages)} stage(s) done (last: {last}); {self.calls} model "
                f"call(s){failed}, {self.completion_tokens} tokens generated, "
                f"{self.cached_tokens} prompt tokens from cache")


def max_stages(plan: Plan) -> int:
    """Stage executions a run of ``plan`` reports at most (repeat rounds and the final
    selection included)."""

    def count(stages: tuple[StagePlan | RepeatPlan, ...]) -> int:
        total = 0
        for stage in stages:
            total += stage.max_rounds * count(stage.body) if isinstance(stage, RepeatPlan) else 1
        return total

    return count(plan.stages) + (1 if plan.select is not None else 0)


class ProgressListener:
    """Queues the lifecycle events of one run (the hooks fire on the pipeline's loop)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

    @hookimpl
    def ttc_stage_finished(self, run: Any, stage: Any) -> None:
        if run.run_id == self.run_id:
            label = stage.name if not stage.round else f"{stage.name} (round {stage.round})"
            self.events.put(("stage", label))

    @hookimpl
    def ttc_model_called(self, run: Any, call: Any) -> None:
        if run.run_id == self.run_id:
            self.events.put(("call", call))

    def drain(self, progress: Progress) -> bool:
        """Apply queued events to ``progress``; True when there were any."""
        changed = False
        while True:
            try:
                kind, value = self.events.get_nowait()
            except queue.Empty:
                return changed
            changed = True
            if kind == "stage":
                progress.stages.append(value)
            else:
                progress.calls += 1
                progress.failed_calls += value.error is not None
                progress.completion_tokens += value.completion_tokens
                progress.cached_tokens += value.cached_tokens


def run_with_progress(pipeline: Pipeline, question: str, *, seed: int | None = None,
                      on_progress: Callable[[Progress], None] = lambda _: None,
                      poll_s: float = 0.2) -> RunResult:
    """Run ``question`` through ``pipeline``, calling ``on_progress`` as the run advances.
    A failed run is a result with ``status == "failed"``, as from ``Pipeline.run``."""
    run_id = new_run_id()
    listener = ProgressListener(run_id)
    progress = Progress(max_stages(pipeline.plan))
    name = pipeline.host.register(listener, name=f"ttc-ui-progress-{run_id}")
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="ttc-ui-run") as pool:
            future = pool.submit(pipeline.run, question, seed=seed, run_id=run_id)
            on_progress(progress)
            while True:
                try:
                    result = future.result(timeout=poll_s)
                except TimeoutError:
                    if listener.drain(progress):
                        on_progress(progress)
                    continue
                listener.drain(progress)
                on_progress(progress)
                return result
    finally:
        pipeline.host.unregister(name)
