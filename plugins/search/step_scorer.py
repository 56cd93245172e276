"""Step scorers: the plugin kind that scores the steps of partial solutions (docs/methods.md §7).

A search asks its scorer about a batch of partial solutions at once and gets back one score
in [0, 1] per step of each (a process reward; None when a score could not be read). Three
shapes of scorer share that interface:

- ``StepScorer``: the general case, ``score(problem, solutions, ctx)``;
- ``IncrementalStepScorer``: judges only the newest step of a solution, and reuses the
  scores the search already knows for the earlier ones (self-evaluation, arithmetic checks,
  token confidence);
- ``ProcessRewardModel``: question + the steps' texts → one score per step, the interface
  of a trained PRM; any plugin can implement ``rewards``.

Scorers are registered with ``ttc_register_step_scorers`` and named in a search component's
``scorer: {use: NAME, ...}``. ``max_cost`` bounds what scoring a batch may cost, so a
search can stop expanding before its budget would be exceeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from ttc.context import ComponentContext
from ttc.runtime import Capability, Completion, Message


@dataclass(frozen=True, slots=True)
class Step:
    """One reasoning step: its text (ending with the delimiter that closed it, if any) and
    the completion that wrote it (token statistics), None for a step the search did not
    sample."""

    text: str
    completion: Completion | None = None
    delimiter: str = ""
    """The delimiter at the end of ``text`` ("" when the step ended otherwise)."""

    @property
    def content(self) -> str:
        """The step without its closing delimiter."""
        return self.text[: len(self.text) - len(self.delimiter)] if self.delimiter else self.text


@dataclass(frozen=True, slots=True)
class PartialSolution:
    """A solution so far. ``scores`` holds the scores the search already knows, for the
    first ``len(scores)`` steps (the parent's): a scorer may reuse them."""

    steps: tuple[Step, ...]
    scores: tuple[float, ...] = ()

    @property
    def text(self) -> str:
        return "".join(step.text for step in self.steps)


@dataclass(frozen=True, slots=True)
class Problem:
    """What the policy model was asked: the conversation before its reply, the question,
    and the text its reply starts with."""

    question: str
    messages: tuple[Message, ...]
    prefix: str = ""


@dataclass(frozen=True, slots=True)
class Cost:
    """An upper bound on model calls and completion tokens."""

    calls: int = 0
    tokens: int = 0
    scorer_calls: int = 0
    """Of ``calls``, those a step scorer makes."""

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.calls + other.calls, self.tokens + other.tokens,
                    self.scorer_calls + other.scorer_calls)


class StepScorerConfig(BaseModel):
    """Base of a step scorer's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


ScorerConfigT = TypeVar("ScorerConfigT", bound=StepScorerConfig)


class StepScorer(Generic[ScorerConfigT]):
    """Scores every step of each partial solution; subclass and implement ``score``.
    Generic over its parameters like ``ttc.Component``: ``class Mine(StepScorer[MyConfig])``
    with ``Config = MyConfig``."""

    name: ClassVar[str]
    Config: type[ScorerConfigT] = cast("type[ScorerConfigT]", StepScorerConfig)
    """The parameters' class (the default has none); not a ClassVar only because a
    ClassVar cannot name the type variable."""
    config: ScorerConfigT
    needs: ClassVar[frozenset[Capability]] = frozenset()
    """What the scorer's model must offer (checked against the search's model when the
    scorer uses it)."""
    uses_model: ClassVar[bool] = True
    own_model: ClassVar[bool] = False
    """True: the scorer cannot run on the search's own model; the recipe names its model."""

    def __init__(self, config: ScorerConfigT | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def max_cost(self, batch: int, capabilities: frozenset[Capability]) -> Cost:
        """The most one ``score`` call over ``batch`` new steps may cost on a model with
        these capabilities (none, for a scorer that calls no model)."""
        return Cost()

    async def score(self, problem: Problem, solutions: Sequence[PartialSolution],
                    ctx: ComponentContext) -> list[list[float | None]]:
        """One score in [0, 1] per step of each solution (None: unreadable)."""
        raise NotImplementedError


class IncrementalStepScorer(StepScorer[ScorerConfigT]):
    """A scorer that judges the last step of a solution given the ones before it."""

    async def score(self, problem: Problem, solutions: Sequence[PartialSolution],
                    ctx: ComponentContext) -> list[list[float | None]]:
        wanted = [(i, depth) for i, s in enumerate(solutions)
                  for depth in range(min(len(s.scores), len(s.steps)), len(s.steps))]
        prefixes = [PartialSolution(solutions[i].steps[: depth + 1]) for i, depth in wanted]
        values = await self.score_last(problem, prefixes, ctx) if prefixes else []
        out: list[list[float | None]] = [list(s.scores[: len(s.steps)]) for s in solutions]
        for (i, _), value in zip(wanted, values, strict=True):
            out[i].append(value)
        return out

    async def score_last(self, problem: Problem, solutions: Sequence[PartialSolution],
                         ctx: ComponentContext) -> list[float | None]:
        """The score of each solution's last step."""
        raise NotImplementedError


class ProcessRewardModel(StepScorer[ScorerConfigT]):
    """A process reward model: the question and a solution's steps in, one score per step
    out. Implement ``rewards``; the search hands it the steps without their delimiters."""

    async def score(self, problem: Problem, solutions: Sequence[PartialSolution],
                    ctx: ComponentContext) -> list[list[float | None]]:
        steps = [[step.content for step in s.steps] for s in solutions]
        return [list(r) for r in await self.rewards(problem.question, steps, ctx)]

    async def rewards(self, question: str, solutions: Sequence[Sequence[str]],
                      ctx: ComponentContext) -> list[list[float | None]]:
        raise NotImplementedError
