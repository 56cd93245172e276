"""Candidates: the immutable unit every component reads and writes.

A candidate's *identity* is its text and where it came from. Adding information (a score,
a critique) keeps the id; changing the text (a fusion, a revision) makes a new candidate whose
``parents`` point at what it was derived from, so lineage is a DAG.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TokenStats:
    """Per-token statistics of a completion, tagged with where they came from.

    ``kl_uniform`` is KL(uniform‖p) per position (the summand of self-certainty) and
    ``entropy`` the entropy of p per position, both from the raw logits. ``exact`` is False
    when a runtime could only approximate them (e.g. from top-k logprobs).
    """

    ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] = ()
    top_logprobs: tuple[tuple[tuple[int, float], ...], ...] | None = None
    entropy: tuple[float, ...] | None = None
    kl_uniform: tuple[float, ...] | None = None
    exact: bool = True
    runtime: str = ""

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def mean_logprob(self) -> float:
        return sum(self.logprobs) / len(self.logprobs) if self.logprobs else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ids": list(self.ids),
            "logprobs": list(self.logprobs),
            "top_logprobs": None
            if self.top_logprobs is None
            else [[list(p) for p in pos] for pos in self.top_logprobs],
            "entropy": None if self.entropy is None else list(self.entropy),
            "kl_uniform": None if self.kl_uniform is None else list(self.kl_uniform),
            "exact": self.exact,
            "runtime": self.runtime,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenStats:
        top = data.get("top_logprobs")
        ent = data.get("entropy")
        kl = data.get("kl_uniform")
        return cls(
            ids=tuple(data.get("ids", ())),
            logprobs=tuple(data.get("logprobs", ())),
            top_logprobs=None
            if top is None
            else tuple(tuple((int(i), float(lp)) for i, lp in pos) for pos in top),
            entropy=None if ent is None else tuple(ent),
            kl_uniform=None if kl is None else tuple(kl),
            exact=bool(data.get("exact", True)),
            runtime=str(data.get("runtime", "")),
        )


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a candidate was made: enough to find its model call and to re-make it."""

    stage: str = ""
    component: str = ""
    model: str = ""
    seed: int | None = None
    sample_index: int = 0
    round: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "component": self.component,
            "model": self.model,
            "seed": self.seed,
            "sample_index": self.sample_index,
            "round": self.round,
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    text: str
    answer: str | None = None
    parents: tuple[str, ...] = ()
    origin: Origin = field(default_factory=Origin)
    tokens: TokenStats | None = None
    scores: Mapping[str, float] = field(default_factory=_empty)
    feedback: Mapping[str, str] = field(default_factory=_empty)
    """Critiques and other notes about this candidate, keyed by the author (component)."""
    finish_reason: str | None = None
    artifacts: Mapping[str, Any] = field(default_factory=_empty)
    """JSON-ready data a component derived from this candidate, keyed by the component
    (e.g. the program it ran and what it printed); like scores, it keeps the id."""

    def with_artifact(self, author: str, value: Any) -> Candidate:
        return replace(self, artifacts=MappingProxyType({**self.artifacts, author: value}))

    def with_scores(self, **scores: float) -> Candidate:
        return replace(self, scores=MappingProxyType({**self.scores, **scores}))

    def with_feedback(self, author: str, text: str) -> Candidate:
        return replace(self, feedback=MappingProxyType({**self.feedback, author: text}))

    def with_answer(self, answer: str | None) -> Candidate:
        return replace(self, answer=answer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "answer": self.answer,
            "parents": list(self.parents),
            "origin": self.origin.to_dict(),
            "tokens": None if self.tokens is None else self.tokens.to_dict(),
            "scores": dict(self.scores),
            "feedback": dict(self.feedback),
            "finish_reason": self.finish_reason,
            "artifacts": dict(self.artifacts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        tokens = data.get("tokens")
        return cls(
            id=data["id"],
            text=data["text"],
            answer=data.get("answer"),
            parents=tuple(data.get("parents", ())),
            origin=Origin(**data.get("origin", {})),
            tokens=None if tokens is None else TokenStats.from_dict(tokens),
            scores=MappingProxyType(dict(data.get("scores", {}))),
            feedback=MappingProxyType(dict(data.get("feedback", {}))),
            finish_reason=data.get("finish_reason"),
            artifacts=MappingProxyType(dict(data.get("artifacts") or {})),
        )


def candidate_id(*parts: object) -> str:
    """A stable id from the things that determine a candidate (run, stage, component, index).

    Stable ids make replays comparable candidate by candidate.
    """
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=6).hexdigest()
    return f"c-{digest}"
