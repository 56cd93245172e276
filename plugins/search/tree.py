"""The search tree: a node is a partial solution — its steps, their scores, and the
candidate that stores it (whose parent is the node one step shorter), so replay, the run
inspector and SQL can walk the tree."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ttc.candidate import Candidate
from ttc.plugins.search.step_scorer import PartialSolution, Step
from ttc.plugins.selectors.weighted_best_of_n import aggregate

ROOT = "root"
"""The id of the root: the prompt alone, before the first step (it has no candidate)."""


@dataclass(frozen=True, slots=True)
class Node:
    steps: tuple[Step, ...] = ()
    scores: tuple[float, ...] = ()
    """One per step, in [0, 1] (an unreadable score counts as 0, see ``unscored``)."""
    candidate: Candidate | None = None
    terminal: str | None = None
    """Why the solution ended here (see ``steps.TERMINALS``); None: it can go on."""
    unscored: tuple[int, ...] = ()
    """Steps whose score the scorer could not read."""
    order: int = 0
    """Creation order in its search: ties are broken by it, so runs are deterministic."""

    @property
    def id(self) -> str:
        return ROOT if self.candidate is None else self.candidate.id

    @property
    def depth(self) -> int:
        return len(self.steps)

    @property
    def text(self) -> str:
        return "".join(step.text for step in self.steps)

    @property
    def finished(self) -> bool:
        return self.terminal is not None

    def value(self, agg: str) -> float:
        """The aggregated step score the search ranks by (1.0 for the root)."""
        return aggregate(self.scores, agg) if self.scores else 1.0

    def solution(self) -> PartialSolution:
        return PartialSolution(self.steps, self.scores)

    def annotated(self, scores: dict[str, float] | None = None,
                  **artifact: Any) -> Node:
        """This node with more scores and ``search`` artifact fields on its candidate."""
        assert self.candidate is not None
        candidate = self.candidate
        if scores:
            candidate = candidate.with_scores(**scores)
        if artifact:
            current = dict(candidate.artifacts.get("search") or {})
            candidate = candidate.with_artifact("search", {**current, **artifact})
        return replace(self, candidate=candidate)
