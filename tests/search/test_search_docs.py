"""docs/search.md stays true: its step-scorer section is what the registry generates, every
step scorer parameter is documented, and its example recipe validates."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import ttc
from ttc.plugin_system import PluginHost
from ttc.plugins.search.reference import step_scorer_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "search.md"


def test_the_step_scorer_section_is_current() -> None:
    section = step_scorer_reference(PluginHost(load_entry_points=False).registry)
    assert section in DOC.read_text(encoding="utf-8"), (
        "docs/search.md is stale: run `python -m ttc.plugins.search.reference --write "
        "docs/search.md`")


def test_every_step_scorer_parameter_is_documented() -> None:
    registry = PluginHost(load_entry_points=False).registry
    undocumented = [f"{name}.{field}" for name, entry in registry.step_scorers.items()
                    for field, info in entry.obj.Config.model_fields.items()
                    if not (info.description or "").strip()]
    assert undocumented == []


def test_the_example_recipe_validates() -> None:
    first = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)[0]
    plan = ttc.Pipeline.from_dict(yaml.safe_load(first)).plan
    (stage,) = plan.stages
    assert stage.steps[0].component.name == "beam_search"
