"""The result of one run: the answer, the final pool with lineage, scores and the ledger."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ttc.candidate import Candidate
from ttc.component import Selection
from ttc.state import Ledger, Task


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: str
    task: Task
    answer: str | None
    winner: Candidate | None
    pool: tuple[Candidate, ...]
    """The final pool, after selection when the recipe selects."""
    candidates: dict[str, Candidate]
    """Every candidate the run made, by id: the lineage DAG's nodes."""
    ledger: Ledger
    status: str = "succeeded"
    error: str | None = None
    selection: Selection | None = None
    seed: int = 0
    recipe_name: str = ""
    stages: tuple[str, ...] = field(default=())
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    """The final state's artifacts (e.g. generated unit tests, budget controllers' savings)."""

    @property
    def ok(self) -> bool:
        return self.status != "failed"

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
