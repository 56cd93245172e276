"""Critic and verifier ``samples`` > 1 (Archon's ``samples``): how the samples combine.

Each sample is its own call with its own seed, so the scripted runtime is told which reply to
give for which seed: the tests are exact, whatever order the calls run in.
"""

from __future__ import annotations

import asyncio
import dataclasses

from scripted_support import component_context

from ttc.candidate import Candidate
from ttc.context import ComponentContext
from ttc.plugins.critics.critic import Critic, CriticConfig
from ttc.plugins.verifiers.archon_verifier import (
    Verifier,
    VerifierConfig,
    combine_verdicts,
    passes_majority,
)
from ttc.state import State


def answer_by_seed(ctx: ComponentContext, table: dict[int, str]) -> None:
    """Make the context's runtime answer a request whose seed is in ``table`` with that text."""
    runtime = ctx.runtime()
    original = runtime.generate

    async def generate(request):
        out = await original(request)
        text = table.get(request.params.seed)
        return out if text is None else [dataclasses.replace(c, text=text) for c in out]

    runtime.generate = generate  # type: ignore[method-assign]


def _state(task, n: int) -> State:
    return State(task=task, pool=tuple(Candidate(id=f"c{i}", text=f"answer {i}")
                                       for i in range(n)))


def _failures(state: State) -> list[dict]:
    return [e for k, v in state.artifacts.items() if k.startswith("parse_failures") for e in v]


def sample_suffix(s: int) -> tuple:
    return () if s == 0 else ("sample", s)


# --- critic --------------------------------------------------------------------------------

def test_list_critic_samples_are_joined_per_candidate_in_sample_order():
    ctx, log, task = component_context()
    seed = lambda s: ctx.seed("critic", "list", *sample_suffix(s), 0)  # noqa: E731
    answer_by_seed(ctx, {
        seed(0): "[1] Strengths: a0\n[2] Strengths: b0",
        seed(1): "[1] Strengths: a1",  # misses candidate 2: attached for 1, recorded
        seed(2): "[2] Strengths: b2\n[1] Strengths: a2",
    })
    config = CriticConfig(samples=3, temperature=0.7, parse_retries=0)
    out = asyncio.run(Critic(config).run(_state(task, 2), ctx))
    assert [c.feedback["critique"] for c in out.pool] == [
        "Strengths: a0\n\nStrengths: a1\n\nStrengths: a2",
        "Strengths: b0\n\nStrengths: b2"]
    assert len(log.calls) == 3
    (failure,) = _failures(out)
    assert failure["what"] == "critiques (sample 1) of 2 candidates (got 1)"


def test_each_critic_samples_call_once_per_candidate_and_sample():
    ctx, log, task = component_context()
    seed = lambda cid, s: ctx.seed("critic", cid, *sample_suffix(s), 0)  # noqa: E731
    answer_by_seed(ctx, {seed(cid, s): f"Strengths: {cid}/{s}"
                         for cid in ("c0", "c1") for s in (0, 1) if (cid, s) != ("c1", 0)})
    config = CriticConfig(mode="each", samples=2, temperature=0.7, parse_retries=0)
    out = asyncio.run(Critic(config).run(_state(task, 2), ctx))
    assert [c.feedback["critique"] for c in out.pool] == [
        "Strengths: c0/0\n\nStrengths: c0/1", "Strengths: c1/1"]
    assert len(log.calls) == 4
    assert [(f["candidate"], f["what"]) for f in _failures(out)] == [("c1", "critique")]
    # the failure is a run warning too, counted for the stage it happened in
    ledger = ctx.run_ctx.ledger
    assert [(w.kind, w.candidate, w.component) for w in ledger.warnings] == [
        ("parse_failure", "c1", "test")]
    assert ledger.meter("s").warnings == 1


def test_one_critic_sample_uses_the_seeds_it_always_used():
    ctx, _, task = component_context()
    answer_by_seed(ctx, {ctx.seed("critic", "list", 0): "[1] Strengths: same"})
    out = asyncio.run(Critic(CriticConfig(parse_retries=0)).run(_state(task, 1), ctx))
    assert out.pool[0].feedback["critique"] == "Strengths: same"


# --- verifier ------------------------------------------------------------------------------

def _verdicts(ctx: ComponentContext, table: dict[str, list[str]]) -> dict[int, str]:
    return {ctx.seed("verdict", cid, *sample_suffix(s), 0): text
            for cid, texts in table.items() for s, text in enumerate(texts)}


def test_verifier_samples_pass_on_a_strict_majority_of_readable_verdicts():
    ctx, log, task = component_context()
    answer_by_seed(ctx, _verdicts(ctx, {
        "c0": ["[Correct]", "[Correct]", "[Incorrect]"],   # 2/3: passes
        "c1": ["[Correct]", "[Incorrect]", "no idea"],     # 1/2 readable: a tie fails
        "c2": ["[Incorrect]"] * 3,                         # 0
    }))
    config = VerifierConfig(samples=3, temperature=0.7, parse_retries=0)
    out = asyncio.run(Verifier(config).run(_state(task, 3), ctx))
    assert [c.id for c in out.pool] == ["c0"]
    scores = {cid: ctx.run_ctx.candidates[cid].scores["verifier"] for cid in ("c0", "c1", "c2")}
    assert scores == {"c0": 2 / 3, "c1": 0.5, "c2": 0.0}
    assert len(log.calls) == 3 * 3 * 2  # reasoning + verdict per candidate and sample
    assert [(f["candidate"], f["what"]) for f in _failures(out)] == [
        ("c1", "verdict (sample 2)")]
    assert [(w.candidate, w.message.split(":")[0]) for w in ctx.run_ctx.ledger.warnings] == [
        ("c1", "verdict (sample 2)")]


def test_verifier_samples_with_first_k_stop_after_k_majority_passes():
    ctx, log, task = component_context()
    answer_by_seed(ctx, _verdicts(ctx, {"c0": ["[Incorrect]", "[Correct]"],  # tie: fails
                                        "c1": ["[Correct]", "[Correct]"]}))
    config = VerifierConfig(samples=2, temperature=0.7, parse_retries=0, first_k=1)
    out = asyncio.run(Verifier(config).run(_state(task, 4), ctx))
    assert [c.id for c in out.pool] == ["c1"]
    assert len(log.calls) == 2 * 2 * 2  # c0 and c1 checked; nothing after the first pass


def test_verifier_samples_with_no_majority_anywhere_pass_everything_on():
    ctx, _, task = component_context()
    answer_by_seed(ctx, _verdicts(ctx, {"c0": ["[Correct]", "[Incorrect]"],
                                        "c1": ["[Incorrect]", "[Incorrect]"]}))
    state = _state(task, 2)
    out = asyncio.run(Verifier(VerifierConfig(samples=2, parse_retries=0)).run(state, ctx))
    assert out.pool == state.pool


def test_combining_verdicts():
    assert combine_verdicts([True]) == 1.0 and combine_verdicts([False]) == 0.0
    assert combine_verdicts([None, None]) == 0.0
    assert combine_verdicts([True, None, False, True]) == 2 / 3
    assert not passes_majority(0.5) and passes_majority(0.51)
