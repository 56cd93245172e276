"""``iad``: Iterative Agent Decoding (docs/methods.md RF2).

Candidates are scored by a verifier (P(Yes) read from one token, as ``yes_no_verifier`` or
``self_eval``); each round the best and worst attempts, with their scores and critiques, are
fed back and ``m`` refinements drawn; the pool keeps the best ``m`` of old and new, so the
best so far never gets worse. With ``rounds: 0`` it is best-of-m under the verifier.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.critics.critique import critique_of
from ttc.plugins.prompts import refine as prompts
from ttc.plugins.prompts import self_eval as self_eval_prompts
from ttc.plugins.prompts import verifier as verifier_prompts
from ttc.plugins.structured.ask import Reply, record_parse_failure
from ttc.plugins.verifiers.yes_no_probability import yes_probabilities
from ttc.registry import RegisterComponent
from ttc.runtime import GenerateRequest, SamplingParams
from ttc.state import State

TRACE = "iad_best"
"""Artifact: the best score after each round (round 0 is the initial pool)."""
UNSCORED = -1.0
"""Rank of a candidate whose verdict could not be read (kept out of its scores)."""


class IADConfig(ComponentConfig):
    m: int = Field(default=4, ge=1, le=256)
    """Candidates sampled at the start (when the pool is empty) and per round."""
    rounds: int = Field(default=1, ge=0, le=100)
    """Refinement rounds per run (R); inside ``repeat``, per round of the block."""
    verifier: Literal["yes_no", "self_eval"] = "yes_no"
    """How candidates are scored; the score is stored under this name."""
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""
    max_tokens: int = Field(default=256, ge=1, le=32768)
    """The most tokens one call may generate."""


class IAD(Component[IADConfig]):
    """Iterative Agent Decoding: verifier-scored refinement that keeps the best so far."""

    name = "iad"
    kind = "refiner"
    effect = Effect.PRODUCES
    Config = IADConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        question = state.task.question
        pool = list(state.pool)
        trace = list(state.artifacts.get(TRACE, ()))
        if not pool:
            prompt = await ctx.render(state.task.as_messages())
            pool = await self._sample(ctx, prompt, "initial", ())
        pool, state = await self._score(state, ctx, pool)
        pool = self._best(pool, config.m)
        if not trace:
            trace.append(self._value(pool[0]))
        for r in range(1, config.rounds + 1):
            best, worst = pool[0], pool[-1]
            shown = [(best.text, self._value(best), critique_of(best))]
            if worst.id != best.id:
                shown.append((worst.text, self._value(worst), critique_of(worst)))
            prompt = await ctx.render([{"role": "user",
                                        "content": prompts.iad_prompt(question, shown)}])
            fresh = await self._sample(ctx, prompt, r, tuple(dict.fromkeys((best.id, worst.id))))
            fresh, state = await self._score(state, ctx, fresh)
            ctx.remember(fresh)
            pool = self._best([*pool, *fresh], config.m)
            trace.append(self._value(pool[0]))
        return state.with_pool(pool).with_artifact(TRACE, tuple(trace))

    async def _sample(self, ctx: ComponentContext, prompt: str, key: object,
                      parents: tuple[str, ...]) -> list[Candidate]:
        config = self.config
        seed = ctx.seed("iad", key)
        completions = await ctx.generate(GenerateRequest(
            prompt=prompt, n=config.m,
            params=SamplingParams(max_tokens=config.max_tokens, temperature=config.temperature,
                                  seed=seed)))
        return [ctx.candidate(c.text, c, parents=parents, sample_index=i, seed=seed, key=key)
                for i, c in enumerate(completions)]

    async def _score(self, state: State, ctx: ComponentContext,
                     pool: list[Candidate]) -> tuple[list[Candidate], State]:
        """Score the candidates that have no score yet (scores are never recomputed)."""
        config = self.config
        todo = [c for c in pool if config.verifier not in c.scores]
        messages = state.task.as_messages()
        rendered = []
        for c in todo:
            if config.verifier == "self_eval":
                rendered.append(await ctx.render([
                    *messages, {"role": "assistant", "content": c.text},
                    {"role": "user", "content": self_eval_prompts.QUESTION}]))
            else:
                rendered.append(await ctx.render([{"role": "user", "content":
                    verifier_prompts.yes_no_prompt(state.task.question, c.text)}]))
        verdicts = await yes_probabilities(ctx, rendered, key=f"iad-{config.verifier}")
        scored = {}
        for c, verdict in zip(todo, verdicts, strict=True):
            if verdict.probability is None:
                state = record_parse_failure(state, ctx, "IAD verdict", Reply(
                    None, "", 1, False, "neither Yes nor No was readable"), c.id)
                scored[c.id] = c
            else:
                scored[c.id] = c.with_scores(**{config.verifier: verdict.probability})
        return [scored.get(c.id, c) for c in pool], state

    def _value(self, candidate: Candidate) -> float:
        config = self.config
        return candidate.scores.get(config.verifier, UNSCORED)

    def _best(self, pool: list[Candidate], m: int) -> list[Candidate]:
        """The best ``m``, highest score first; ties keep the earlier (older) candidate."""
        return sorted(pool, key=lambda c: -self._value(c))[:m]


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(IAD)
