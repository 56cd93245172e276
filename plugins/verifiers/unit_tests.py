"""``unit_test_generator`` and ``unit_test_evaluator``: Archon's LLM-judged natural-language
unit tests (docs/methods.md V5).

Unlike Archon, the generator never rewrites the prompt: the tests are stored as the
``unit_tests`` artifact, which the evaluator (or an executed-test component) reads.
"""

from __future__ import annotations

import asyncio
import re

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.prompts import unit_tests as prompts
from ttc.plugins.structured.ask import RETRIES_RENAMED, Reply, ask, record_parse_failure
from ttc.registry import RegisterComponent
from ttc.state import State

ARTIFACT = "unit_tests"
SCORE = "unit_tests_passed"
_NUMBERED = re.compile(r"^\s*(?:[-*•]|\(?\d+[.)]|unit test\s*\d*\s*:|test\s*\d*\s*:)\s*",
                       re.IGNORECASE)
_VERDICT = re.compile(r"\b(passed|failed|pass|fail)\b", re.IGNORECASE)


def parse_tests(reply: str, cap: int) -> list[str] | None:
    """Up to ``cap`` tests, one per non-empty line, numbering and bullets removed."""
    tests = []
    for line in reply.splitlines():
        text = _NUMBERED.sub("", line).strip()
        if len(text) >= 3 and text not in tests:
            tests.append(text)
    return tests[:cap] or None


def parse_passed(reply: str) -> bool | None:
    m = _VERDICT.search(reply)
    return None if m is None else m.group(1).lower().startswith("pass")


class UnitTestGeneratorConfig(ComponentConfig):
    unit_test_cap: int = Field(default=5, ge=1, le=50)
    """Most tests kept."""
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""
    max_tokens: int = Field(default=256, ge=1, le=32768)
    """The most tokens one call may generate."""
    parse_retries: int = Field(default=2, ge=0, le=10)
    """Re-asks when a reply cannot be parsed (each is recorded; a reply that never parses
    is a run warning)."""
    renamed = RETRIES_RENAMED
    samples: int = Field(default=1, ge=1, le=1)
    """Archon's ``samples``."""


class UnitTestGenerator(Component[UnitTestGeneratorConfig]):
    """Unit-test generator: writes natural-language tests for the question (an artifact)."""

    name = "unit_test_generator"
    kind = "verifier"
    effect = Effect.ANNOTATES
    Config = UnitTestGeneratorConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        prompt = await ctx.render([{"role": "user", "content": prompts.generate_prompt(
            state.task.question, config.unit_test_cap)}])
        reply = await ask(ctx, prompt, lambda r: parse_tests(r, config.unit_test_cap),
                          key=("unit_tests",), max_tokens=config.max_tokens,
                          temperature=config.temperature, parse_retries=config.parse_retries)
        if reply.value is None:
            state = record_parse_failure(state, ctx, "unit tests", reply)
        return state.with_artifact(ARTIFACT, tuple(reply.value or ()))


class UnitTestEvaluatorConfig(ComponentConfig):
    top_k: int | None = Field(default=None, ge=1)
    """Keep this many candidates, most tests passed first (None keeps all, sorted)."""
    first_k: int | None = Field(default=None, ge=1)
    """Check candidates in pool order and stop once this many pass every test; keep those."""
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""
    parse_retries: int = Field(default=1, ge=0, le=10)
    """Re-asks when a reply cannot be parsed (each is recorded; a reply that never parses
    is a run warning)."""
    renamed = RETRIES_RENAMED
    samples: int = Field(default=1, ge=1, le=1)
    """Archon's ``samples``."""
    remove_unit_tests_from_prompt: bool = True
    """Archon's flag; ttc never puts tests into the prompt, so it has no effect."""


class UnitTestEvaluator(Component[UnitTestEvaluatorConfig]):
    """Unit-test evaluator: the model judges each (candidate, test); ranks by tests passed."""

    name = "unit_test_evaluator"
    kind = "verifier"
    effect = Effect.SELECTS
    needs_candidates = True
    Config = UnitTestEvaluatorConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        tests = tuple(state.artifacts.get(ARTIFACT, ()))
        if not tests:
            reply: Reply[None] = Reply(None, "", 0, False, "no unit_tests artifact to evaluate")
            return record_parse_failure(state, ctx, "unit tests", reply)
        scored: list[Candidate] = []
        if config.first_k is not None:
            for candidate in state.pool:
                candidate, state = await self._evaluate(state, ctx, candidate, tests)
                scored.append(candidate)
                if sum(1 for c in scored if c.scores[SCORE] == len(tests)) >= config.first_k:
                    break
            ctx.remember(scored)
            passing = [c for c in scored if c.scores[SCORE] == len(tests)]
            if passing:
                return state.with_pool(passing[: config.first_k])
        else:
            for candidate in state.pool:
                candidate, state = await self._evaluate(state, ctx, candidate, tests)
                scored.append(candidate)
        ctx.remember(scored)
        ranked = sorted(scored, key=lambda c: -c.scores[SCORE])  # stable: ties keep pool order
        return state.with_pool(ranked[: config.top_k] if config.top_k else ranked)

    async def _evaluate(self, state: State, ctx: ComponentContext, candidate: Candidate,
                        tests: tuple[str, ...]) -> tuple[Candidate, State]:
        config = self.config
        question = state.task.question

        async def judge(k: int, test: str) -> Reply[bool]:
            prompt = await ctx.render([{"role": "user", "content": prompts.evaluate_prompt(
                question, candidate.text, test)}])
            return await ask(ctx, prompt, parse_passed, key=("unit_test", candidate.id, k),
                             max_tokens=8, temperature=config.temperature,
                             parse_retries=config.parse_retries, regex=prompts.VERDICT_REGEX)

        replies = await asyncio.gather(*(judge(k, t) for k, t in enumerate(tests)))
        for reply in replies:
            if reply.value is None:  # unreadable counts as failed, and is recorded
                state = record_parse_failure(state, ctx, "unit test verdict", reply,
                                             candidate.id)
        passed = sum(1 for r in replies if r.value)
        return candidate.with_scores(**{SCORE: float(passed)}), state


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(UnitTestGenerator)
    register(UnitTestEvaluator)
