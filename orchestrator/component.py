"""The Component base class: one idea, a typed Config, one async method.

A component's ``effect`` tells the executor how its output joins the others of its stage:

- ``produces``: it makes new candidates; the outputs of a stage's producers, concatenated in
  declaration order, replace the pool (Archon's layer semantics);
- ``annotates``: it returns the same candidates (same ids) with more scores or feedback,
  or adds artifacts; annotations of a stage's components are merged by candidate id;
- ``selects``: it returns a subset or a reordering of the pool; it must be alone in its stage.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, model_validator

from ttc.candidate import Candidate
from ttc.runtime import Capability
from ttc.state import State

if TYPE_CHECKING:
    from ttc.context import ComponentContext


class Effect(StrEnum):
    PRODUCES = "produces"
    ANNOTATES = "annotates"
    SELECTS = "selects"


class ComponentConfig(BaseModel):
    """Base of every component's parameters: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    renamed: ClassVar[Mapping[str, str]] = MappingProxyType({})
    """Old parameter names → their new names. A recipe that writes an old name still
    validates (same meaning), with a warning that names the new one (in Python, a
    ``DeprecationWarning``)."""

    @model_validator(mode="before")
    @classmethod
    def _renamed_parameters(cls, data: Any) -> Any:
        if not cls.renamed or not isinstance(data, Mapping):
            return data
        data = dict(data)
        for old, new in cls.renamed.items():
            if old in data and new not in data:
                warnings.warn(f"{cls.__name__}: {old!r} is now called {new!r}",
                              DeprecationWarning, stacklevel=2)
                data[new] = data.pop(old)
        return data


ConfigT = TypeVar("ConfigT", bound=ComponentConfig)


class Component(Generic[ConfigT]):
    """A component, generic over its parameters: ``class Sample(Component[SampleConfig])``
    with ``Config = SampleConfig`` makes ``self.config`` a ``SampleConfig`` to a type
    checker, which also flags a ``Config`` that does not match the type argument."""

    name: ClassVar[str]
    kind: ClassVar[str]
    """generator, critic, ranker, fuser, verifier, selector, refiner, scorer, …: for people
    and the UI; the executor only looks at ``effect``."""
    effect: ClassVar[Effect]
    needs_candidates: ClassVar[bool] = False
    uses_model: ClassVar[bool] = True
    needs: ClassVar[frozenset[Capability]] = frozenset()
    Config: type[ConfigT] = cast("type[ConfigT]", ComponentConfig)
    """The parameters' class; the default (no parameters) serves components that declare
    none. Not a ClassVar only because a ClassVar cannot name the type variable."""
    config: ConfigT

    def __init__(self, config: ConfigT | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        return cls(cls.Config(**params))

    def required_capabilities(self) -> frozenset[Capability]:
        """What the runtime must offer; override when it depends on the config."""
        return self.needs

    async def run(self, state: State, ctx: ComponentContext) -> State:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


@dataclass(frozen=True, slots=True)
class Selection:
    """What a selector decided. ``scores`` are per candidate id, under ``score_name``."""

    winner: str | None
    answer: str | None
    scores: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    score_name: str = ""
    order: tuple[str, ...] = ()
    """Candidate ids best first; the executor keeps the first ``keep`` when the selector
    runs as a stage."""
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


class SelectorConfig(ComponentConfig):
    keep: int = 1
    """When used as a stage, how many of the best candidates stay in the pool."""


SelectorConfigT = TypeVar("SelectorConfigT", bound=SelectorConfig)


class Selector(Component[SelectorConfigT]):
    """Chooses among candidates. Deterministic; ties go to the lowest index unless stated."""

    kind = "selector"
    effect = Effect.SELECTS
    needs_candidates = True
    uses_model = False
    Config: type[SelectorConfigT] = cast("type[SelectorConfigT]", SelectorConfig)

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        raise NotImplementedError

    async def run(self, state: State, ctx: ComponentContext) -> State:
        selection = await self.select(state.pool, ctx)
        ctx.record_selection(selection)
        by_id = state.by_id()
        order = selection.order or tuple(
            sorted(by_id, key=lambda cid: -selection.scores.get(cid, float("-inf")))
        )
        if selection.score_name:
            for cid, value in selection.scores.items():
                if cid in by_id:
                    by_id[cid] = by_id[cid].with_scores(**{selection.score_name: value})
            ctx.remember(by_id.values())  # every candidate keeps its score, kept or not
        return state.with_pool(by_id[cid] for cid in order[:self.config.keep])
