"""What flows between stages: the task, the pool of candidates, artifacts and the ledger."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, ClassVar

from ttc.candidate import Candidate
from ttc.runtime import Message


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Task:
    """One question. ``messages`` win over ``prompt``; ``reference``, ``answer_format`` and
    ``tests`` are for grading and for verifiers that run tests; a component that generates
    never shows them to a model."""

    prompt: str = ""
    messages: tuple[Message, ...] = ()
    reference: str | None = None
    id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=_empty)
    answer_format: str | None = None
    """How to grade the answer (a task format's name, e.g. ``number``); None: the recipe's."""
    tests: tuple[str, ...] = ()
    """Test statements for code tasks (e.g. ``assert add(2, 3) == 5``)."""

    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"prompt", "messages", "reference", "id", "metadata", "answer_format", "tests"})

    @classmethod
    def of(cls, value: str | Mapping[str, Any] | Task) -> Task:
        if isinstance(value, Task):
            return value
        if isinstance(value, str):
            return cls(prompt=value)
        unknown = set(value) - cls.FIELDS
        if unknown:
            raise ValueError(
                f"unknown task field(s) {sorted(unknown)}; a task has {sorted(cls.FIELDS)}"
            )
        messages = tuple(MappingProxyType(dict(m)) for m in value.get("messages", ()))
        if not value.get("prompt") and not messages:
            raise ValueError("a task needs a non-empty 'prompt' or 'messages'")
        tests = value.get("tests") or ()
        if isinstance(tests, str) or not all(isinstance(t, str) for t in tests):
            raise ValueError("'tests' must be a list of test statements (strings)")
        return cls(
            prompt=str(value.get("prompt", "")),
            messages=messages,
            reference=None if value.get("reference") is None else str(value["reference"]),
            id=None if value.get("id") is None else str(value["id"]),
            metadata=MappingProxyType(dict(value.get("metadata") or {})),
            answer_format=value.get("answer_format") or None,
            tests=tuple(tests),
        )

    def as_messages(self) -> list[dict[str, str]]:
        if self.messages:
            return [dict(m) for m in self.messages]
        return [{"role": "user", "content": self.prompt}]

    @property
    def question(self) -> str:
        """The last user message: what critic, ranker and judge prompts quote."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message.get("content", "")
        return self.prompt

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "prompt": self.prompt,
            "messages": [dict(m) for m in self.messages],
            "reference": self.reference,
            "id": self.id,
            "metadata": dict(self.metadata),
        }
        # Only when set: the dict seeds the run (``RunContext.task_key``), so tasks recorded
        # before these fields existed keep their seeds, candidate ids and replays.
        if self.answer_format is not None:
            data["answer_format"] = self.answer_format
        if self.tests:
            data["tests"] = list(self.tests)
        return data


@dataclass(slots=True)
class StageUsage:
    """Tokens, calls and time of one stage: one round of it (``Ledger.meter``) or all its
    rounds (``Ledger.stages``)."""

    prompt_tokens: int = 0
    """Logical prompt tokens: each call's prompt once (an n-sample call's n samples share
    one prompt), as an API that takes ``n`` bills it."""
    cached_tokens: int = 0
    """Of ``prompt_tokens``, those the server reported as served from its prefix cache."""
    completion_tokens: int = 0
    prefilled_tokens: int = 0
    """Prompt tokens the engine computed: over every completion of every call, its prompt
    tokens minus its cached ones (an n-sample call prefilled once counts once)."""
    calls: int = 0
    """Calls answered, by a model or from a recording (``served_calls``)."""
    served_calls: int = 0
    """Of ``calls``, those served from a recording (replay, resume, the call cache)."""
    failed_calls: int = 0
    """Attempts that failed (a retried call counts each failed attempt)."""
    warnings: int = 0
    """Degradations recorded as ``RunWarning``s (e.g. a reply that never parsed)."""
    wall_time: float = 0.0

    def add(self, other: StageUsage) -> None:
        for name in _USAGE_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cache_hit_ratio(self) -> float:
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in _USAGE_FIELDS}
        data["wall_time"] = round(self.wall_time, 6)
        data["cache_hit_ratio"] = round(self.cache_hit_ratio, 6)
        return data


