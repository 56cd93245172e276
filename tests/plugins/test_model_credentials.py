"""Each model names the environment variable that holds its key (one recipe can mix
providers), and ``ttc validate`` refuses what a run would fail on for want of a tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttc.errors import RecipeError
from ttc.pipeline import Pipeline
from ttc.plugins.runtimes.openai import OpenAIOptions, OpenAIRuntime
from ttc.runtime import RequestError

ROOT = Path(__file__).resolve().parents[2]


async def test_openai_models_each_use_the_key_their_variable_holds(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-default-0000")
    monkeypatch.setenv("TOGETHER_API_KEY", "together-key-1111")
    monkeypatch.setenv("GROQ_API_KEY", "gsk-groq-key-2222")
    gpt = OpenAIRuntime.create("gpt-4o", OpenAIOptions())
    qwen = OpenAIRuntime.create("Qwen/Qwen2-72B-Instruct", OpenAIOptions(
        base_url="https://api.together.xyz/v1", api_key_env="TOGETHER_API_KEY"))
    llama = OpenAIRuntime.create("llama-3.1-70b-versatile", OpenAIOptions(
        base_url="https://api.groq.com/openai/v1", api_key_env="GROQ_API_KEY"))
    assert [r._client().api_key for r in (gpt, qwen, llama)] == [
        "sk-openai-default-0000", "together-key-1111", "gsk-groq-key-2222"]
    assert "together-key" not in repr(qwen.options)  # the options hold the name only


def test_a_named_variable_that_is_unset_fails_before_any_call(monkeypatch):
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    with pytest.raises(RequestError, match="TOGETHER_API_KEY, which is not set"):
        OpenAIRuntime.create("Qwen/Qwen2-72B-Instruct", OpenAIOptions(
            api_key_env="TOGETHER_API_KEY"))


def test_an_explicit_key_wins_over_the_variable(monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", "from-the-environment")
    runtime = OpenAIRuntime.create("m", OpenAIOptions(api_key="sk-inline-0000",
                                                      api_key_env="TOGETHER_API_KEY"))
    assert runtime._key == "sk-inline-0000"


def test_the_variable_name_must_be_a_variable_name():
    with pytest.raises(RecipeError, match="api_key_env"):
        Pipeline.from_text("name: x\nmodels: {m: {runtime: openai, model: g, options: "
                           "{api_key_env: 'not a name'}}}\nstages: [{use: generator}]\n")


FUSE = """
name: length-control
models:
  m: {runtime: openai, model: gpt-4o-mini, options: %s}
stages:
  - {use: generator, samples: 2}
  - {use: fuser, length_control: true}
select: {use: first}
"""


def test_length_control_without_a_tokenizer_fails_validation_not_the_run():
    with pytest.raises(RecipeError, match="'fuser' needs tokenize, which runtime 'openai'"):
        Pipeline.from_text(FUSE % "{}")
    Pipeline.from_text(FUSE % "{tokenizer: /models/gpt-tokenizer}")  # validates
    Pipeline.from_text(FUSE.replace("length_control: true", "length_control: false") % "{}")


def fusers_with_length_control(pipeline: Pipeline) -> list[str]:
    return [step.component.name for stage in pipeline.plan.stages
            for step in getattr(stage, "steps", ())
            if getattr(step.component.config, "length_control", False)]


def test_runtimes_that_tokenize_still_take_length_control():
    local = Pipeline.from_yaml(ROOT / "recipes" / "archon-sample-rank-fuse.yaml")
    scripted = Pipeline.from_text(
        FUSE.replace("runtime: openai, model: gpt-4o-mini", "runtime: scripted") % "{}")
    assert [m.runtime for m in local.plan.models.values()] == ["local"]
    assert [m.runtime for m in scripted.plan.models.values()] == ["scripted"]
    assert fusers_with_length_control(local) == ["fuser"]
    assert fusers_with_length_control(scripted) == ["fuser"]
