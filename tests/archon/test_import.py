"""Archon configs import into ttc recipes that validate, keep every layer, and say what
they could not map."""

from __future__ import annotations

import json
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
                                             {"generator", "fuser"}):
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
        "options": {"base_url": "https://api.together.xyz/v1"}}
    assert models["gpt-4o"]["options"]["base_url"] == "https://api.openai.com/v1"
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
    assert "'Anthropic_API' has no ttc runtime" in text
    assert "'no_system' is not mapped" in text
    assert "runtime 'openai' is not installed" in text
    assert "explicit selector" in text
    verifier = result.recipe["stages"][1]
    assert verifier["use"] == "verifier" and verifier["first_k"] == 2


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
    assert '"use_critiques": true' in done.stdout  # the original, kept as a comment
    assert "explicit selector" in done.stderr
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