_USAGE_FIELDS = ("prompt_tokens", "cached_tokens", "completion_tokens", "prefilled_tokens",
                 "calls", "served_calls", "failed_calls", "warnings", "wall_time")


@dataclass(frozen=True, slots=True)
class RunWarning:
    """Something that degraded a run without failing it: a reply that never parsed (and the
    component went on without it), a fallback. Kept on the ledger, counted per stage, and
    shown wherever the run is shown."""

    kind: str
    """What happened, e.g. ``parse_failure``."""
    message: str
    """One line for people: what was asked and why it failed."""
    stage: str
    component: str
    round: int = 0
    candidate: str | None = None
    """The candidate it is about, if one."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "stage": self.stage,
                "component": self.component, "round": self.round,
                "candidate": self.candidate}


@dataclass(slots=True)
class Ledger:
    """Token, call and time accounting per stage and per repeat round, and the run's
    warnings. Mutable: it is the run's meter, shared by every state of one run."""

    rounds: dict[tuple[str, int], StageUsage] = field(default_factory=dict)
    """One meter per stage execution: (stage path, round), round 0 outside a repeat block."""
    warnings: list[RunWarning] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def meter(self, stage: str, round_: int = 0) -> StageUsage:
        """The usage of one execution of a stage, which the gateway and executor add to."""
        usage = self.rounds.get((stage, round_))
        if usage is None:
            usage = self.rounds[(stage, round_)] = StageUsage()
        return usage

    @property
    def stages(self) -> dict[str, StageUsage]:
        """Each stage over all its rounds, in the order the stages first ran."""
        out: dict[str, StageUsage] = {}
        for (name, _), usage in self.rounds.items():
            out.setdefault(name, StageUsage()).add(usage)
        return out

    def stage(self, name: str) -> StageUsage:
        """One stage over all its rounds (a sum: adding to it changes nothing)."""
        return self.stages.get(name) or StageUsage()

    def warn(self, warning: RunWarning) -> None:
        self.warnings.append(warning)
        self.meter(warning.stage, warning.round).warnings += 1

    @property
    def total(self) -> StageUsage:
        total = StageUsage()
        for usage in self.rounds.values():
            total.add(usage)
        return total

    def to_dict(self) -> dict[str, Any]:
        """Per stage (all rounds), per repeat round, the total and the warnings."""
        return {
            "stages": {name: usage.to_dict() for name, usage in self.stages.items()},
            "rounds": [{"stage": name, "round": round_, **usage.to_dict()}
                       for (name, round_), usage in self.rounds.items() if round_],
            "total": self.total.to_dict(),
            "warnings": [w.to_dict() for w in self.warnings],
        }


@dataclass(frozen=True, slots=True)
class State:
    """Immutable: a component returns a new State (``state.with_pool(...)``)."""

    task: Task
    pool: tuple[Candidate, ...] = ()
    artifacts: Mapping[str, Any] = field(default_factory=_empty)
    """Named, typed-by-convention data that is not a candidate (e.g. generated unit tests).
    Data about one candidate belongs on the candidate (scores, feedback), keyed by its id."""
    done: bool = False
    """Set by a component (e.g. a refiner whose feedback says "done") to end a repeat block."""

    def with_pool(self, pool: Iterable[Candidate]) -> State:
        return replace(self, pool=tuple(pool))

    def with_artifact(self, name: str, value: Any) -> State:
        return replace(self, artifacts=MappingProxyType({**self.artifacts, name: value}))

    def with_done(self, done: bool = True) -> State:
        return replace(self, done=done)

    def by_id(self) -> dict[str, Candidate]:
        return {c.id: c for c in self.pool}
