"""Replay and resume: re-run a recorded run with its recorded model calls served back.

- ``replay(store, run)``: the recorded recipe, seed and task; every call comes from the
  recording (a missing one is an error), so the result is identical and no model runs.
- ``replay(store, run, recipe_text=...)``: another recipe on the same task and seed; calls
  it shares with the recording are served, new ones are made (``strict`` forbids them and
  names them).
- ``resume(store, run)``: the same run id continues; recorded calls are served, the rest made.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ttc.background_loop import run_sync
from ttc.candidate import Candidate
from ttc.errors import UsageError
from ttc.pipeline import Pipeline, new_run_id
from ttc.plugin_system import PluginHost
from ttc.recipe.compile import recipe_hash
from ttc.result import RunResult
from ttc.runtime import RequestError, Runtime
from ttc.state import Task
from ttc.storage.errors import ReplayMiss
from ttc.storage.models import RunRow
from ttc.storage.plugin import claim
from ttc.storage.recorder import STRICT_MISS, Recorder
from ttc.storage.store import RunStore


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a replay or resume did: its result, and where its model calls came from."""

    result: RunResult
    source: RunRow
    served: int
    """Calls answered from the recording."""
    made: int
    """Calls that reached a model."""

    @property
    def identical(self) -> bool:
        """Same answer, candidates (text, answer, scores) and winner as the recording."""
        recorded = {c.id: (c.text, c.answer, dict(c.scores)) for c in self.source.candidates}
        now = {c.id: (c.text, c.answer, dict(c.scores)) for c in self.result.candidates.values()}
        winner = None if self.result.winner is None else self.result.winner.id
        return (recorded == now and self.result.answer == self.source.answer
                and winner == self.source.winner_id)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.result.run_id, "source": self.source.id,
                "status": self.result.status, "answer": self.result.answer,
                "served": self.served, "made": self.made, "identical": self.identical}


class RecordedOnly:
    """A runtime that renders and tokenizes but refuses every model call: a strict replay
    can then never reach a model, and each refused call is reported by stage."""

    def __init__(self, inner: Runtime) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def generate(self, request: Any) -> Any:
        raise RequestError(STRICT_MISS)

    async def score(self, requests: Any) -> Any:
        raise RequestError(STRICT_MISS)


async def areplay(
    store: RunStore,
    run_id: str,
    *,
    recipe_text: str | None = None,
    source: str = "<replay>",
    strict: bool | None = None,
    host: PluginHost | None = None,
    runtimes: Mapping[str, Runtime] | None = None,
) -> ReplayReport:
    """Replay a recorded run (see the module doc). ``strict`` defaults to True for an exact
    replay (no ``recipe_text``) and False otherwise."""
    recorded = store.get_run(run_id)
    if strict is None:
        strict = recipe_text is None
    text = recipe_text if recipe_text is not None else recorded.recipe_text
    pipeline = _pipeline(text, source if recipe_text is not None else f"<{recorded.id}>",
                         host, runtimes, strict)
    new_id = new_run_id()
    recorder = Recorder(store, sources=[recorded.id], replay_of=recorded.id)
    with claim(new_id, recorder):
        result = await pipeline.arun(_task(recorded), seed=recorded.seed, run_id=new_id)
    stats = recorder.runs[new_id]
    if stats.misses:
        store.delete_run(new_id)
        raise ReplayMiss(recorded.id, stats.misses)
    return ReplayReport(result, recorded, stats.served, stats.made)


async def aresume(
    store: RunStore,
    run_id: str,
    *,
    recipe_text: str | None = None,
    force: bool = False,
    host: PluginHost | None = None,
    runtimes: Mapping[str, Runtime] | None = None,
) -> ReplayReport:
    """Finish a run that stopped (killed, crashed): same id, seed and task; recorded calls
    are served, the rest are made and recorded."""
    recorded = store.get_run(run_id)
    if recorded.status == "succeeded" and not force:
        raise UsageError(f"run {recorded.id} already finished; replay it instead")
    if (recorded.status == "running" and not force and recorded.host == socket.gethostname()
            and recorded.pid and _alive(recorded.pid)):
        raise UsageError(f"run {recorded.id} is still running (pid {recorded.pid}); "
                         "wait for it or stop it, or pass --force")
    if recipe_text is not None and recipe_hash(recipe_text) != recorded.recipe_hash:
        raise UsageError(f"that recipe is not the one run {recorded.id} recorded; "
                         "use `ttc replay --recipe` to run another recipe")
    text = recipe_text if recipe_text is not None else recorded.recipe_text
    pipeline = _pipeline(text, f"<{recorded.id}>", host, runtimes, strict=False)
    recorder = Recorder(store, sources=[recorded.id], resume=True)
    with claim(recorded.id, recorder):
        result = await pipeline.arun(_task(recorded), seed=recorded.seed, run_id=recorded.id)
    stats = recorder.runs[recorded.id]
    return ReplayReport(result, store.get_run(recorded.id), stats.served, stats.made)


def replay(store: RunStore, run_id: str, **kwargs: Any) -> ReplayReport:
    return run_sync(areplay(store, run_id, **kwargs))


def resume(store: RunStore, run_id: str, **kwargs: Any) -> ReplayReport:
    return run_sync(aresume(store, run_id, **kwargs))


def _pipeline(text: str, source: str, host: PluginHost | None,
              runtimes: Mapping[str, Runtime] | None, strict: bool) -> Pipeline:
    kwargs: dict[str, Any] = {} if host is None else {"host": host}
    pipeline = Pipeline.from_text(text, source, **kwargs)
    given = dict(runtimes or {})
    opened = {alias: given.get(alias) or pipeline.runtime(alias) for alias in pipeline.plan.models}
    if strict:
        opened = {alias: RecordedOnly(rt) for alias, rt in opened.items()}
    return Pipeline(pipeline.plan, runtimes=opened, **kwargs)


def _task(run: RunRow) -> Task:
    return Task.of({k: v for k, v in run.task.items() if v not in (None, [], {})})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def same_candidates(a: Mapping[str, Candidate], b: Mapping[str, Candidate]) -> bool:
    return {k: v.to_dict() for k, v in a.items()} == {k: v.to_dict() for k, v in b.items()}
