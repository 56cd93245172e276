"""Recording as a plugin of the lifecycle hooks, and serving recorded calls back.

A ``Recorder`` writes each event as it happens (one committed transaction per run start,
model call, stage and run end), so a crash loses nothing already done. Given source runs it
also answers ``ttc_recorded_response``: the n-th ask of a fingerprint in this run gets the
n-th recorded response with that fingerprint, which is how exact replay, counterfactual
replay and resume are one mechanism.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ttc.calls import ModelCall, to_jsonable
from ttc.errors import RecordingFailed
from ttc.events import RunInfo, StageReport
from ttc.plugin_system import hookimpl
from ttc.result import RunResult
from ttc.storage.errors import StoreError
from ttc.storage.models import CandidateRow, ModelCallRow, RunRow, StageRow
from ttc.storage.redact import Redactor
from ttc.storage.run_view import ROUND_SCOPE
from ttc.storage.store import RunStore, response_from_json, utcnow

logger = logging.getLogger(__name__)

STRICT_MISS = "not in the recording (strict replay)"


@dataclass
class _RunState:
    """What the recorder keeps per run in flight."""

    redactor: Redactor
    started: float
    next_call: int = 0
    next_stage: int = 0
    next_candidate: int = 0
    known_candidates: set[str] = field(default_factory=set)
    written: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    recorded: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    asks: Counter[str] = field(default_factory=Counter)
    served: int = 0
    made: int = 0
    misses: list[str] = field(default_factory=list)
    disabled: bool = False


class Recorder:
    """Records runs into a ``RunStore``; optionally serves calls recorded in other runs.

    ``sources``: runs whose calls are served back (replay; the run itself for resume).
    ``resume``: the run already exists; continue it instead of creating it.
    ``cache``: serve any recorded call with the same fingerprint, from any run.
    ``replay_of``: the recorded run this one replays (kept on the new run's row).
    """

    def __init__(
        self,
        store: RunStore,
        *,
        sources: Sequence[str] = (),
        resume: bool = False,
        cache: bool = False,
        replay_of: str | None = None,
    ) -> None:
        self.store = store
        self.sources = tuple(sources)
        self.resume = resume
        self.cache = cache
        self.replay_of = replay_of
        self.runs: dict[str, _RunState] = {}

    # --- lifecycle hooks ----------------------------------------------------------------

    @hookimpl
    def ttc_run_started(self, run: RunInfo) -> None:
        redactor = Redactor.for_recipe(run.recipe_text)
        state = self.runs[run.run_id] = _RunState(redactor, time.perf_counter())
        try:
            if self.sources:
                state.recorded = self._load_sources()
            self.store.write(lambda s: self._start(s, run, state))
        except StoreError as exc:
            self._disable(state, exc)

    @hookimpl
    def ttc_model_called(self, run: RunInfo, call: ModelCall) -> None:
        state = self.runs.get(run.run_id)
        if call.error is not None and STRICT_MISS in call.error and state is not None:
            state.misses.append(
                f"stage {call.stage}, component {call.component}: {call.kind} on "
                f"{call.runtime}:{call.model} (fingerprint {call.fingerprint[:16]})")
            return
        if state is None or state.disabled:
            return
        if call.replayed and self.resume:
            return  # the run's own recorded call: already in the store
        if not call.replayed:
            state.made += 1
        seq = state.next_call
        state.next_call += 1
        red = state.redactor
        row = ModelCallRow(
            id=call.id, run_id=run.run_id, seq=seq, stage=call.stage,
            component=call.component, model_alias=call.model_alias, runtime=call.runtime,
            model=call.model, kind=call.kind, fingerprint=call.fingerprint,
            request=red.data(jsonable(call.request)) if red.secrets else jsonable(call.request),
            response=None if call.response is None else (
                red.data(jsonable(call.response)) if red.secrets else jsonable(call.response)),
            error=None if call.error is None else red.text(call.error),
            latency=call.latency, attempt=call.attempt, prompt_tokens=call.prompt_tokens,
            cached_tokens=call.cached_tokens, completion_tokens=call.completion_tokens,
            replayed=call.replayed, created_at=utcnow(),
        )
        self._write(state, lambda s: s.add(row))

    @hookimpl
    def ttc_stage_finished(self, run: RunInfo, stage: StageReport) -> None:
        state = self.runs.get(run.run_id)
        if state is None or state.disabled:
            return
        red = state.redactor

        def work(session: Session) -> None:
            row = session.scalars(select(StageRow).where(
                StageRow.run_id == run.run_id, StageRow.name == stage.name,
                StageRow.round == stage.round)).first()
            if row is None:
                row = StageRow(run_id=run.run_id, seq=state.next_stage, name=stage.name,
                               round=stage.round)
                state.next_stage += 1
                session.add(row)
            row.index = stage.index
            row.components = list(stage.components)
            row.status = stage.status
            row.error = None if stage.error is None else red.text(stage.error)
            row.wall_time = stage.wall_time
            row.usage = {**stage.usage.to_dict(), "scope": ROUND_SCOPE}  # this round's only
            row.pool = [c.id for c in stage.pool]
            row.selection = None if stage.selection is None else red.data(
                to_jsonable(stage.selection))
            row.finished_at = utcnow()
            self._candidates(session, run, state, stage.pool)

        self._write(state, work)

    @hookimpl
    def ttc_run_finished(self, run: RunInfo, result: RunResult) -> None:
        state = self.runs.get(run.run_id)
        if state is None or state.disabled:
            return
        red = state.redactor
        total = result.ledger.total

        def work(session: Session) -> None:
            self._candidates(session, run, state, result.candidates.values())
            row = session.get(RunRow, run.run_id)
            if row is None:
                return
            row.status = result.status
            row.error = None if result.error is None else red.text(result.error)
            row.answer = None if result.answer is None else red.text(result.answer)
            row.winner_id = None if result.winner is None else result.winner.id
            row.finished_at = utcnow()
            row.wall_time = (row.wall_time or 0.0) + time.perf_counter() - state.started
            row.prompt_tokens = total.prompt_tokens
            row.cached_tokens = total.cached_tokens
            row.completion_tokens = total.completion_tokens
            row.calls = total.calls
            row.failed_calls = total.failed_calls
            row.ledger = red.data(result.ledger.to_dict())  # warnings quote model replies
            row.selection = None if result.selection is None else red.data(
                to_jsonable(result.selection))

        self._write(state, work)

    # --- recorded calls -----------------------------------------------------------------

    @hookimpl
    def ttc_recorded_response(self, run: RunInfo, fingerprint: str, kind: str) -> Any | None:
        state = self.runs.get(run.run_id)
        if state is None:
            return None
        occurrence = state.asks[fingerprint]
        state.asks[fingerprint] += 1
        found = state.recorded.get((fingerprint, kind))
        if found is not None and occurrence < len(found):
            state.served += 1
            return response_from_json(kind, found[occurrence])
        if self.cache:
            try:
                response = self.store.recorded_response(fingerprint, kind,
                                                        occurrence=occurrence)
            except Exception as exc:  # a cache that cannot answer just misses
                logger.warning("call cache lookup failed: %s", exc)
                response = None
            if response is not None:
                state.served += 1
                return response
        return None

    def stats(self, run_id: str) -> _RunState | None:
        return self.runs.get(run_id)

    # --- internals ----------------------------------------------------------------------

    def _load_sources(self) -> dict[tuple[str, str], list[Any]]:
        recorded: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for call in self.store.model_calls(self.sources):
            if call.error is None and call.response is not None:
                recorded[(call.fingerprint, call.kind)].append(call.response)
        return dict(recorded)

    def _start(self, session: Session, run: RunInfo, state: _RunState) -> None:
        red = state.redactor
        existing = session.get(RunRow, run.run_id)
        if existing is not None and self.resume:
            existing.status = "running"
            existing.resumes += 1
            existing.pid, existing.host = os.getpid(), socket.gethostname()
            existing.error = None
            state.next_call = _next(session, ModelCallRow.seq, ModelCallRow.run_id, run.run_id)
            state.next_stage = _next(session, StageRow.seq, StageRow.run_id, run.run_id)
            state.next_candidate = _next(session, CandidateRow.seq, CandidateRow.run_id,
                                         run.run_id)
            state.known_candidates = set(session.scalars(
                select(CandidateRow.id).where(CandidateRow.run_id == run.run_id)).all())
            return
        if existing is not None:
            raise StoreError(f"run {run.run_id} is already recorded; use `ttc resume` to "
                             "continue it, or give a new run id")
        session.add(RunRow(
            id=run.run_id, recipe_name=run.recipe_name,
            recipe_text=red.recipe(run.recipe_text), recipe_hash=run.recipe_hash,
            source=run.source, task=red.data(run.task.to_dict()), seed=run.seed,
            status="running", started_at=utcnow(), prompt_tokens=0, cached_tokens=0,
            completion_tokens=0, calls=0, failed_calls=0, replay_of=self.replay_of,
            resumes=0, pid=os.getpid(), host=socket.gethostname(),
        ))

    def _candidates(self, session: Session, run: RunInfo, state: _RunState,
                    candidates: Any) -> None:
        red = state.redactor
        for candidate in candidates:
            written = (candidate.answer, dict(candidate.scores), dict(candidate.feedback),
                       dict(candidate.artifacts))
            if state.written.get(candidate.id) == written:
                continue  # unchanged since it was last written: no read, no update
            state.written[candidate.id] = written
            if candidate.id in state.known_candidates:
                row = session.get(CandidateRow, (run.run_id, candidate.id))
                if row is None:
                    continue
            else:
                row = CandidateRow(
                    run_id=run.run_id, id=candidate.id, seq=state.next_candidate,
                    stage=candidate.origin.stage, component=candidate.origin.component,
                    model=candidate.origin.model, text=red.text(candidate.text),
                    parents=list(candidate.parents), origin=candidate.origin.to_dict(),
                    tokens=None if candidate.tokens is None else candidate.tokens.to_dict(),
                    finish_reason=candidate.finish_reason,
                )
                state.next_candidate += 1
                state.known_candidates.add(candidate.id)
                session.add(row)
            row.answer = None if candidate.answer is None else red.text(candidate.answer)
            row.scores = {**(row.scores or {}), **dict(candidate.scores)}
            row.feedback = red.data({**(row.feedback or {}), **dict(candidate.feedback)})
            if candidate.artifacts:
                row.artifacts = red.data(jsonable(
                    {**(row.artifacts or {}), **dict(candidate.artifacts)}))

    def _write(self, state: _RunState, work: Any) -> None:
        try:
            self.store.write(work)
        except StoreError as exc:
            self._disable(state, exc)

    def _disable(self, state: _RunState, exc: Exception) -> None:
        """Stop recording this run and fail it: a run that asked to be recorded is never
        reported "succeeded" with nothing stored (what was written stays, for resume)."""
        state.disabled = True
        raise RecordingFailed(f"the run could not be recorded: {exc}") from exc


def jsonable(value: Any) -> Any:
    """Dataclasses to dicts, leaving tuples of plain values to ``json.dumps``: the per-call
    cost of recording is mostly this walk over token statistics."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)) and value and (
            dataclasses.is_dataclass(value[0]) or isinstance(value[0], Mapping)):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def _next(session: Session, column: Any, run_column: Any, run_id: str) -> int:
    value = session.scalar(select(func.max(column)).where(run_column == run_id))
    return 0 if value is None else int(value) + 1
