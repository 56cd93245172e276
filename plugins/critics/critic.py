"""``critic``: strengths and weaknesses of each candidate (Archon C1, METHODS §5).

Each critique is attached to the candidate it is about (``Candidate.feedback``), never kept
in a list parallel to the pool, so it cannot outlive the pool it was written for.
"""

from __future__ import annotations

import asyncio
import json
from typing import Literal

from pydantic import Field

from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.critics.critique import critique_key
from ttc.plugins.critics.critique_parse import parse_json, parse_one, parse_sections
from ttc.plugins.prompts import critic as prompts
from ttc.plugins.structured.ask import Reply, ask, constrained, record_parse_failure
from ttc.state import State


class CriticConfig(ComponentConfig):
    mode: Literal["list", "each"] = "list"
    """``list``: one call critiques all candidates (Archon); ``each``: one call per candidate
    (shorter prompts that share the question as a cached prefix; better for small models)."""
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    max_tokens: int = Field(default=512, ge=1, le=32768)
    """Tokens per call (``list`` mode writes all critiques in one call)."""
    retries: int = Field(default=2, ge=0, le=10)
    """Extra calls when a reply cannot be parsed (Archon retries up to 10 times)."""
    samples: int = Field(default=1, ge=1, le=1)
    """Archon's ``samples``; one critique per candidate."""


class Critic(Component):
    """Critic: writes strengths and weaknesses of each candidate onto that candidate."""

    name = "critic"
    kind = "critic"
    effect = Effect.ANNOTATES
    needs_candidates = True
    Config = CriticConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config: CriticConfig = self.config  # type: ignore[assignment]
        if not state.pool:
            return state
        question = state.task.question
        key = critique_key(ctx.index)
        if config.mode == "each":
            replies = await asyncio.gather(*(
                self._ask_one(ctx, question, c.text, c.id) for c in state.pool))
            critiques = {i: r.value for i, r in enumerate(replies, 1) if r.value is not None}
            for candidate, reply in zip(state.pool, replies, strict=True):
                if not reply.ok:
                    state = record_parse_failure(state, ctx, "critique", reply, candidate.id)
        else:
            reply = await self._ask_list(ctx, question, [c.text for c in state.pool])
            critiques = reply.value or {}
            if len(critiques) != len(state.pool):
                state = record_parse_failure(
                    state, ctx, f"critiques of {len(state.pool)} candidates (got "
                    f"{len(critiques)})", reply)
        pool = [c.with_feedback(key, critiques[i]) if i in critiques else c
                for i, c in enumerate(state.pool, 1)]
        return state.with_pool(pool)

    async def _ask_one(self, ctx: ComponentContext, question: str, text: str,
                       cid: str) -> Reply[str]:
        config: CriticConfig = self.config  # type: ignore[assignment]
        prompt = await ctx.render([{"role": "user", "content": prompts.one_prompt(question, text)}])
        schema = None
        if constrained(ctx):
            schema = json.dumps(prompts.list_schema(1))
        reply = await ask(ctx, prompt, lambda r: _one(r, schema is not None), key=("critic", cid),
                          max_tokens=config.max_tokens, temperature=config.temperature,
                          retries=config.retries, json_schema=schema)
        return reply

    async def _ask_list(self, ctx: ComponentContext, question: str,
                        texts: list[str]) -> Reply[dict[int, str]]:
        config: CriticConfig = self.config  # type: ignore[assignment]
        n = len(texts)
        prompt = await ctx.render([{"role": "user",
                                    "content": prompts.list_prompt(question, texts)}])
        if constrained(ctx):
            return await ask(ctx, prompt, lambda r: parse_json(r, n), key=("critic", "list"),
                             max_tokens=config.max_tokens, temperature=config.temperature,
                             json_schema=json.dumps(prompts.list_schema(n)))
        best: Reply[dict[int, str]] | None = None

        def complete(reply: str) -> dict[int, str] | None:
            nonlocal best
            found = parse_sections(reply, n)
            if best is None or len(found) > len(best.value or {}):
                best = Reply(found, reply, 0, False)
            return found if len(found) == n else None

        reply = await ask(ctx, prompt, complete, key=("critic", "list"),
                          max_tokens=config.max_tokens, temperature=config.temperature,
                          retries=config.retries)
        if reply.ok or best is None:
            return reply
        # keep what the best attempt did parse: a critique for some candidates beats none
        return Reply(best.value, best.text, reply.attempts, False, reply.error)


def _one(reply: str, as_json: bool) -> str | None:
    if as_json:
        parsed = parse_json(reply, 1)
        return parsed[1] if parsed else None
    return parse_one(reply)


@hookimpl
def ttc_register_components(register) -> None:
    register(Critic)
