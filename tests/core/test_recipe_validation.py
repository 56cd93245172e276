"""Every validation error names file, line, column and a fix, and all come out at once."""

from __future__ import annotations

from typing import ClassVar

import pytest

from ttc import Capability, Component, Effect, PluginHost, hookimpl
from ttc.errors import RecipeError
from ttc.pipeline import Pipeline
from ttc.runtime import RuntimeOptions

MODELS = "models:\n  s: {runtime: scripted}\n"


def issues_of(text: str, host: PluginHost | None = None, source: str = "r.yaml"):
    with pytest.raises(RecipeError) as caught:
        Pipeline.from_text(text, source, **({"host": host} if host else {}))
    return caught.value.issues


def one(text: str, host: PluginHost | None = None):
    found = issues_of(text, host)
    assert len(found) == 1, [str(i) for i in found]
    return found[0]


def test_a_valid_recipe_compiles():
    p = Pipeline.from_text(
        MODELS + "name: ok\nstages:\n  - use: sample\n    n: 2\nselect: {use: majority}\n"
    )
    assert p.plan.name == "ok"
    assert p.plan.stages[0].name == "1-sample"


def test_malformed_yaml_points_at_the_problem():
    issue = one("name: x\nstages:\n  - use: sample\n   n: 2\n")
    assert issue.source == "r.yaml" and issue.line == 4
    assert "not valid YAML" in issue.message and issue.fix


def test_unknown_component_suggests_the_closest():
    issue = one(MODELS + "name: x\nstages:\n  - use: sampel\n")
    assert (issue.line, issue.column) == (5, 5)
    assert "unknown component 'sampel'" in issue.message
    assert "did you mean 'sample'" in issue.fix


def test_unknown_parameter_lists_the_real_ones():
    issue = one(MODELS + "name: x\nstages:\n  - use: sample\n    temprature: 0.5\n")
    assert issue.line == 6 and "no parameter 'temprature'" in issue.message
    assert "temperature" in issue.fix


def test_wrong_type_names_the_expected_type():
    issue = one(MODELS + "name: x\nstages:\n  - use: sample\n    n: many\n")
    assert issue.line == 6 and "'many'" in issue.message
    assert "int" in issue.fix


def test_out_of_range_value():
    issue = one(MODELS + "name: x\nstages:\n  - use: sample\n    n: 0\n")
    assert issue.path == "stages[0].n" and "greater than or equal to 1" in issue.message


def test_missing_model_alias():
    issue = one(MODELS + "name: x\nstages:\n  - use: sample\n    model: big\n")
    assert issue.line == 6 and "no model alias 'big'" in issue.message and "s" in issue.fix


def test_no_models_at_all():
    issue = one("name: x\nstages:\n  - use: sample\n")
    assert "needs a model" in issue.message and "models:" in issue.fix


def test_several_models_need_an_explicit_one():
    issue = one("models: {a: {runtime: scripted}, b: {runtime: scripted}}\n"
                "name: x\nstages:\n  - use: sample\n")
    assert "there are several" in issue.message and "a, b" in issue.fix


def test_unknown_runtime():
    issue = one("models: {a: {runtime: lokal}}\nname: x\nstages:\n  - use: sample\n")
    assert "unknown runtime 'lokal'" in issue.message


def test_bad_runtime_option():
    issue = one("models: {a: {runtime: scripted, options: {latency: 1}}}\n"
                "name: x\nstages:\n  - use: sample\n")
    assert "no key 'latency'" in issue.message and "latency_s" in issue.fix


def test_stage_that_needs_candidates_where_none_exist():
    issue = one(MODELS + "name: x\nstages:\n  - use: majority\n")
    assert issue.line == 5 and "needs candidates" in issue.message
    assert "before it" in issue.fix


def test_final_selection_without_candidates_and_non_selector():
    found = issues_of(MODELS + "name: x\nstages:\n  - use: sample\nselect: {use: sample}\n")
    assert any("not a selector" in i.message for i in found)


def test_empty_and_malformed_stages():
    assert "no 'stages'" in one(MODELS + "name: x\n").message
    assert "non-empty list" in one(MODELS + "name: x\nstages: []\n").message
    assert "at least one component" in one(MODELS + "name: x\nstages:\n  - []\n").message
    assert "a stage must be" in one(MODELS + "name: x\nstages:\n  - 3\n").message


def test_cyclic_yaml_alias():
    issue = one(MODELS + "name: x\nstages: &loop\n  - *loop\n")
    assert "cycle" in issue.message


def test_duplicate_key():
    issue = one(MODELS + "name: x\nname: y\nstages:\n  - use: sample\n")
    assert issue.line == 4 and "appears twice" in issue.message


def test_selector_must_be_alone_and_effects_must_not_mix():
    text = MODELS + "name: x\nstages:\n  - use: sample\n  - [{use: majority}, {use: first}]\n"
    assert "alone in its stage" in one(text).message


