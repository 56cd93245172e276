"""Archon configs import into ttc recipes that validate, keep every layer, and say what
they could not map."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ttc.pipeline import Pipeline
from ttc.plugin_system import default_host
from ttc.plugins.archon.importer import convert

CONFIGS = Path(__file__).resolve().parent / "configs"
GOOD = sorted(p for p in CONFIGS.glob("*.json") if p.stem != "unknown-type")


def load(name: str) -> dict:
    return json.loads((CONFIGS / name).read_text())


def _entries(stage) -> list[dict]:
    return stage if isinstance(stage, list) else [stage]


def _archon_layers(config: dict) -> list[list[dict]]:
    layers = []
    for layer in config["layers"]:
        if isinstance(layer, dict):
            layer = [{"type": "generator", **m} for m in layer["models"]]
        layers.append(layer)
    return layers


def test_there_are_at_least_five_configs():
    assert len(GOOD) >= 5


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_round_trip_keeps_every_layer_and_parameter(path):
    config = json.loads(path.read_text())
    result = convert(config, runtime="local")
    assert not result.errors
    text = yaml.safe_dump(result.recipe, sort_keys=False)
    recipe = yaml.safe_load(text)
    assert recipe == result.recipe  # YAML round trip is lossless
    plan = Pipeline.from_text(text).plan  # and it validates against the real registry
    assert len(plan.stages) == len(recipe["stages"]) == len(config["layers"])
    assert plan.select is not None and plan.select.component.name == "first"
    for layer, stage in zip(_archon_layers(config), recipe["stages"], strict=True):
        entries = _entries(stage)
        assert [e["use"] for e in entries] == [c.get("type", "generator") for c in layer]
        for component, entry in zip(layer, entries, strict=True):
            assert entry["temperature"] == component["temperature"]
            for key in ("samples", "top_k", "use_critiques", "unit_test_cap", "length_control",
                        "max_tokens"):
                if key in component and not (key == "samples" and entry["use"] not in
                                             {"generator", "fuser", "critic", "verifier"}):
                    if key == "max_tokens" and entry["use"] == "unit_test_evaluator":
                        continue
                    assert entry[key] == component[key], (key, entry)


def test_ensembles_become_one_stage_of_several_generators_with_their_own_models():
    recipe = convert(load("ensemble-rank-fuse.json")).recipe
    first = recipe["stages"][0]
    assert [e["use"] for e in first] == ["generator"] * 3
    assert len({e["model"] for e in first}) == 3
    models = recipe["models"]
    assert models["qwen2-72b-instruct"] == {
        "runtime": "openai", "model": "Qwen/Qwen2-72B-Instruct",
        "options": {"base_url": "https://api.together.xyz/v1", "api_key_env": "TOGETHER_API_KEY"}}
    # OpenAI's own API: the runtime's default address (OPENAI_BASE_URL, else OpenAI's)
    assert models["gpt-4o"] == {"runtime": "openai", "model": "gpt-4o"}
    # the ranker reuses the generator's alias for the same (model, model_type)
    assert recipe["stages"][1]["model"] == "qwen2-72b-instruct"


def test_quickstart_advanced_warns_about_stale_critiques():
    result = convert(load("quickstart-advanced.json"))
    stale = [w for w in result.warnings if "quickstart-advanced" in w]
    assert len(stale) == 2  # the ranker (layer 3) and the last fuser (layer 4)
    assert "layer 3: a ranker" in stale[0] and "even with use_critiques false" in stale[0]


def test_critic_right_before_its_readers_does_not_warn():
    result = convert(load("critic-rank-fuse.json"))
    assert not [w for w in result.warnings if "quickstart-advanced" in w]


def test_unmappable_things_are_reported():
    result = convert(load("verify.json"), registered=["local", "scripted"])
    text = "\n".join(result.warnings)
    assert "runtime 'openai' is not installed" in text
    assert "runtime 'litellm' is not installed" in text
    assert "verifier call with a system message of its own" in text
    assert "explicit selector" in text  # a verifier can pass every candidate
    assert "no_system" not in text  # mapped: see test_system_prompts_and_no_system_are_kept
    verifier = result.recipe["stages"][1]
    assert verifier["use"] == "verifier" and verifier["first_k"] == 2
    assert result.recipe["models"]["claude-3-5-sonnet-20240620"] == {
        "runtime": "litellm", "model": "anthropic/claude-3-5-sonnet-20240620"}


def test_unknown_component_types_are_errors():
    result = convert(load("unknown-type.json"))
    assert result.errors == ["layer 1 component 0: unknown component type 'mystery_booster'"]


def test_unit_test_evaluator_first_k_zero_means_off():
    stage = convert(load("unit-tests.json")).recipe["stages"][2]
    assert stage["use"] == "unit_test_evaluator" and "first_k" not in stage
    assert stage["top_k"] == 2


def test_the_command_prints_a_recipe_and_the_original_json(tmp_path):
    path = CONFIGS / "critic-rank-fuse.json"
    done = subprocess.run([sys.executable, "-m", "ttc", "import-archon", str(path),
                           "--runtime", "local"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    recipe = yaml.safe_load(done.stdout)
    assert recipe["name"] == "critic-rank-fuse"
    # the original, kept verbatim under source: for lossless export
    assert recipe["source"] == {"format": "archon", "config": json.loads(path.read_text())}
    assert "system message of its own" in done.stderr  # the report goes to stderr
    assert "explicit selector" not in done.stderr  # its last layer fuses into one candidate
    Pipeline.from_text(done.stdout)


def test_the_command_refuses_unknown_types():
    done = subprocess.run([sys.executable, "-m", "ttc", "import-archon",
                           str(CONFIGS / "unknown-type.json")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "mystery_booster" in done.stderr
    assert done.stdout == ""


def test_custom_components_resolve_by_name():
    config = {"name": "c", "layers": [[{"type": "generator", "model": "x", "model_type": "vLLM",
                                        "temperature": 0.1, "max_tokens": 8}],
                                      [{"type": "majority", "custom": True, "model": "x",
                                        "model_type": "vLLM", "temperature": 0.0}]]}
    result = convert(config, known_components=default_host().registry.components)
    assert not result.errors and result.recipe["stages"][1]["use"] == "majority"


BROKEN = {"unknown-type"}
"""Deliberately not importable."""
REFUSED = {"critic-rank-fuse": "'fuser' needs tokenize, which runtime 'openai'"}
"""Import, but ``ttc validate`` refuses them as a run would fail (a fuser's length_control
on an API model without a local tokenizer; the importer says so too)."""
LITELLM = {"verify", "claude-critic-fuse", "every-provider"}
"""Name Anthropic, Google or Bedrock models: the litellm runtime (an optional extra)."""


def test_imported_configs_validate_with_ttc_validate_against_the_real_runtimes(tmp_path):
    registry = default_host().registry
    files = {}
    for path in sorted(CONFIGS.glob("*.json")):
        if path.stem in BROKEN:
            continue
        result = convert(json.loads(path.read_text()), registered=registry.runtimes,
                         known_components=registry.components)
        assert not result.errors, (path.stem, result.errors)
        files[path.stem] = tmp_path / f"{path.stem}.yaml"
        files[path.stem].write_text(yaml.safe_dump(result.recipe, sort_keys=False))
    skip = set(REFUSED) | (set() if litellm_installed() else LITELLM)
    good = [str(f) for stem, f in files.items() if stem not in skip]
    assert len(good) >= 5
    wide = {**os.environ, "COLUMNS": "1000"}  # rich wraps long paths otherwise
    done = subprocess.run([sys.executable, "-m", "ttc", "validate", *good],
                          capture_output=True, text=True, timeout=120, env=wide)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok") == len(good)
    for stem, problem in REFUSED.items():
        done = subprocess.run([sys.executable, "-m", "ttc", "validate", str(files[stem])],
                              capture_output=True, text=True, timeout=120, env=wide)
        assert done.returncode == 2 and problem in done.stderr
        assert "1 problem(s) found" in done.stderr


def litellm_installed() -> bool:
    from ttc.extras import missing

    return missing("litellm") is None


def test_imported_recipes_keep_the_original_config_and_never_a_key():
    config = load("ensemble-rank-fuse.json")
    result = convert(config)
    assert result.recipe["source"] == {"format": "archon", "config": config}
    plan = Pipeline.from_text(yaml.safe_dump(result.recipe, sort_keys=False)).plan
    assert plan.data["source"]["config"] == config  # the compiler accepts and keeps it
    assert all("api_key" not in spec.get("options", {})
               for spec in result.recipe["models"].values())
    models = result.recipe["models"]
    assert {alias: spec.get("options", {}).get("api_key_env") for alias, spec in models.items()
            } == {"qwen2-72b-instruct": "TOGETHER_API_KEY",
                  "meta-llama-3.1-70b-instruct-turbo": "TOGETHER_API_KEY", "gpt-4o": None}
    notes = "\n".join(result.warnings)  # each model names its own key: nothing to warn about
    assert "API_KEY" not in notes and "gateway" not in notes


def test_the_command_writes_no_key_from_the_environment():
    env = {**os.environ, "OPENAI_API_KEY": "sk-sentinel-1",
           "TOGETHER_API_KEY": "sentinel-2"}
    done = subprocess.run([sys.executable, "-m", "ttc", "import-archon",
                           str(CONFIGS / "ensemble-rank-fuse.json")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "sentinel" not in done.stdout + done.stderr


def test_self_hosted_addresses_and_length_control_tokenizers_are_reported():
    notes = "\n".join(convert(load("unit-tests.json")).warnings)
    assert "http://localhost:8000/v1 is a guess" in notes
    notes = "\n".join(convert(load("critic-rank-fuse.json")).warnings)
    assert "length_control" in notes and "tokenizer" in notes


def test_a_source_block_must_be_a_mapping():
    from ttc.errors import RecipeError

    text = "name: x\nmodels: {m: {runtime: scripted}}\nstages: [{use: generator}]\nsource: 3\n"
    with pytest.raises(RecipeError, match="'source' must be a mapping"):
        Pipeline.from_text(text)
