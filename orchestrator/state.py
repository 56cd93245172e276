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
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    failed_calls: int = 0
    wall_time: float = 0.0

    def add(self, other: StageUsage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.cached_tokens += other.cached_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls
        self.failed_calls += other.failed_calls
        self.wall_time += other.wall_time

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cache_hit_ratio(self) -> float:
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "completion_tokens": self.completion_tokens,
            "calls": self.calls,
            "failed_calls": self.failed_calls,
            "wall_time": round(self.wall_time, 6),
            "cache_hit_ratio": round(self.cache_hit_ratio, 6),
        }


@dataclass(slots=True)
class Ledger:
    """Token, call and time accounting per stage. Mutable: it is the run's meter, shared by
    every state of one run."""

    stages: dict[str, StageUsage] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def stage(self, name: str) -> StageUsage:
        usage = self.stages.get(name)
        if usage is None:
            usage = self.stages[name] = StageUsage()
        return usage

    @property
    def total(self) -> StageUsage:
        total = StageUsage()
        for usage in self.stages.values():
            total.add(usage)
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": {name: usage.to_dict() for name, usage in self.stages.items()},
            "total": self.total.to_dict(),
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