def test_repeat_block_errors():
    text = MODELS + ("name: x\nstages:\n  - use: sample\n  - repeat:\n      max_round: 2\n"
                     "      stages:\n        - use: sample\n")
    issue = one(text)
    assert "unknown key 'max_round'" in issue.message and "max_rounds" in issue.fix
    text = MODELS + ("name: x\nstages:\n  - use: sample\n  - repeat:\n      max_rounds: 0\n"
                     "      stages: [{use: sample}]\n")
    assert "max_rounds" in one(text).message
    text = MODELS + ("name: x\nstages:\n  - use: sample\n  - repeat:\n      until: {score: v}\n"
                     "      stages: [{use: sample}]\n")
    assert "go together" in one(text).message


def test_all_problems_are_reported_at_once_in_document_order():
    text = (MODELS + "name: x\nbogus: 1\nstages:\n  - use: sampel\n  - use: sample\n    n: -1\n"
            "select: {use: majority, tie_break: coin}\n")
    found = issues_of(text)
    assert len(found) == 4
    assert [i.line for i in found] == sorted(i.line for i in found)
    assert all(i.source == "r.yaml" and i.line and i.column and i.fix for i in found)


class _FullDistOnly(Component):
    """Needs exact distributions."""

    name = "needs_fulldist"
    kind = "scorer"
    effect = Effect.ANNOTATES
    needs = frozenset({Capability.FULL_DISTRIBUTION})


class _Limited:
    name: ClassVar[str] = "limited"
    Options = RuntimeOptions

    @classmethod
    def static_capabilities(cls, options):
        return frozenset({Capability.SAMPLES})

    @classmethod
    def create(cls, model, options):  # never called: validation happens first
        raise AssertionError


class _TestPlugin:
    @hookimpl
    def ttc_register_components(self, register):
        register(_FullDistOnly)

    @hookimpl
    def ttc_register_runtimes(self, register):
        register(_Limited)


def test_a_capability_the_runtime_lacks():
    host = PluginHost(load_entry_points=False)
    host.register(_TestPlugin())
    issue = one("models: {m: {runtime: limited}}\nname: x\nstages:\n  - use: sample\n"
                "  - use: needs_fulldist\n", host)
    assert issue.line == 5
    assert "full_distribution" in issue.message and "limited" in issue.message


def test_recipe_file_errors(tmp_path):
    with pytest.raises(RecipeError, match="no such recipe file"):
        Pipeline.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(RecipeError, match="not UTF-8"):
        Pipeline.from_yaml(bad)


# --- reserved names, renamed and retired options ---------------------------------------------


def test_a_stage_named_select_collides_with_the_final_selection():
    issue = one(MODELS + "name: x\nstages:\n  - name: select\n    components: [{use: sample}]\n"
                "select: {use: first}\n")
    assert (issue.line, issue.path) == (5, "stages[0].name")
    assert "may not be named 'select'" in issue.message and "name: pre-select" in issue.fix


def test_a_stage_named_select_inside_a_repeat_is_refused_too():
    issue = one(MODELS + "name: x\nstages:\n  - use: sample\n  - repeat:\n      stages:\n"
                "        - name: select\n          components: [{use: sample}]\n")
    assert issue.line == 8 and "may not be named 'select'" in issue.message


def test_a_renamed_parameter_still_validates_with_a_warning_naming_the_new_one():
    p = Pipeline.from_text(MODELS + "name: x\nstages:\n  - use: sample\n    n: 2\n"
                           "  - use: critic\n    retries: 0\n", "r.yaml")
    assert p.plan.stages[1].steps[0].component.config.parse_retries == 0
    (warning,) = p.plan.warnings
    assert (warning.source, warning.line, warning.path) == ("r.yaml", 8, "stages[1].retries")
    assert "'retries' is now called 'parse_retries'" in warning.message
    assert warning.fix == "write  parse_retries: 0"


def test_a_parameter_under_its_old_and_new_name_is_an_error():
    issue = one(MODELS + "name: x\nstages:\n  - use: sample\n  - use: ranker\n"
                "    retries: 1\n    parse_retries: 2\n")
    assert issue.line == 7 and "both 'retries' and 'parse_retries'" in issue.message


def test_a_shipped_recipe_has_no_warnings():
    from pathlib import Path

    for path in sorted(Path(__file__).parents[2].joinpath("recipes").rglob("*.yaml")):
        try:
            plan = Pipeline.from_yaml(path).plan
        except RecipeError:
            continue  # recipes that need an extra or a server are validated elsewhere
        assert not plan.warnings, (path, [str(w) for w in plan.warnings])


@pytest.mark.parametrize(("runtime", "option"), [
    ("sglang", "retries"), ("sglang", "retry_backoff_s"), ("openai", "max_retries"),
    ("litellm", "max_retries"),
])
def test_a_runtime_retry_option_is_an_error_that_points_at_limits(runtime, option):
    issue = one(f"models: {{m: {{runtime: {runtime}, model: x, options: {{{option}: 1}}}}}}\n"
                "name: x\nstages:\n  - use: sample\n")
    assert issue.path == f"models.m.options.{option}" and issue.line == 1
    assert f"no longer takes {option!r}" in issue.message
    assert "limits: {retries: N" in issue.fix


def test_litellm_extra_arguments_cannot_bring_retries_back():
    issue = one("models: {m: {runtime: litellm, model: x, options: {extra: {num_retries: 3}}}}\n"
                "name: x\nstages:\n  - use: sample\n")
    assert "num_retries" in issue.message and "limits: {retries: N" in issue.message
