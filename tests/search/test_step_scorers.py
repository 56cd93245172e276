"""Step scorers: the registration hook, ``scorer:`` in recipes, and each built-in scorer's
contract (scores in [0, 1], one per step, what each reads and what it costs)."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from search_support import TreeRuntime, record, run_search, search_test_scorers

import ttc
from ttc import hookimpl
from ttc.context import ComponentContext, RunContext
from ttc.errors import RecipeError
from ttc.events import RunInfo
from ttc.plugin_system import PluginHost
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.plugins.search import (
    Cost,
    IncrementalStepScorer,
    PartialSolution,
    Problem,
    ProcessRewardModel,
    Step,
)
from ttc.plugins.search.scorers.arithmetic import step_arithmetic
from ttc.plugins.search.scorers.self_eval import SelfEvalStep
from ttc.plugins.search.scorers.token_confidence import MeanLogprob, SelfCertainty
from ttc.plugins.selectors.weighted_best_of_n import aggregate
from ttc.recipe.plan import Limits
from ttc.registry import RegistrationError, Registry
from ttc.runtime import Capability, Completion
from ttc.state import Task
from ttc.task_format import NoAnswer


def context(runtime=None) -> ComponentContext:
    runtime = runtime or ScriptedRuntime("scripted", ScriptedOptions())
    run = RunInfo(run_id="r-test", recipe_name="t", recipe_text="", recipe_hash="",
                  task=Task(prompt="What is 6*7?"), seed=0)
    host = PluginHost(load_entry_points=False)
    run_ctx = RunContext(run=run, runtimes={"m": runtime}, task_format=NoAnswer(),
                         hook=host.hook, limits=Limits(), semaphore=asyncio.Semaphore(4))
    return ComponentContext(run_ctx, stage="s", component="test", index=0, model="m")


PROBLEM = Problem("What is 6*7?", ({"role": "user", "content": "What is 6*7?"},))


def solution(*texts: str, completion: Completion | None = None) -> PartialSolution:
    return PartialSolution(tuple(Step(t + "\n\n", completion, "\n\n") for t in texts))


# --- registration ---------------------------------------------------------------------------


def test_the_built_in_step_scorers_are_registered_through_the_hook() -> None:
    registry = PluginHost(load_entry_points=False).registry
    assert {"self_eval", "arithmetic", "mean_logprob", "self_certainty", "prm"} <= set(
        registry.step_scorers)
    assert registry.step_scorers["prm"].plugin == "ttc.plugins.search.scorers.prm"


def test_a_plugin_registers_a_process_reward_model_of_its_own() -> None:
    class LengthPRM(ProcessRewardModel):
        name = "length_prm"
        uses_model = False

        async def rewards(self, question, solutions, ctx):
            return [[1.0 / (1 + len(step)) for step in steps] for steps in solutions]

    class Plugin:
        @hookimpl
        def ttc_register_step_scorers(self, register):
            register(LengthPRM)

    host = PluginHost(load_entry_points=False)
    host.register(Plugin(), name="third-party")
    assert host.registry.step_scorers["length_prm"].plugin == "third-party"
    scores = asyncio.run(LengthPRM().score(PROBLEM, [solution("ab", "abcd")], context()))
    assert scores == [[1 / 3, 1 / 5]]  # the steps without their delimiter


@pytest.mark.parametrize(("thing", "missing"), [
    (object(), "not a step scorer class"),
    (type("NoName", (), {"Config": Cost}), "a text 'name'"),
    (type("SyncScore", (IncrementalStepScorer,), {"name": "x", "score": lambda self: 0}),
     "an async 'score'"),
])
def test_a_step_scorer_that_does_not_fit_is_refused_naming_the_plugin(thing, missing) -> None:
    with pytest.raises(RegistrationError) as error:
        Registry().add_step_scorer(thing, "p")
    assert missing in str(error.value) and "'p'" in str(error.value)


def test_two_step_scorers_of_one_name_are_refused() -> None:
    registry = Registry()
    registry.add_step_scorer(MeanLogprob, "a")

    class Other(MeanLogprob):
        pass

    with pytest.raises(RegistrationError, match="registered twice"):
        registry.add_step_scorer(Other, "b")


# --- scorer: in recipes ---------------------------------------------------------------------


def compile_text(scorer: str) -> None:
    text = ("name: t\nmodels: {m: {runtime: scripted}}\nstages:\n  - use: beam_search\n"
            f"    scorer: {scorer}\n")
    ttc.Pipeline.from_text(text)


def test_an_unknown_step_scorer_is_a_recipe_error_with_its_line_and_a_hint() -> None:
    with pytest.raises(RecipeError) as error:
        compile_text("{use: self_evl}")
    (issue,) = error.value.issues
    assert "<recipe>:5:" in str(issue) and "did you mean 'self_eval'" in str(issue)


def test_a_bad_step_scorer_parameter_is_a_recipe_error() -> None:
    with pytest.raises(RecipeError, match=r"no_claim.*its parameters: no_claims"):
        compile_text("{use: arithmetic, no_claim: 1}")
    with pytest.raises(RecipeError, match="no_claims"):
        compile_text("{use: arithmetic, no_claims: 2}")


def test_the_prm_scorer_must_name_its_model() -> None:
    with pytest.raises(RecipeError, match="model: ALIAS"):
        compile_text("{use: prm}")


def test_a_scorer_that_reads_token_statistics_needs_them_from_the_search_model() -> None:
    class NoLogprobs(ScriptedRuntime):
        capabilities = frozenset({Capability.SAMPLES})

        @classmethod
        def static_capabilities(cls, options):
            return cls.capabilities

    class Plugin:
        @hookimpl
        def ttc_register_runtimes(self, register):
            NoLogprobs.name = "no_logprobs"
            register(NoLogprobs)

    host = PluginHost(load_entry_points=False)
    host.register(Plugin(), name="rt")
    text = ("name: t\nmodels: {m: {runtime: no_logprobs}}\nstages:\n  - use: dvts\n"
            "    scorer: {use: mean_logprob}\n")
    with pytest.raises(RecipeError, match="needs logprobs"):
        ttc.Pipeline.from_text(text, host=host)


# --- the built-in scorers -------------------------------------------------------------------


class Counting(IncrementalStepScorer):
    name = "counting"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    async def score_last(self, problem, solutions, ctx):
        self.seen += [len(s.steps) for s in solutions]
        return [0.25 for _ in solutions]


def test_an_incremental_scorer_scores_only_the_steps_it_does_not_know() -> None:
    scorer = Counting()
    known = PartialSolution(solution("a", "b", "c").steps, (0.9, 0.8))
    scores = asyncio.run(scorer.score(PROBLEM, [known, solution("x", "y")], context()))
    assert scores == [[0.9, 0.8, 0.25], [0.25, 0.25]]
    assert scorer.seen == [3, 1, 2]  # the new step of the first; both steps of the second


@pytest.mark.parametrize(("text", "score"), [
    ("48 - 32 = 16", 1.0), ("48 - 32 = 11.11", 0.0), ("So 2 + 3 = 5 and 4 * 4 = 15", 0.5),
    ("First, read the question.", 1.0)])
def test_the_arithmetic_scorer_is_the_share_of_equations_that_hold(text, score) -> None:
    assert step_arithmetic(text) == score
    assert step_arithmetic(text, no_claims=0.3) == (0.3 if "=" not in text else score)


@settings(max_examples=60, deadline=None)
@given(logprobs=st.lists(st.floats(-30, 0), min_size=1, max_size=20),
       kl=st.lists(st.floats(0, 50), min_size=1, max_size=20))
def test_token_confidence_scores_are_probabilities(logprobs, kl) -> None:
    completion = Completion("x", tuple(range(len(logprobs))), tuple(logprobs), "stop", 1,
                            kl_uniform=tuple(kl))
    sol = [solution("x", completion=completion)]
    (mean,) = asyncio.run(MeanLogprob().score_last(PROBLEM, sol, context()))
    (certain,) = asyncio.run(SelfCertainty().score_last(PROBLEM, sol, context()))
    assert 0.0 < mean <= 1.0
    assert mean == pytest.approx(math.exp(sum(logprobs) / len(logprobs)))
    assert 0.0 <= certain < 1.0 or (certain == 1.0 and sum(kl) / len(kl) > 36)
    more = Completion("x", completion.token_ids, completion.logprobs, "stop", 1,
                      kl_uniform=tuple(x + 1.0 for x in kl))
    (higher,) = asyncio.run(SelfCertainty().score_last(
        PROBLEM, [solution("x", completion=more)], context()))
    assert higher >= certain  # monotone in self-certainty


def test_a_step_without_statistics_is_unscored_not_guessed() -> None:
    sol = [solution("x")]
    assert asyncio.run(MeanLogprob().score_last(PROBLEM, sol, context())) == [None]
    assert asyncio.run(SelfCertainty().score_last(PROBLEM, sol, context())) == [None]


def test_self_evaluation_is_one_score_call_per_batch_over_the_cached_prefix() -> None:
    ctx = context()
    sols = [solution("d0 v1"), solution("d0 v2", "d1 v3"), solution("d0 v4")]
    before = ctx.run_ctx.ledger.total.calls
    scores = asyncio.run(SelfEvalStep().score_last(PROBLEM, sols, ctx))
    assert ctx.run_ctx.ledger.total.calls - before == 1
    assert all(s is not None and 0.0 <= s <= 1.0 for s in scores)
    caps = ctx.runtime().capabilities
    assert SelfEvalStep().max_cost(3, caps) == Cost(calls=1)
    assert SelfEvalStep().max_cost(3, frozenset({Capability.TOP_LOGPROBS})) == Cost(3, 3)


class SpyTree(TreeRuntime):
    """A TreeRuntime that keeps the prompts of its score calls."""

    def __init__(self) -> None:
        super().__init__()
        self.score_prompts: list[str] = []

    async def score(self, requests):
        self.score_prompts.extend(r.prompt for r in requests)
        return await super().score(requests)


def test_the_self_evaluation_prompt_continues_the_step_prompt() -> None:
    """It starts with a step prompt plus the step drawn there, so the prefix cache already
    holds everything before the question."""
    runtime = SpyTree()
    result = run_search({"use": "beam_search", "n": 2, "beam_width": 1, "max_steps": 3,
                         "scorer": {"use": "self_eval"}}, runtime=runtime)
    steps = {c.text.rstrip("\n").split("\n\n")[-1] for c in result.candidates.values()}
    assert len(runtime.score_prompts) == len(result.candidates)
    for prompt in runtime.score_prompts:
        assert any(prompt.startswith(r.prompt + step) for r in runtime.requests
                   for step in steps)
        assert prompt.endswith("Answer Yes or No.</user>\n<assistant>")


# --- aggregation (docs/methods.md S9) -------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12))
def test_for_scores_in_the_unit_interval_prod_is_at_most_min_at_most_last(scores) -> None:
    assert aggregate(scores, "prod") <= aggregate(scores, "min") + 1e-12
    assert aggregate(scores, "min") <= aggregate(scores, "last")


@pytest.mark.parametrize("agg", ["last", "min", "prod", "mean"])
def test_the_search_ranks_by_the_aggregate_weighted_best_of_n_reads(agg) -> None:
    with search_test_scorers():
        result = run_search({"use": "beam_search", "n": 4, "beam_width": 2, "max_steps": 3,
                             "agg": agg, "scorer": {"use": "stated_value"}},
                            select={"use": "weighted_best_of_n", "score": "prm",
                                    "mode": "naive", "agg": agg})
    for c in result.candidates.values():
        steps = [c.scores[f"prm#{i}"] for i in range(c.artifacts["search"]["depth"])]
        assert c.scores["search_score"] == pytest.approx(aggregate(steps, agg))
    best = max(result.candidates.values(),
               key=lambda c: (c.artifacts["search"].get("final", False),
                              c.scores["search_score"]))
    assert result.winner.scores["search_score"] == pytest.approx(best.scores["search_score"])
    assert record(result)["completed"] == 4
