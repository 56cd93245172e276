"""A recorded run as views show it (``ttc runs show``, ``ttc runs export``), computed from the
stored rows: each stage execution (a repeat block's rounds apart) with its own pool and usage,
where the run's calls came from, and the run's warnings.

The recorder writes each stage row's usage for that execution alone and marks it
(``"scope": "round"``). Rows recorded before that mark held the stage's meter as it stood
after the round (the rounds so far added up), so their rounds are told apart by difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROUND_SCOPE = "round"
"""``usage["scope"]`` of a stage row whose usage is that execution's alone."""
COUNTED = ("calls", "served_calls", "failed_calls", "warnings", "prompt_tokens",
           "cached_tokens", "prefilled_tokens", "completion_tokens", "wall_time")


@dataclass(frozen=True, slots=True)
class StageExecution:
    """One execution of a stage (one round of a repeat block)."""

    row: Any
    """The ``StageRow``."""
    usage: dict[str, float]
    """This execution's own calls, tokens, warnings and wall time."""
    pool: list[Any]
    """The ``CandidateRow``s of its output pool, in pool order."""


@dataclass(frozen=True, slots=True)
class CallCounts:
    """Where a run's calls came from."""

    calls: int
    """Calls answered (by a model or from a recording)."""
    served: int
    """Of those, served from a recording: an earlier session of a resumed run, the run a
    replay re-runs, or the call cache."""
    failed_attempts: int
    stored_attempts: int
    """Call rows in the store (a resumed run keeps its own calls once)."""

    @property
    def made(self) -> int:
        return self.calls - self.served


def stage_executions(run: Any) -> list[StageExecution]:
    """Every stage execution of a recorded run, in the order they first finished."""
    by_id = {c.id: c for c in run.candidates}
    previous: dict[str, dict[str, Any]] = {}
    out = []
    for row in sorted(run.stages, key=lambda s: s.seq):
        stored = dict(row.usage or {})
        if stored.get("scope") == ROUND_SCOPE or row.round <= 1:
            usage = {k: stored.get(k, 0) for k in COUNTED}
        else:  # an older record: the meter of all rounds so far
            before = previous.get(row.name, {})
            usage = {k: stored.get(k, 0) - before.get(k, 0) for k in COUNTED}
        previous[row.name] = stored
        pool = [by_id[cid] for cid in (row.pool or []) if cid in by_id]
        out.append(StageExecution(row, usage, pool))
    return out


def call_counts(run: Any) -> CallCounts:
    """From the run's ledger when it finished, else from its stored call rows."""
    rows = run.model_calls
    failed = sum(1 for c in rows if c.error is not None)
    total = (run.ledger or {}).get("total")
    if total is not None:
        served = total.get("served_calls")
        if served is None:  # recorded before the ledger counted served calls
            served = sum(1 for c in rows if c.replayed)
        return CallCounts(int(total.get("calls", run.calls)), int(served),
                          int(total.get("failed_calls", failed)), len(rows))
    answered = [c for c in rows if c.error is None]
    return CallCounts(len(answered), sum(1 for c in answered if c.replayed), failed, len(rows))


def run_warnings(run: Any) -> list[dict[str, Any]]:
    """The run's warnings (``ttc.RunWarning`` as dicts), as its ledger recorded them."""
    return list((run.ledger or {}).get("warnings") or [])
