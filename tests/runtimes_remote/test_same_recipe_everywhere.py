"""Done when: one recipe runs unchanged on ``local``, on ``sglang`` (through ``ttc serve``,
directly and through sglang-router) and on ``openai`` (``ttc serve``'s ``/v1``), changing only
the ``models:`` block; and self-certainty on SGLang in both honest forms."""

from __future__ import annotations

import pytest
from recipe_helpers import CallCollector, host_with, recipe

from ttc.pipeline import Pipeline
from ttc.plugins.cluster.launcher import Cluster
from ttc.plugins.server.background import BackgroundServer

pytestmark = [pytest.mark.model, pytest.mark.slow]

TASK = "What is 3 + 4? Answer with a number."


def run(models_block: str) -> tuple[list[str], str | None, CallCollector]:
    collector = CallCollector()
    result = Pipeline.from_text(recipe(models_block), host=host_with(collector)).run(TASK)
    assert result.status == "succeeded", result.error
    (call,) = collector.succeeded
    return [c.text for c in call.response or ()], result.answer, collector


def test_one_recipe_on_every_runtime(served: BackgroundServer, local_runtime) -> None:
    local = run("models:\n  m: {runtime: local}")
    direct = run(f"models:\n  m: {{runtime: sglang, options: {{url: '{served.url}'}}}}")
    chat = run(f"models:\n  m: {{runtime: openai, model: smollm2-135m, options: "
               f"{{base_url: '{served.url}/v1'}}}}")
    with Cluster(workers=1, serve_args=["-o", "threads=1"]) as cluster:
        routed = run(f"models:\n  m: {{runtime: sglang, options: {{url: '{cluster.url}'}}}}")
    # Same seed, same model, same template: the very same samples and answer everywhere.
    assert len(local[0]) == 3
    for other in (direct, chat, routed):
        assert other[0] == local[0]
        assert other[1] == local[1]
    assert direct[2].succeeded[0].runtime == "sglang" and chat[2].succeeded[0].runtime == "openai"


SELF_CERTAINTY = """
name: self-certainty-on-sglang
models:
  gen: {{runtime: sglang, options: {{url: '{url}'}}}}
  exact: {{runtime: local}}
task: number
seed: 1
stages:
  - {{use: sample, model: gen, n: 3, temperature: 0.8, max_tokens: 8, top_logprobs: 5}}
select: {select}
"""


def test_self_certainty_top_k_bound_and_exact_rescore(served: BackgroundServer,
                                                      local_runtime) -> None:
    bound = Pipeline.from_text(SELF_CERTAINTY.format(
        url=served.url, select="{use: self_certainty, source: topk_lb, k: 5, model: gen}"))
    exact = Pipeline.from_text(SELF_CERTAINTY.format(
        url=served.url, select="{use: self_certainty, source: rescore, model: exact}"))
    lb = bound.run(TASK)
    ex = exact.run(TASK)
    assert lb.status == ex.status == "succeeded"
    lb_scores = {c.text: c.scores for c in lb.candidates.values() if c.scores}
    ex_scores = {c.text: c.scores for c in ex.candidates.values() if c.scores}
    # Separate names, never mixed: the bound is labelled as such.
    assert all("self_certainty_topk_lb" in s and "self_certainty" not in s
               for s in lb_scores.values())
    assert all("self_certainty" in s and "self_certainty_topk_lb" not in s
               for s in ex_scores.values())
    # The same samples (same seed) scored both ways: the bound never exceeds the exact value
    # by more than the tail clamp allows.
    for text, scores in lb_scores.items():
        if text in ex_scores and ex_scores[text]["self_certainty"] > -1e8:
            assert scores["self_certainty_topk_lb"] <= ex_scores[text]["self_certainty"] + 1e-3


def test_exact_self_certainty_refuses_sglang_statistics(served: BackgroundServer) -> None:
    """``source: fulldist`` needs full distributions, which SGLang does not return."""
    from ttc.errors import RecipeError

    with pytest.raises(RecipeError, match="full_distribution"):
        Pipeline.from_text(SELF_CERTAINTY.format(
            url=served.url, select="{use: self_certainty, model: gen}"))
