"""Lifecycle events → OpenTelemetry spans: one per run, stage, component and model call.

The hooks report a stage when it has finished and a call when it has ended, with their
durations, so spans are made then, with explicit start and end times: a run span (open for
the whole run), each stage's span under it, a span per component of the stage under that,
and each model call (every attempt) under its component. Components of one stage run
concurrently and ttc reports no time per component, so a component's span runs from its
first call's start to its last call's end (the stage's bounds when it made no call); two
entries of one component in a stage (an ensemble) share one span, as their calls carry the
same component name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ttc.calls import ModelCall
from ttc.candidate import Candidate
from ttc.events import RunInfo, StageReport
from ttc.result import RunResult
from ttc.runtime import GenerateRequest


@dataclass
class _Call:
    call: ModelCall
    start_ns: int
    end_ns: int


@dataclass
class _Run:
    span: Any
    calls: dict[str, list[_Call]] = field(default_factory=dict)
    """Calls ended and not yet reported, by stage path."""


class RunTracer:
    """Keeps each open run's span and its stages' calls until the stage is reported."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def run_started(self, run: RunInfo) -> None:
        span = self.tracer.start_span(f"ttc run {run.recipe_name}", attributes={
            "ttc.run_id": run.run_id, "ttc.recipe": run.recipe_name,
            "ttc.recipe_hash": run.recipe_hash, "ttc.seed": run.seed,
            "ttc.task_id": run.task.id or ""})
        with self._lock:
            self._runs[run.run_id] = _Run(span)

    def model_called(self, run: RunInfo, call: ModelCall) -> None:
        end = time.time_ns()
        start = end - int(call.latency * 1e9)
        with self._lock:
            open_run = self._runs.get(run.run_id)
            if open_run is not None:
                open_run.calls.setdefault(call.stage, []).append(_Call(call, start, end))

    def stage_finished(self, run: RunInfo, stage: StageReport) -> None:
        from opentelemetry import trace

        end = time.time_ns()
        start = end - int(stage.wall_time * 1e9)
        with self._lock:
            open_run = self._runs.get(run.run_id)
            calls = open_run.calls.pop(stage.name, []) if open_run is not None else []
        if open_run is None:
            return
        attributes = {
            "ttc.stage": stage.name, "ttc.stage.index": stage.index,
            "ttc.round": stage.round, "ttc.components": list(stage.components),
            "ttc.status": stage.status, "ttc.pool.size": len(stage.pool),
            "ttc.pool.ids": [c.id for c in stage.pool], **_usage(stage.usage),
            **_scores(stage.pool)}
        if stage.selection is not None:
            attributes.update(_selection(stage.selection))
        span = self.tracer.start_span(
            f"ttc stage {stage.name}", context=trace.set_span_in_context(open_run.span),
            start_time=start, attributes=attributes)
        if stage.status != "succeeded":
            span.set_status(trace.Status(trace.StatusCode.ERROR, stage.error or stage.status))
        for name in dict.fromkeys(stage.components):
            mine = [c for c in calls if c.call.component == name]
            self._component(span, name, stage.components.count(name), mine, start, end)
        span.end(end_time=end)

    def run_finished(self, run: RunInfo, result: RunResult) -> None:
        from opentelemetry import trace

        with self._lock:
            open_run = self._runs.pop(run.run_id, None)
        if open_run is None:
            return
        span = open_run.span
        total = result.ledger.total
        span.set_attributes({
            "ttc.status": result.status, "ttc.answer": result.answer or "",
            "ttc.winner": result.winner.id if result.winner else "",
            "ttc.stages": list(result.stages), "ttc.candidates": len(result.candidates),
            **_usage(total),
            **({f"ttc.winner.score.{k}": float(v) for k, v in result.winner.scores.items()}
               if result.winner else {})})
        if result.status == "failed":
            span.set_status(trace.Status(trace.StatusCode.ERROR, result.error or "failed"))
        span.end()

    # --- children ---------------------------------------------------------------------------

    def _component(self, parent: Any, name: str, entries: int, calls: list[_Call],
                   stage_start: int, stage_end: int) -> None:
        from opentelemetry import trace

        start = min((c.start_ns for c in calls), default=stage_start)
        end = max((c.end_ns for c in calls), default=stage_end)
        span = self.tracer.start_span(
            f"ttc component {name}", context=trace.set_span_in_context(parent),
            start_time=start, attributes={
                "ttc.component": name, "ttc.component.entries": entries,
                "ttc.calls": sum(1 for c in calls if c.call.ok),
                "ttc.failed_calls": sum(1 for c in calls if not c.call.ok),
                "ttc.retries": sum(1 for c in calls if c.call.attempt > 1),
                "gen_ai.usage.input_tokens": sum(c.call.prompt_tokens for c in calls),
                "gen_ai.usage.output_tokens": sum(c.call.completion_tokens for c in calls),
                "ttc.usage.cached_tokens": sum(c.call.cached_tokens for c in calls)})
        for item in calls:
            self._call(span, item)
        span.end(end_time=end)

    def _call(self, parent: Any, item: _Call) -> None:
        from opentelemetry import trace

        call = item.call
        span = self.tracer.start_span(
            f"{call.kind} {call.model}", context=trace.set_span_in_context(parent),
            kind=trace.SpanKind.CLIENT, start_time=item.start_ns,
            attributes={**_call_attributes(call)})
        if call.error is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, call.error))
        span.end(end_time=item.end_ns)


