"""The builder's recipe data: loading and exporting keeps a recipe equivalent (same data, same
compiled plan), keeps the ``source:`` block and header comments as written, and structural
edits make the shapes the compiler expects."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ttc import Pipeline
from ttc.ui import recipe_draft as rd
from ttc.ui.validation import recipe_issues

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "recipes").glob("*.yaml"))

IMPORTED = """\
# Imported from an Archon config by `ttc import-archon`; the original config
# is kept under `source:` (ignored by runs, exported with them).
name: imported
models:
  small: {runtime: local}
stages:
  - use: sample
    n: 2
source:
  format: archon   # where it came from
  # the original config, verbatim:
  config:
    name: imported
    layers: [[{type: generator, samples: 2}]]
select: {use: majority}
"""


def plan_summary(text: str) -> tuple:
    """What a compiled recipe does, independent of how its YAML is written."""
    plan = Pipeline.from_text(text, "<t>", store=False).plan

    def stages(items: tuple) -> list:
        out = []
        for item in items:
            if hasattr(item, "body"):
                out.append(("repeat", item.name, item.max_rounds, item.until, stages(item.body)))
            else:
                out.append((item.name, [(s.component.name, s.component.config, s.model)
                                        for s in item.steps]))
        return out

    select = None if plan.select is None else (plan.select.component.name,
                                               plan.select.component.config)
    models = {a: (b.runtime, b.model, b.options) for a, b in plan.models.items()}
    return (plan.name, plan.description, models, type(plan.task_format).__name__, plan.seed,
            plan.limits, stages(plan.stages), select)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_recipe_exports_to_the_same_data_and_plan(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    draft = rd.load_draft(text, path.name)
    assert rd.to_yaml(draft) == text  # unedited: the file itself, comments and all
    draft.data["name"] = draft.data["name"] + "-x"  # any edit: written from the data
    draft.data["name"] = draft.data["name"][:-2]
    assert not draft.edited
    draft.loaded_text = None
    exported = rd.to_yaml(draft)
    assert exported != text
    assert yaml.safe_load(exported) == yaml.safe_load(text)
    assert plan_summary(exported) == plan_summary(text)


def test_source_block_and_header_comments_survive_the_round_trip() -> None:
    draft = rd.load_draft(IMPORTED)
    draft.data["description"] = "edited"
    exported = rd.to_yaml(draft)
    del draft.data["description"]
    assert rd.to_yaml(draft) == IMPORTED
    exported = exported.replace("description: edited\n", "")
    assert yaml.safe_load(exported) == yaml.safe_load(IMPORTED)
    assert "  format: archon   # where it came from\n  # the original config, verbatim:\n" \
        in exported
    assert exported.startswith("# Imported from an Archon config")
    # source: stays between stages and select, where it was
    keys = [line.split(":")[0] for line in exported.splitlines() if line[:1].isalpha()]
    assert keys == ["name", "models", "stages", "source", "select"]


def test_an_edited_recipe_keeps_its_source_block_and_validates() -> None:
    draft = rd.load_draft(IMPORTED)
    draft.data["stages"][0]["n"] = 5
    rd.add_concurrent(draft.data, ("stages", 0), "sample")
    exported = rd.to_yaml(draft)
    data = yaml.safe_load(exported)
    assert data["stages"][0] == [{"use": "sample", "n": 5}, {"use": "sample"}]
    assert data["source"] == yaml.safe_load(IMPORTED)["source"]
    assert "# where it came from" in exported
    assert recipe_issues(exported, "x.yaml") == []


def test_structural_edits_build_concurrent_stages_and_repeat_blocks() -> None:
    data = rd.blank_draft().data
    rd.add_concurrent(data, ("stages", 0), "sample")
    assert rd.stage_kind(data["stages"][0]) == "concurrent"
    rd.add_repeat(data, ("stages",), "self_refine", max_rounds=3)
    rd.add_stage(data, ("stages", 1, "repeat", "stages"), "self_eval")
    assert data["stages"][1] == {"repeat": {"max_rounds": 3, "stages": [
        {"use": "self_refine"}, {"use": "self_eval"}]}}
    rd.move_stage(data, ("stages", 1), -1)
    assert rd.stage_kind(data["stages"][0]) == "repeat"
    rd.move_stage(data, ("stages", 0), -1)  # already first: nothing moves
    assert rd.stage_kind(data["stages"][0]) == "repeat"
    rd.remove_entry(data, ("stages", 1, 1), ("stages", 1))
    assert data["stages"][1] == [{"use": "sample", "n": 4, "max_tokens": 48}]
    rd.remove_entry(data, ("stages", 1, 0), ("stages", 1))  # last component: stage goes
    assert len(data["stages"]) == 1


def test_shorthand_entries_become_mappings_only_when_edited() -> None:
    data = {"stages": [["sample", "sample"]]}
    assert rd.entry_dict(data, ("stages", 0, 1)) == {"use": "sample"}
    assert data["stages"][0] == ["sample", {"use": "sample"}]


def test_text_that_is_not_a_recipe_mapping_is_refused_with_a_reason() -> None:
    with pytest.raises(rd.NotAMapping):
        rd.load_draft("- just\n- a list\n")
    with pytest.raises(yaml.YAMLError):
        rd.load_draft("name: [unclosed\n")
