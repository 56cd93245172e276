"""Runs a plan: stages in order, the components of a stage concurrently, repeat blocks, and
the final selection; fires lifecycle hooks and keeps the ledger."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ttc.candidate import Candidate
from ttc.component import Effect
from ttc.context import ComponentContext, RunContext
from ttc.errors import BudgetExhausted, RecordingFailed
from ttc.events import RunInfo, StageReport
from ttc.recipe.plan import (
    SELECT_STAGE,
    Plan,
    RepeatPlan,
    StagePlan,
    StepPlan,
    StopCondition,
)
from ttc.result import RunResult
from ttc.runtime import Runtime
from ttc.state import StageUsage, State

logger = logging.getLogger(__name__)


class StageFailed(Exception):
    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"stage {stage}: {error}")
        self.stage = stage
        self.error = error


class Executor:
    def __init__(self, plan: Plan, hook: Any) -> None:
        self.plan = plan
        self.hook = hook

    async def run(
        self,
        run: RunInfo,
        runtimes: Mapping[str, Runtime],
        semaphore: asyncio.Semaphore,
    ) -> RunResult:
        ctx = RunContext(
            run=run,
            runtimes=runtimes,
            task_format=self.plan.task_format,
            hook=self.hook,
            limits=self.plan.limits,
            semaphore=semaphore,
        )
        state = State(task=run.task)
        status, error = "succeeded", None
        stage_names: list[str] = []
        self._last = state
        try:
            ctx.fire("ttc_run_started")
        except RecordingFailed as exc:  # nothing ran: do not spend a model call
            return self._result(run, ctx, state, "failed", str(exc), stage_names)
        try:
            state = await self._run_all(self.plan.stages, state, ctx, 0, stage_names)
        except RecordingFailed as exc:
            state, status, error = self._last, "failed", str(exc)
        except BudgetExhausted as exc:
            state = self._last  # the pool of the last stage that finished
            status, error = "budget_exhausted", str(exc)
        except StageFailed as exc:
            state, status, error = self._last, "failed", str(exc)
        except Exception as exc:  # a component bug: report it as a failed run, keep the rest
            logger.exception("run %s failed", run.run_id)
            state, status, error = self._last, "failed", f"{type(exc).__name__}: {exc}"
        if status != "failed" and self.plan.select is not None and state.pool:
            select = self.plan.select
            if status == "succeeded" or not select.component.uses_model:
                try:
                    state = await self._stage(StagePlan(SELECT_STAGE, (select,)), state, ctx,
                                              0, stage_names)
                except BudgetExhausted as exc:
                    status, error = "budget_exhausted", str(exc)
                except (StageFailed, RecordingFailed) as exc:
                    status, error = "failed", str(exc)
        result = self._result(run, ctx, state, status, error, stage_names)
        try:
            ctx.fire("ttc_run_finished", result=result)
        except RecordingFailed as exc:
            result = self._result(run, ctx, state, "failed", str(exc), stage_names)
        return result

    async def _run_all(self, stages: tuple, state: State, ctx: RunContext, round_: int,
                       names: list[str]) -> State:
        for stage in stages:
            if isinstance(stage, RepeatPlan):
                state = await self._repeat(stage, state, ctx, names)
            else:
                state = await self._stage(stage, state, ctx, round_, names)
        return state

    async def _repeat(self, block: RepeatPlan, state: State, ctx: RunContext,
                      names: list[str]) -> State:
        for round_ in range(1, block.max_rounds + 1):
            before = state
            state = await self._run_all(block.body, state.with_done(False), ctx, round_, names)
            if state.done or _satisfied(block.until, before, state, ctx):
                break
        return state.with_done(False)

    async def _stage(self, stage: StagePlan, state: State, ctx: RunContext, round_: int,
                     names: list[str]) -> State:
        started = time.perf_counter()
        usage = ctx.ledger.meter(stage.name, round_)  # this round's: a repeat has one each
        contexts = [
            ComponentContext(ctx, stage.name, step.component.name, step.index, step.model, round_)
            for step in stage.steps
        ]
        try:
            if len(stage.steps) == 1:
                outputs = [await _run_step(stage.steps[0], state, contexts[0])]
            else:
                async with asyncio.TaskGroup() as group:
                    tasks = [
                        group.create_task(_run_step(step, state, c))
                        for step, c in zip(stage.steps, contexts, strict=True)
                    ]
                outputs = [t.result() for t in tasks]
        except* BudgetExhausted as group:
            usage.wall_time += time.perf_counter() - started
            self._report(stage, ctx, round_, state.pool, usage, started, "budget_exhausted",
                         str(group.exceptions[0]), names)
            raise group.exceptions[0] from None
        except* Exception as group:
            usage.wall_time += time.perf_counter() - started
            first = group.exceptions[0]
            if not isinstance(first, StageFailed):
                logger.debug("stage %s failed", stage.name, exc_info=first)
            self._report(stage, ctx, round_, state.pool, usage, started, "failed", str(first),
                         names)
            raise StageFailed(stage.name, first) from first
        new_state = merge(stage.steps, state, outputs)
        for candidate in new_state.pool:
            ctx.candidates[candidate.id] = candidate
        usage.wall_time += time.perf_counter() - started
        self._report(stage, ctx, round_, new_state.pool, usage, started, "succeeded", None, names)
        self._last = new_state
        return new_state

    def _report(self, stage: StagePlan, ctx: RunContext, round_: int, pool: tuple,
                usage: StageUsage, started: float, status: str, error: str | None,
                names: list[str]) -> None:
        if stage.name not in names:
            names.append(stage.name)
        ctx.fire(
            "ttc_stage_finished",
            stage=StageReport(
                name=stage.name,
                index=len(names) - 1,
                round=round_,
                components=tuple(s.component.name for s in stage.steps),
                pool=pool,
                usage=usage,
                wall_time=time.perf_counter() - started,
                status=status,
                error=error,
                selection=ctx.selection if stage.name == SELECT_STAGE else None,
            ),
        )

    def _result(self, run: RunInfo, ctx: RunContext, state: State, status: str,
                error: str | None, names: list[str]) -> RunResult:
        selection = ctx.selection if self.plan.select is not None else None
        winner: Candidate | None = None
        answer: str | None = None
        if selection is not None:  # a selector that found no answer means "no answer"
            if selection.winner is not None:
                winner = ctx.candidates.get(selection.winner) or state.by_id().get(
                    selection.winner)
            answer = selection.answer
        elif state.pool and self.plan.select is None:
            winner = state.pool[0]  # a recipe without a final selection: its first candidate
        if answer is None and winner is not None:
            answer = winner.answer
            if answer is None and not self.plan.task_format.extracts_answers:
                answer = winner.text  # no answer format: the text is the answer
        if status == "failed":
            answer, winner = None, None  # a failed run never reports an answer or a winner
        return RunResult(
            run_id=run.run_id,
            task=run.task,
            answer=answer,
            winner=winner,
            pool=state.pool,
            candidates=dict(ctx.candidates),
            ledger=ctx.ledger,
            status=status,
            error=error,
            selection=selection,
            seed=run.seed,
            recipe_name=self.plan.name,
            stages=tuple(names),
            artifacts=dict(state.artifacts),
        )


async def _run_step(step: StepPlan, state: State, ctx: ComponentContext) -> State:
    result = await step.component.run(state, ctx)
    if not isinstance(result, State):
        raise TypeError(
            f"component {step.component.name!r} returned {type(result).__name__}, not a State"
        )
    return result


def merge(steps: tuple[StepPlan, ...], before: State, outputs: list[State]) -> State:
    """Join the outputs of one stage's components (see ``Effect``)."""
    if len(outputs) == 1:
        return outputs[0]
    effect = steps[0].component.effect
    artifacts: dict[str, Any] = dict(before.artifacts)
    for output in outputs:
        artifacts.update(output.artifacts)
    done = any(o.done for o in outputs)
    if effect is Effect.PRODUCES:
        pool = tuple(c for output in outputs for c in output.pool)
    else:
        merged: dict[str, Candidate] = {c.id: c for c in before.pool}
        before_answers = {c.id: c.answer for c in before.pool}  # an annotator may re-read one
        for output in outputs:
            for c in output.pool:
                base = merged.get(c.id)
                if base is None:
                    merged[c.id] = c
                    continue
                merged[c.id] = Candidate(
                    id=base.id, text=base.text,
                    answer=c.answer if c.answer != before_answers.get(c.id) else base.answer,
                    parents=base.parents, origin=base.origin, tokens=base.tokens,
                    scores=MappingProxyType({**base.scores, **c.scores}),
                    feedback=MappingProxyType({**base.feedback, **c.feedback}),
                    finish_reason=base.finish_reason,
                    artifacts=MappingProxyType({**base.artifacts, **c.artifacts}),
                )
        pool = tuple(merged.values())
    return State(task=before.task, pool=pool, artifacts=MappingProxyType(artifacts), done=done)


def _satisfied(until: StopCondition, before: State, after: State, ctx: RunContext) -> bool:
    pool = after.pool
    if not pool:
        return False
    if until.agreement is not None:
        groups = ctx.task_format.groups([c.answer for c in pool])
        counts: dict[int, int] = {}
        for g in groups:
            if g is not None:
                counts[g] = counts.get(g, 0) + 1
        if counts and max(counts.values()) / len(pool) >= until.agreement:
            return True
    if until.score is not None and until.at_least is not None:
        best = max((c.scores.get(until.score, float("-inf")) for c in pool), default=None)
        if best is not None and best >= until.at_least:
            return True
    return bool(until.unchanged and [c.text for c in before.pool] == [c.text for c in pool])
