"""Every Archon model_type lands on a runtime that exists, with its own key variable;
Archon's implicit system messages and no_system reach the model as Archon sends them; the
random-pick warning appears only when several candidates can reach it; and every config in
tests/archon/configs imports, validates and runs on the scripted runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ttc import PluginHost, hookimpl
from ttc.errors import RecipeError
from ttc.extras import missing
from ttc.pipeline import Pipeline
from ttc.plugins.archon.importer import convert, max_pool
from ttc.plugins.archon.providers import PROVIDERS
from ttc.plugins.archon.system_prompts import GENERATOR

CONFIGS = Path(__file__).resolve().parent / "configs"
RUNNABLE = sorted(p for p in CONFIGS.glob("*.json") if p.stem != "unknown-type")
ARCHON_TYPES = {"Together_API", "OpenAI_API", "Anthropic_API", "Groq_API", "Google_API", "tgi",
                "Bedrock_API", "vLLM"}
"""docs/methods.md §9: the model types Archon's code knows."""
REGISTRY = PluginHost(load_entry_points=False).registry


def layer(*components: dict) -> dict:
    return {"name": "t", "layers": [list(components)]}


def gen(model_type: str, model: str = "m", **extra) -> dict:
    return {"type": "generator", "model": model, "model_type": model_type,
            "temperature": 0.7, "max_tokens": 64, **extra}


@pytest.mark.parametrize("model_type", sorted(ARCHON_TYPES))
def test_every_archon_model_type_maps_to_a_registered_runtime(model_type):
    result = convert(layer(gen(model_type)), registered=REGISTRY.runtimes)
    (spec,) = result.recipe["models"].values()
    assert spec["runtime"] in REGISTRY.runtimes
    assert not [w for w in result.warnings if "not installed" in w or "custom" in w]
    assert set(PROVIDERS) >= ARCHON_TYPES


def test_providers_are_reached_the_way_archon_reaches_them():
    config = json.loads((CONFIGS / "every-provider.json").read_text())
    models = convert(config).recipe["models"]
    assert models["gemini-1.5-pro"] == {"runtime": "litellm", "model": "gemini/gemini-1.5-pro",
                                        "options": {"api_key_env": "GOOGLE_API_KEY"}}
    bedrock = models["anthropic.claude-3-haiku-20240307-v1-0"]
    assert bedrock == {"runtime": "litellm",
                       "model": "bedrock/anthropic.claude-3-haiku-20240307-v1:0"}
    # Archon's TGI: the model field is the server's address
    assert models["tgi"] == {"runtime": "openai", "model": "tgi",
                            "options": {"base_url": "http://localhost:8080/v1/"}}
    assert models["mixtral-8x7b-32768"]["options"]["api_key_env"] == "GROQ_API_KEY"


class Prompts:
    """Records each generate call's prompt by model alias."""

    def __init__(self) -> None:
        self.by_alias: dict[str, list[str]] = {}

    @hookimpl
    def ttc_model_called(self, run, call):
        if call.kind == "generate":
            self.by_alias.setdefault(call.model_alias, []).append(call.request.prompt)


def test_system_prompts_and_no_system_are_kept():
    config = layer(gen("Anthropic_API", "claude", samples=2),
                   gen("Groq_API", "llama", samples=2, no_system=True))
    result = convert(config, runtime="scripted")
    first, second = result.recipe["stages"][0]
    assert first["system"] == GENERATOR and "system" not in second
    host = PluginHost(load_entry_points=False)
    prompts = Prompts()
    host.register(prompts, name="prompts")
    text = yaml.safe_dump(result.recipe, sort_keys=False)
    Pipeline.from_text(text, host=host, store=False).run("What is 2 + 3?")
    (claude,), (llama,) = prompts.by_alias["claude"], prompts.by_alias["llama"]
    assert claude.startswith(f"<system>{GENERATOR}</system>")
    assert "<system>" not in llama  # Archon drops the system message: none is sent


@pytest.mark.parametrize(("last", "warned"), [
    ({"type": "fuser", "samples": 1}, False),
    ({"type": "ranker", "top_k": 1}, False),
    ({"type": "fuser", "samples": 3}, True),
    ({"type": "ranker", "top_k": 2}, True),
    ({"type": "verifier", "samples": 1}, True),
    ({"type": "critic", "samples": 1}, True),
])
def test_the_random_pick_is_reported_only_when_several_can_survive(last, warned):
    component = {"model": "m", "model_type": "OpenAI_API", "temperature": 0.0,
                 "max_tokens": 32, **last}
    config = {"name": "t", "layers": [[gen("OpenAI_API", samples=3)], [component]]}
    result = convert(config)
    assert any("random surviving candidate" in w for w in result.warnings) is warned


def test_pool_sizes_follow_archon():
    assert max_pool([[{"use": "generator", "samples": 2}, {"use": "generator"}],
                     {"use": "critic"}, {"use": "ranker", "top_k": 5}]) == 3
    assert max_pool([{"use": "generator", "samples": 4}, {"use": "mystery"}]) is None


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p.stem)
def test_every_config_imports_validates_and_runs_on_the_scripted_runtime(path):
    config = json.loads(path.read_text())
    imported = convert(config, registered=REGISTRY.runtimes,
                       known_components=REGISTRY.components)
    assert not imported.errors
    layers = len(config["layers"])
    recipe = imported.recipe
    if any("length_control" in w for w in imported.warnings):  # as the note says:
        with pytest.raises(RecipeError, match="'fuser' needs tokenize"):
            Pipeline.from_text(yaml.safe_dump(recipe, sort_keys=False))
        for spec in recipe["models"].values():  # … until the model has a tokenizer
            spec.setdefault("options", {})["tokenizer"] = "/models/its-tokenizer"
    text = yaml.safe_dump(recipe, sort_keys=False)
    if missing("litellm") and any(m["runtime"] == "litellm" for m in recipe["models"].values()):
        with pytest.raises(RecipeError, match=r"ttc-orchestrator\[litellm\]"):
            Pipeline.from_text(text)  # without the extra: the install hint, at validation
    else:
        assert len(Pipeline.from_text(text).plan.stages) == layers
    scripted = convert(config, runtime="scripted").recipe
    result = Pipeline.from_text(yaml.safe_dump(scripted, sort_keys=False), store=False).run(
        "Write one sentence about the number 42.")
    assert result.status == "succeeded", result.error
    assert len(result.stages) == layers + 1 and result.answer == "42"
