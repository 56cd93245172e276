"""The litellm runtime: Archon's hosted providers through LiteLLM, tested with LiteLLM's mock
responses and against ``ttc serve`` (no network); each model its own key; without the extra,
a recipe naming it fails validation with the install hint."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from plugin_support import ttc_without

from ttc.background_loop import run_sync
from ttc.errors import RecipeError
from ttc.extras import missing
from ttc.pipeline import Pipeline
from ttc.plugins.runtimes.litellm import LiteLLMOptions, LiteLLMRuntime
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.plugins.server.background import BackgroundServer
from ttc.runtime import Capability, GenerateRequest, RequestError, SamplingParams

needs_litellm = pytest.mark.skipif(missing("litellm") is not None,
                                   reason="the litellm extra is not installed")

MIXED = """
name: mixed-providers
task: number
models:
  claude: {runtime: litellm, model: anthropic/claude-3-5-sonnet-20240620,
           options: {mock_response: "The answer is 5."}}
  gemini: {runtime: litellm, model: gemini/gemini-1.5-pro, options: {mock_response: "6"}}
  bedrock: {runtime: litellm, model: bedrock/anthropic.claude-3-haiku-20240307-v1:0,
            options: {mock_response: "5", extra: {aws_region_name: us-east-1}}}
stages:
  - - {use: generator, model: claude, samples: 2, max_tokens: 32}
    - {use: generator, model: gemini, samples: 1, max_tokens: 32}
    - {use: generator, model: bedrock, samples: 1, max_tokens: 32}
select: {use: majority}
"""


@pytest.fixture(scope="module")
def served() -> Iterator[BackgroundServer]:
    runtime = ScriptedRuntime("scripted-model", ScriptedOptions(
        responses=["the answer is 5", "6", "5"]))
    with BackgroundServer(runtime) as server:
        yield server


@needs_litellm
def test_mock_responses_run_a_recipe_mixing_providers_with_no_network():
    result = Pipeline.from_text(MIXED, store=False).run("2 + 3?")
    assert result.status == "succeeded" and result.answer == "5"
    by_model = sorted((c.origin.model, c.text) for c in result.candidates.values())
    assert by_model == [("bedrock", "5"), ("claude", "The answer is 5."),
                        ("claude", "The answer is 5."), ("gemini", "6")]
    # a provider that cannot return n choices gets n requests: 2 + 1 + 1 calls
    assert result.ledger.total.calls == 3
    assert all(c.tokens.count > 0 for c in result.candidates.values())  # counted from usage


@needs_litellm
def test_against_ttc_serve_one_request_carries_n_and_logprobs(served, monkeypatch):
    monkeypatch.setenv("SERVED_KEY", "sk-served-0123456789")
    runtime = LiteLLMRuntime.create("openai/scripted-model", LiteLLMOptions(
        api_base=served.url + "/v1", api_key_env="SERVED_KEY"))

    async def call():  # on ttc's own loop, as runs call it (LiteLLM keeps a task there)
        prompt = await runtime.render([{"role": "user", "content": "2 + 3?"}])
        return await runtime.generate(GenerateRequest(prompt=prompt, n=3, params=SamplingParams(
            max_tokens=16, temperature=0.7, seed=7)))

    out = run_sync(call())
    assert [c.text for c in out] == ["the answer is 5", "6", "5"]
    assert [len(c.logprobs) for c in out] == [4, 1, 1] and all(
        lp < 0 for c in out for lp in c.logprobs)
    assert out[0].prompt_tokens > 0


@needs_litellm
def test_a_recipe_on_ttc_serve_through_litellm(served):
    recipe = f"""
name: served
task: number
models:
  m: {{runtime: litellm, model: openai/scripted-model, options: {{api_base: "{served.url}/v1"}}}}
stages: [{{use: sample, n: 3, max_tokens: 16}}]
select: {{use: majority}}
"""
    result = Pipeline.from_text(recipe, store=False).run("2 + 3?")
    assert result.answer == "5" and result.ledger.total.calls == 1
    assert result.ledger.total.completion_tokens == 6


@needs_litellm
def test_each_model_reads_its_own_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-first-key-000")
    monkeypatch.setenv("TEAM_TOGETHER_KEY", "together-second-key-000")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    claude = LiteLLMRuntime.create("anthropic/claude-3-5-sonnet-20240620", LiteLLMOptions())
    together = LiteLLMRuntime.create("together_ai/Qwen/Qwen2-72B-Instruct",
                                     LiteLLMOptions(api_key_env="TEAM_TOGETHER_KEY"))
    gemini = LiteLLMRuntime.create("gemini/gemini-1.5-pro", LiteLLMOptions())
    request = GenerateRequest(prompt="hi")
    assert claude._arguments(request, frozenset())["api_key"] == "sk-ant-first-key-000"
    assert together._arguments(request, frozenset())["api_key"] == "together-second-key-000"
    assert "api_key" not in gemini._arguments(request, frozenset())  # LiteLLM's own lookup
    assert "first-key" not in repr(claude.options)


@needs_litellm
def test_a_named_key_variable_that_is_unset_is_an_error_naming_it(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE_KEY", raising=False)
    with pytest.raises(RequestError, match="NOT_SET_ANYWHERE_KEY, which is not set"):
        LiteLLMRuntime.create("anthropic/claude-3-5-sonnet-20240620",
                              LiteLLMOptions(api_key_env="NOT_SET_ANYWHERE_KEY"))


@needs_litellm
def test_validation_refuses_what_litellm_cannot_do():
    needs_logprobs = MIXED.replace("stages:\n", "stages:\n  - {use: confidence_pruning, "
                                   "model: claude}\n")
    with pytest.raises(RecipeError, match="needs logprobs, which runtime 'litellm'"):
        Pipeline.from_text(needs_logprobs)
    fuse = MIXED.replace("select: {use: majority}",
                         "  - {use: fuser, model: claude, length_control: true}\n"
                         "select: {use: first}")
    with pytest.raises(RecipeError, match="'fuser' needs tokenize"):
        Pipeline.from_text(fuse)
    assert Capability.TOKENIZE in LiteLLMRuntime.static_capabilities(LiteLLMOptions()) | (
        {Capability.TOKENIZE} if LiteLLMRuntime.tokenizes(LiteLLMOptions(tokenizer="/x"))
        else set())


def test_without_the_extra_the_plugin_is_unavailable_and_recipes_say_how_to_fix(tmp_path):
    rows = {r["name"]: r for r in json.loads(
        ttc_without({"litellm"}, "plugins", "--json").stdout)}
    row = rows["ttc.plugins.runtimes.litellm"]
    assert row["status"] == "unavailable"
    assert "pip install 'ttc-orchestrator[litellm]'" in row["problems"][0]
    assert row["provides"] == ["runtime:litellm"]
    recipe = tmp_path / "r.yaml"
    recipe.write_text(MIXED)
    done = ttc_without({"litellm"}, "validate", str(recipe))
    assert done.returncode == 2
    assert "pip install 'ttc-orchestrator[litellm]'" in done.stderr
    assert "unknown runtime" not in done.stderr
