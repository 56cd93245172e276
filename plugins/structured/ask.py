"""Ask the model for a reply of a known shape, without ever crashing on a malformed one.

Where the runtime has ``Capability.CONSTRAINED`` the reply is decoded under the given regex
or JSON schema, so one call suffices. Elsewhere the reply is parsed tolerantly and the call
is retried a bounded number of times; a reply that never parses comes back with ``value``
None and an ``error``, which the component records (``record_parse_failure``) instead of
raising.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ttc.context import ComponentContext
from ttc.runtime import Capability, GenerateRequest, SamplingParams
from ttc.state import State

T = TypeVar("T")

RETRY_TEMPERATURE = 0.7
"""Retries of a greedy call sample instead: repeating a greedy call repeats its reply."""


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
    retries: int = 2,
    regex: str | None = None,
    json_schema: str | None = None,
    stop: tuple[str, ...] = (),
) -> Reply[T]:
    """One reply parsed with ``parse`` (which returns None when it cannot make sense of it).

    ``key`` names the call for seeds (stable across runs); attempt k uses seed key + (k,).
    """
    use_constraint = constrained(ctx) and (regex is not None or json_schema is not None)
    attempts = 1 if use_constraint else retries + 1
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
    """Add one failure (what was asked, the last reply, the reason) to the component's
    ``parse_failures/…`` artifact."""
    name = parse_failure_key(ctx)
    entry = {"component": ctx.component, "what": what, "candidate": candidate_id,
             "reply": reply.text, "attempts": reply.attempts, "error": reply.error}
    return state.with_artifact(name, (*state.artifacts.get(name, ()), entry))
