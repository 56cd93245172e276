"""``critic``: strengths and weaknesses of each candidate (Archon's critic, docs/methods.md C1).

Each critique is attached to the candidate it is about (``Candidate.feedback``), never kept
in a list parallel to the pool, so it cannot outlive the pool it was written for.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Literal

from pydantic import Field

from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.critics.critique import critique_key
from ttc.plugins.critics.critique_parse import parse_json, parse_one, parse_sections
from ttc.plugins.prompts import critic as prompts
from ttc.plugins.structured.ask import (
    RETRIES_RENAMED,
    Reply,
    ask,
    constrained,
    record_parse_failure,
)
from ttc.registry import RegisterComponent
from ttc.state import State

SAMPLE_SEPARATOR = "\n\n"
"""Between the critiques of one candidate from several samples (in sample order)."""


class CriticConfig(ComponentConfig):
    mode: Literal["list", "each"] = "list"
    """``list``: one call critiques all candidates (Archon); ``each``: one call per candidate
    (shorter prompts that share the question as a cached prefix; better for small models)."""
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""
    max_tokens: int = Field(default=512, ge=1, le=32768)
    """Tokens per call (``list`` mode writes all critiques in one call)."""
    parse_retries: int = Field(default=2, ge=0, le=10)
    """Re-asks when a reply cannot be parsed (Archon asks up to 10 times); a reply that
    never parses is a run warning. Failed calls are retried by ``limits.retries``."""
    renamed = RETRIES_RENAMED
    samples: int = Field(default=1, ge=1, le=16)
    """Archon's ``samples``: critiques sampled per candidate (independent calls, each with
    its own seed; use ``temperature`` > 0 or they repeat). A candidate's critiques are
    joined in sample order, separated by a blank line; a sample that could not be parsed
    for a candidate is left out (and recorded)."""


class Critic(Component[CriticConfig]):
    """Critic: writes strengths and weaknesses of each candidate onto that candidate."""

    name = "critic"
    kind = "critic"
    effect = Effect.ANNOTATES
    needs_candidates = True
    Config = CriticConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        if not state.pool:
            return state
        question = state.task.question
        key = critique_key(ctx.index)
        samples = await asyncio.gather(*(
            self._sample(state, ctx, question, s) for s in range(config.samples)))
        collected: dict[int, list[str]] = {}
        for critiques, failed in samples:
            for i, text in sorted(critiques.items()):
                collected.setdefault(i, []).append(text)
            state = failed(state)
        pool = [c.with_feedback(key, SAMPLE_SEPARATOR.join(collected[i])) if i in collected
                else c for i, c in enumerate(state.pool, 1)]
        return state.with_pool(pool)

    async def _sample(self, state: State, ctx: ComponentContext, question: str, sample: int
                      ) -> tuple[dict[int, str], Callable[[State], State]]:
        """Critique sample ``sample`` of every candidate: (critiques by 1-based index, a
        function that records this sample's parse failures on a state)."""
        config = self.config
        pool = state.pool
        suffix = () if sample == 0 else ("sample", sample)  # sample 0 keeps samples=1 seeds
        what = "critique" if sample == 0 else f"critique (sample {sample})"
        if config.mode == "each":
            replies = await asyncio.gather(*(
                self._ask_one(ctx, question, c.text, c.id, suffix) for c in pool))
            critiques = {i: r.value for i, r in enumerate(replies, 1) if r.value is not None}

            def failed(s: State) -> State:
                for candidate, reply in zip(pool, replies, strict=True):
                    if not reply.ok:
                        s = record_parse_failure(s, ctx, what, reply, candidate.id)
                return s

            return critiques, failed
        reply = await self._ask_list(ctx, question, [c.text for c in pool], suffix)
        found = reply.value or {}

        def failed_list(s: State) -> State:
            if len(found) == len(pool):
                return s
            return record_parse_failure(
                s, ctx, f"critiques{what[len('critique'):]} of {len(pool)} candidates "
                f"(got {len(found)})", reply)

        return found, failed_list

    async def _ask_one(self, ctx: ComponentContext, question: str, text: str,
                       cid: str, suffix: tuple = ()) -> Reply[str]:
        config = self.config
        prompt = await ctx.render([{"role": "user", "content": prompts.one_prompt(question, text)}])
        schema = None
        if constrained(ctx):
            schema = json.dumps(prompts.list_schema(1))
        reply = await ask(ctx, prompt, lambda r: _one(r, schema is not None),
                          key=("critic", cid, *suffix),
                          max_tokens=config.max_tokens, temperature=config.temperature,
                          parse_retries=config.parse_retries, json_schema=schema)
        return reply

    async def _ask_list(self, ctx: ComponentContext, question: str,
                        texts: list[str], suffix: tuple = ()) -> Reply[dict[int, str]]:
        config = self.config
        n = len(texts)
        prompt = await ctx.render([{"role": "user",
                                    "content": prompts.list_prompt(question, texts)}])
        if constrained(ctx):
            return await ask(ctx, prompt, lambda r: parse_json(r, n),
                             key=("critic", "list", *suffix),
                             max_tokens=config.max_tokens, temperature=config.temperature,
                             json_schema=json.dumps(prompts.list_schema(n)))
        best: Reply[dict[int, str]] | None = None

        def complete(reply: str) -> dict[int, str] | None:
            nonlocal best
            found = parse_sections(reply, n)
            if best is None or len(found) > len(best.value or {}):
                best = Reply(found, reply, 0, False)
            return found if len(found) == n else None

        reply = await ask(ctx, prompt, complete, key=("critic", "list", *suffix),
                          max_tokens=config.max_tokens, temperature=config.temperature,
                          parse_retries=config.parse_retries)
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
def ttc_register_components(register: RegisterComponent) -> None:
    register(Critic)
