"""The result of one run: the answer, the final pool with lineage, scores and the ledger."""

from __future__ import annotations

from collections.abc import Iterator
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
        }
