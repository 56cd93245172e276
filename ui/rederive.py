"""What a run computed but the store does not keep — its artifacts: parse failures of
replies that could not be read, generated unit tests, a controller's savings — re-derived by
replaying the recording in memory.

Every call is answered from the run's stored responses through the same hook replay uses
(``ttc_recorded_response``: the n-th ask of a fingerprint gets the n-th recorded response),
the runtimes refuse any call that is not in the recording, and nothing is written: the
re-derivation is not a run of the store.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ttc import Pipeline, RunResult, Task, hookimpl
from ttc.pipeline import new_run_id
from ttc.storage.replay import RecordedOnly
from ttc.storage.store import response_from_json

PARSE_FAILURES = "parse_failures/"


class RecordingServer:
    """Serves one run's recorded responses to one re-derivation run."""

    def __init__(self, run_id: str, calls: list[Any]) -> None:
        self.run_id = run_id
        self.responses: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for call in sorted(calls, key=lambda c: c.seq):
            if call.error is None and call.response is not None:
                self.responses[(call.fingerprint, call.kind)].append(call.response)
        self.asks: dict[str, int] = defaultdict(int)

    @hookimpl
    def ttc_recorded_response(self, run: Any, fingerprint: str, kind: str) -> Any | None:
        if run.run_id != self.run_id:
            return None
        occurrence = self.asks[fingerprint]
        self.asks[fingerprint] += 1
        found = self.responses.get((fingerprint, kind), [])
        return response_from_json(kind, found[occurrence]) if occurrence < len(found) else None


@dataclass(frozen=True, slots=True)
class Rederived:
    result: RunResult
    same_as_recorded: bool
    """Same winner and answer as the recording (else the code changed since the run)."""

    @property
    def parse_failures(self) -> list[dict[str, Any]]:
        rows = []
        for name, entries in self.result.artifacts.items():
            if name.startswith(PARSE_FAILURES):
                stage, _index, round_ = name[len(PARSE_FAILURES):].rsplit("/", 2)
                rows += [{"stage": stage, "round": int(round_) or None, **entry}
                         for entry in entries]
        return rows

    @property
    def other_artifacts(self) -> dict[str, Any]:
        return {k: v for k, v in self.result.to_dict()["artifacts"].items()
                if not k.startswith(PARSE_FAILURES)}


def rederive(run: Any) -> Rederived:
    """Replay ``run`` (a ``RunRow`` with its calls) in memory, with no model call."""
    opened = Pipeline.from_text(run.recipe_text, f"<{run.id}>", store=False)
    runtimes = {alias: RecordedOnly(opened.runtime(alias)) for alias in opened.plan.models}
    pipeline = Pipeline(opened.plan, runtimes=runtimes, store=False)
    run_id = new_run_id()
    name = pipeline.host.register(RecordingServer(run_id, run.model_calls),
                                  name=f"ttc-ui-rederive-{run_id}")
    try:
        task = Task.of({k: v for k, v in (run.task or {}).items() if v not in (None, [], {})})
        result = pipeline.run(task, seed=run.seed, run_id=run_id)
    finally:
        pipeline.host.unregister(name)
    winner = None if result.winner is None else result.winner.id
    return Rederived(result, winner == run.winner_id and result.answer == run.answer)
