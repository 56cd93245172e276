"""What an evaluation returns: typed results per item and per eval, JSON-ready."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ttc.plugins.evaluation.statistics import Interval


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One graded item: the task, the run that answered it and its cost."""

    eval_id: str
    seq: int
    id: str
    input: str
    reference: str | None
    answer: str | None
    correct: bool | None
    """None when the item could not be graded (no reference, or its run failed to finish)."""
    run_id: str
    status: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    wall_time: float = 0.0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "item", **asdict(self)}


@dataclass(frozen=True, slots=True)
class ScoreQuality:
    """How well a candidate score separates right from wrong answers (higher = better)."""

    name: str
    candidates: int
    auroc: float | None
    """Pooled over every candidate of every item."""
    auroc_within: float | None
    """Mean over items whose candidates are partly right: what selection within one item
    can use."""
    items_with_both: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EvalSummary:
    eval_id: str
    recipe: str
    dataset: str
    seed: int
    items: int
    graded: int
    correct: int
    accuracy: float
    interval: Interval
    """95 % Wilson interval of the accuracy."""
    prompt_tokens_per_item: float
    completion_tokens_per_item: float
    cached_tokens_per_item: float
    calls_per_item: float
    wall_time: float
    cache_hit_ratio: float
    failed: int
    """Items whose run failed (counted as wrong)."""
    oracle: float | None = None
    """Share of items where some candidate of the final pool's inputs was right."""
    scores: tuple[ScoreQuality, ...] = field(default=())
    status: str = "finished"

    @property
    def tokens_per_item(self) -> float:
        return self.prompt_tokens_per_item + self.completion_tokens_per_item

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["interval"] = self.interval.to_dict()
        data["scores"] = [s.to_dict() for s in self.scores]
        return {"type": "summary", **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalSummary:
        values = {k: v for k, v in data.items() if k != "type"}
        values["interval"] = Interval(**values["interval"])
        values["scores"] = tuple(ScoreQuality(**s) for s in values.get("scores", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class EvalResult:
    summary: EvalSummary
    items: tuple[ItemResult, ...]

    @property
    def eval_id(self) -> str:
        return self.summary.eval_id