def _call_attributes(call: ModelCall) -> dict[str, Any]:
    out: dict[str, Any] = {
        "gen_ai.operation.name": "text_completion" if call.kind == "generate" else "score",
        "gen_ai.system": call.runtime, "gen_ai.request.model": call.model,
        "gen_ai.usage.input_tokens": call.prompt_tokens,
        "gen_ai.usage.output_tokens": call.completion_tokens,
        "ttc.usage.cached_tokens": call.cached_tokens, "ttc.model_alias": call.model_alias,
        "ttc.stage": call.stage, "ttc.component": call.component,
        "ttc.attempt": call.attempt, "ttc.retry": call.attempt > 1,
        "ttc.replayed": call.replayed, "ttc.fingerprint": call.fingerprint,
        "ttc.latency_s": call.latency}
    request = call.request
    if isinstance(request, GenerateRequest):
        params = request.params
        out.update({"gen_ai.request.temperature": params.temperature,
                    "gen_ai.request.top_p": params.top_p,
                    "gen_ai.request.max_tokens": params.max_tokens,
                    "gen_ai.request.choice.count": request.n})
        if params.seed is not None:
            out["gen_ai.request.seed"] = params.seed
    if call.response:
        reasons = [getattr(r, "finish_reason", None) for r in call.response]
        out["gen_ai.response.finish_reasons"] = [r for r in reasons if r]
    if call.error is not None:
        out["error.type"] = call.error.split(":", 1)[0]
    return out


def _usage(usage: Any) -> dict[str, Any]:
    return {"gen_ai.usage.input_tokens": usage.prompt_tokens,
            "gen_ai.usage.output_tokens": usage.completion_tokens,
            "ttc.usage.cached_tokens": usage.cached_tokens,
            "ttc.usage.prefilled_tokens": usage.prefilled_tokens, "ttc.calls": usage.calls,
            "ttc.served_calls": usage.served_calls, "ttc.failed_calls": usage.failed_calls,
            "ttc.warnings": usage.warnings}


def _scores(pool: Iterable[Candidate]) -> dict[str, list[float]]:
    """Each score name the pool carries → the values, in pool order (``ttc.pool.ids``
    names the candidates; a candidate without that score gets NaN)."""
    pool = list(pool)
    names = dict.fromkeys(name for c in pool for name in c.scores)
    return {f"ttc.scores.{name}": [float(c.scores.get(name, float("nan"))) for c in pool]
            for name in names}


def _selection(selection: Any) -> dict[str, Any]:
    scores: Mapping[str, float] = selection.scores or {}
    out: dict[str, Any] = {"ttc.selection.winner": selection.winner or "",
                           "ttc.selection.answer": selection.answer or "",
                           "ttc.selection.score_name": selection.score_name or ""}
    if scores:
        out["ttc.selection.ids"] = list(scores)
        out["ttc.selection.scores"] = [float(v) for v in scores.values()]
    return out
