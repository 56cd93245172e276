"""Ask the model for a reply of a known shape, without ever crashing on a malformed one.

Where the runtime has ``Capability.CONSTRAINED`` the reply is decoded under the given regex
or JSON schema, so one call suffices. Elsewhere the reply is parsed tolerantly and the model
is asked again up to ``parse_retries`` times (a re-ask is a new call with a new seed, not a
retry of a failed call: those are the gateway's ``limits.retries``). A reply that never
parses comes back with ``value`` None and an ``error``, which the component records
(``record_parse_failure``: a run warning and a ``parse_failures/…`` artifact) instead of
raising.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from ttc.context import ComponentContext
from ttc.runtime import Capability, GenerateRequest, SamplingParams
from ttc.state import State

T = TypeVar("T")

RETRY_TEMPERATURE = 0.7
"""Re-asks of a greedy call sample instead: repeating a greedy call repeats its reply."""

RETRIES_RENAMED = MappingProxyType({"retries": "parse_retries"})
"""``Config.renamed`` of components that re-ask: their ``retries`` was renamed
``parse_retries`` (retries of failed calls are the run's ``limits.retries``)."""

PARSE_FAILURE = "parse_failure"
"""The ``RunWarning.kind`` of a reply that never parsed."""


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    """A parsed reply, or the reason it could not be parsed."""

    value: T | None
    text: str
    attempts: int
    constrained: bool
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def constrained(ctx: ComponentContext) -> bool:
    """Whether this component's runtime decodes under a regex / JSON schema."""
    return Capability.CONSTRAINED in ctx.runtime().capabilities


async def ask(
    ctx: ComponentContext,
    prompt: str,
    parse: Callable[[str], T | None],
    *,
    key: tuple[Any, ...],
    max_tokens: int,
    temperature: float = 0.0,
    parse_retries: int = 2,
    regex: str | None = None,
    json_schema: str | None = None,
    stop: tuple[str, ...] = (),
) -> Reply[T]:
    """One reply parsed with ``parse`` (which returns None when it cannot make sense of it).

    ``key`` names the call for seeds (stable across runs); attempt k uses seed key + (k,).
    """
    use_constraint = constrained(ctx) and (regex is not None or json_schema is not None)
    attempts = 1 if use_constraint else parse_retries + 1
    text = ""
    for attempt in range(attempts):
        temp = temperature if attempt == 0 or temperature > 0 else RETRY_TEMPERATURE
        request = GenerateRequest(
            prompt=prompt,
            params=SamplingParams(max_tokens=max_tokens, temperature=temp, stop=stop,
                                  seed=ctx.seed(*key, attempt)),
            regex=regex if use_constraint else None,
            json_schema=json_schema if use_constraint and regex is None else None,
        )
        (completion,) = await ctx.generate(request)
        text = completion.text
        try:
            value = parse(text)
        except (ValueError, TypeError, KeyError, IndexError):
            value = None
        if value is not None:
            return Reply(value, text, attempt + 1, use_constraint)
    return Reply(None, text, attempts, use_constraint,
                 error=f"no parsable reply after {attempts} attempt(s)")


def parse_failure_key(ctx: ComponentContext) -> str:
    """The artifact name under which one component's parse failures are kept (one per
    component, stage and round, so annotators of one stage never overwrite each other)."""
    return f"parse_failures/{ctx.stage}/{ctx.index}/{ctx.round}"


def record_parse_failure(state: State, ctx: ComponentContext, what: str, reply: Reply[Any],
                         candidate_id: str | None = None) -> State:
    """Record one failure: a run warning (counted in the ledger, shown by ``ttc run``,
    ``ttc runs show`` and exports) and an entry (what was asked, the last reply, the reason)
    in the component's ``parse_failures/…`` artifact."""
    ctx.warn(PARSE_FAILURE, f"{what}: {reply.error or 'no parsable reply'}",
             candidate=candidate_id)
    name = parse_failure_key(ctx)
    entry = {"component": ctx.component, "what": what, "candidate": candidate_id,
             "reply": reply.text, "attempts": reply.attempts, "error": reply.error}
    return state.with_artifact(name, (*state.artifacts.get(name, ()), entry))
