"""The result of one run: the answer, the final pool with lineage, scores and the ledger."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ttc.candidate import Candidate
from ttc.component import Selection
from ttc.state import Ledger, RunWarning, Task


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run gave: ``Pipeline.run`` returns it and ``ttc_run_finished`` receives it."""

    run_id: str
    """The run's id (as in ``RunInfo.run_id``)."""
    task: Task
    """The question the run answered."""
    answer: str | None
    """The final answer (the selector's, else the winner's extracted answer); None when
    there is none or the run failed."""
    winner: Candidate | None
    """The chosen candidate, with its scores and lineage."""
    pool: tuple[Candidate, ...]
    """The final pool, after selection when the recipe selects."""
    candidates: dict[str, Candidate]
    """Every candidate the run made, by id: the lineage DAG's nodes."""
    ledger: Ledger
    """Tokens (prompt, cached, prefilled, completion), calls (made and served from a
    recording), warnings and wall time per stage, per repeat round and in total."""
    status: str = "succeeded"
    """``succeeded``, ``budget_exhausted`` or ``failed``."""
    error: str | None = None
    """Why the run did not succeed."""
    selection: Selection | None = None
    """The final selector's decision: winner, answer, scores per candidate id."""
    seed: int = 0
    """The run seed."""
    recipe_name: str = ""
    """The recipe's ``name:``."""
    stages: tuple[str, ...] = field(default=())
    """The paths of the stages that ran, in order (each once)."""
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    """The final state's artifacts (e.g. generated unit tests, budget controllers' savings)."""

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    @property
    def warnings(self) -> tuple[RunWarning, ...]:
        """What degraded the run without failing it (e.g. replies that never parsed), in
        the order it happened; a run can succeed with warnings."""
        return tuple(self.ledger.warnings)

    def lineage(self, candidate_id: str) -> Iterator[Candidate]:
        """The candidate and its ancestors, breadth first, each once."""
        seen: set[str] = set()
        queue = [candidate_id]
        while queue:
            cid = queue.pop(0)
            if cid in seen or cid not in self.candidates:
                continue
            seen.add(cid)
            candidate = self.candidates[cid]
            yield candidate
            queue.extend(candidate.parents)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "recipe": self.recipe_name,
            "status": self.status,
            "error": self.error,
            "seed": self.seed,
            "task": self.task.to_dict(),
            "answer": self.answer,
            "winner": None if self.winner is None else self.winner.id,
            "pool": [c.id for c in self.pool],
            "candidates": [c.to_dict() for c in self.candidates.values()],
            "warnings": [w.to_dict() for w in self.ledger.warnings],
            "ledger": self.ledger.to_dict(),
            "artifacts": _jsonable(self.artifacts),
        }


def _jsonable(value: Any) -> Any:
    """Artifacts are plugin data: keep what JSON can hold, describe the rest."""
    from ttc.calls import to_jsonable

    value = to_jsonable(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)
