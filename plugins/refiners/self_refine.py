"""``self_refine``: feedback, then a revision, until the feedback says done (docs/methods.md RF1).

Each iteration asks for feedback on the current answer; if it says done, the answer stays
(same id) and, once every candidate is done, ``state.done`` ends the enclosing ``repeat``
block. Otherwise a revision is made: a new candidate whose parent is the answer it revises.
The feedback is stored on the answer it is about; the history shown to the model is read
back from that lineage, so it also spans the rounds of a ``repeat`` block.
"""

from __future__ import annotations

import asyncio
import json
import re

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.prompts import refine as prompts
from ttc.plugins.refiners.lineage import ancestors
from ttc.plugins.structured.ask import (
    RETRIES_RENAMED,
    Reply,
    ask,
    constrained,
    record_parse_failure,
)
from ttc.registry import RegisterComponent
from ttc.runtime import GenerateRequest, SamplingParams
from ttc.state import State

FEEDBACK_KEY = "self_refine"
FEEDBACK_SCHEMA = json.dumps({
    "type": "object",
    "properties": {"done": {"type": "boolean"}, "feedback": {"type": "string"}},
    "required": ["done", "feedback"],
})
_DONE = re.compile(r"^\W*" + prompts.DONE_MARK + r"\b", re.IGNORECASE)


def parse_feedback(reply: str) -> tuple[bool, str] | None:
    """(done, feedback): the constrained JSON form, or text that is done when it starts with
    DONE. Empty text is not feedback."""
    text = reply.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
            return bool(data["done"]), str(data.get("feedback", ""))
        except (ValueError, KeyError, TypeError):
            pass
    if not text:
        return None
    return bool(_DONE.match(text)), text


class SelfRefineConfig(ComponentConfig):
    iterations: int = Field(default=1, ge=0, le=50)
    """Feedback → revision iterations per run (T); inside ``repeat``, per round."""
    history: bool = True
    """Show earlier answers and their feedback to the reviser."""
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""
    max_tokens: int = Field(default=256, ge=1, le=32768)
    """Tokens of a revision."""
    feedback_max_tokens: int = Field(default=128, ge=1, le=32768)
    """The most tokens one feedback call may generate."""
    parse_retries: int = Field(default=1, ge=0, le=10)
    """Re-asks for feedback when the reply is empty; feedback that never parses is a run
    warning."""
    renamed = RETRIES_RENAMED


class SelfRefine(Component[SelfRefineConfig]):
    """Self-Refine: feedback then revision of each candidate until the feedback says done."""

    name = "self_refine"
    kind = "refiner"
    effect = Effect.PRODUCES
    needs_candidates = True
    Config = SelfRefineConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        results = await asyncio.gather(*(self._refine(state, ctx, c) for c in state.pool))
        pool, all_done = [], bool(results)
        for candidate, done, failures in results:
            pool.append(candidate)
            all_done = all_done and done
            for failure in failures:
                state = record_parse_failure(state, ctx, "self-refine feedback", failure,
                                             candidate.id)
        return state.with_pool(pool).with_done(all_done)

    async def _refine(self, state: State, ctx: ComponentContext, current: Candidate
                      ) -> tuple[Candidate, bool, list[Reply[tuple[bool, str]]]]:
        config = self.config
        question = state.task.question
        failures: list[Reply[tuple[bool, str]]] = []
        root = current.id
        for t in range(1, config.iterations + 1):
            prompt = await ctx.render([{"role": "user", "content": prompts.feedback_prompt(
                question, current.text)}])
            reply = await ask(ctx, prompt, parse_feedback, key=("feedback", root, t),
                              max_tokens=config.feedback_max_tokens, temperature=0.0,
                              parse_retries=config.parse_retries,
                              json_schema=FEEDBACK_SCHEMA if constrained(ctx) else None)
            if reply.value is None:
                failures.append(reply)
                return current, False, failures
            done, feedback = reply.value
            current = current.with_feedback(FEEDBACK_KEY, feedback)
            ctx.remember([current])
            if done:
                return current, True, failures
            history = []
            if config.history:
                known = ctx.run_ctx.candidates
                history = [(a.text, a.feedback[FEEDBACK_KEY])
                           for a in ancestors(current, known) if FEEDBACK_KEY in a.feedback]
            revise = await ctx.render([{"role": "user", "content": prompts.revise_prompt(
                question, current.text, feedback, history)}])
            seed = ctx.seed("revise", root, t)
            (completion,) = await ctx.generate(GenerateRequest(
                prompt=revise, params=SamplingParams(max_tokens=config.max_tokens,
                                                     temperature=config.temperature,
                                                     seed=seed)))
            current = ctx.candidate(completion.text, completion, parents=(current.id,),
                                    sample_index=t, seed=seed, key=root)
            ctx.remember([current])
        return current, False, failures


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(SelfRefine)
