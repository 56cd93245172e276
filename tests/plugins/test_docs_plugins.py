"""docs/plugins.md: its hook reference is what ttc.hookspecs says now (every hook, every
payload field), and its two tutorials run as written."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from ttc import PluginHost, hookspecs
from ttc.pipeline import Pipeline
from ttc.testing import check_component
from ttc.testing.hook_reference import COMMAND, hook_reference, section_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HOOKS = [name for name in vars(hookspecs) if name.startswith("ttc_")]


def test_the_hook_reference_is_current():
    assert section_of(DOC) == hook_reference(), (
        f"docs/plugins.md's hook reference is stale (a hook or a payload field changed): "
        f"run `{COMMAND}`")


def test_every_hook_is_documented_in_the_spec_and_the_page():
    text = DOC.read_text(encoding="utf-8")
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert f"#### `{name}(" in text


@pytest.mark.parametrize("type_name", ["RunInfo", "StageReport", "ModelCall", "RunResult",
                                       "Dataset"])
def test_every_field_a_hook_receives_is_documented(type_name):
    """What a lifecycle or registration hook is handed directly is documented field by
    field, in the source (the reference shows the docstrings)."""
    from ttc.testing.hook_reference import _fields, _type_names

    cls = _type_names(Path(hookspecs.__file__).read_text())[type_name]
    missing = [name for name, _, doc in _fields(cls) if not doc.strip()]
    assert missing == [], f"{type_name} fields without a docstring: {missing}"
    assert dataclasses.is_dataclass(cls)


def tutorial(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- tutorial: {re.escape(name)} -->\n```python\n(.*?)```", text,
                      re.DOTALL)
    assert match, f"tutorial {name} not found"
    return match.group(1)


def load(name: str, tmp_path: Path):
    path = tmp_path / name
    path.write_text(tutorial(name), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


RECIPE = """
name: tutorial
task: number
models: {m: {runtime: scripted, options: {responses: ["5", "It is 6", "five is 5"]}}}
stages:
  - {use: sample, n: 3}
  - - {use: generator, samples: 1}
    - {use: generator, samples: 2}
select: {use: confident_vote}
"""


def test_the_selector_tutorial_is_30_lines_runs_and_passes_the_kit(tmp_path):
    assert len(tutorial("confident_vote.py").splitlines()) <= 30
    module = load("confident_vote.py", tmp_path)
    host = PluginHost(load_entry_points=False)
    host.register(module, name="confident_vote")
    result = Pipeline.from_text(RECIPE, host=host, store=False).run("2 + 3?")
    assert result.status == "succeeded" and result.answer == "5"
    assert set(result.winner.scores) >= {"confident_vote"}
    check_component(module.ConfidentVote)


def test_the_call_logger_tutorial_is_20_lines_and_logs_every_call(tmp_path, monkeypatch):
    assert len(tutorial("call_log.py").splitlines()) <= 20
    module = load("call_log.py", tmp_path)
    host = PluginHost(load_entry_points=False)
    host.register(module, name="call_log")
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("TTC_CALL_LOG", str(log))
    recipe = RECIPE.replace("confident_vote", "majority")
    result = Pipeline.from_text(recipe, host=host, store=False).run("2 + 3?")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == result.ledger.total.calls == 3
    assert {line["run"] for line in lines} == {result.run_id}
    assert sorted(line["stage"] for line in lines) == ["1-sample", "2-generator",
                                                       "2-generator"]
    assert all(line["error"] is None and line["tokens"][2] > 0 for line in lines)
