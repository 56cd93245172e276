"""Types are strict: ``true`` is not 1 and ``"4"`` is not a number, in component parameters,
task formats, runtime options, limits and stop conditions; messages still name the field,
the expected type and its doc."""

from __future__ import annotations

import pytest

from ttc.errors import RecipeError
from ttc.pipeline import Pipeline

MODELS = "models:\n  s: {runtime: scripted}\n"


def issue_of(text: str):
    with pytest.raises(RecipeError) as caught:
        Pipeline.from_text(text, "r.yaml")
    assert len(caught.value.issues) == 1, str(caught.value)
    return caught.value.issues[0]


def sample(params: str) -> str:
    return MODELS + f"name: x\nstages:\n  - use: sample\n    {params}\n"


def test_a_bool_is_not_an_integer():
    issue = issue_of(sample("n: true"))
    assert issue.line == 6 and issue.path == "stages[0].n"
    assert "n = True" in issue.message and "valid integer" in issue.message
    assert "set n to int" in issue.fix and "not true/false" in issue.fix
    assert "How many completions to draw" in issue.fix  # the field's doc


def test_quoted_numbers_are_text_not_numbers():
    issue = issue_of(sample('n: "4"'))
    assert "n = '4'" in issue.message and "without quotes" in issue.fix
    issue = issue_of(sample('temperature: "0.7"'))
    assert "valid number" in issue.message and "set temperature to float" in issue.fix
    assert "greedy" in issue.fix


def test_an_integer_is_a_fine_float_and_lists_and_literals_still_read():
    plan = Pipeline.from_text(sample('temperature: 1\n    stop: ["\\n\\n"]')).plan
    config = plan.stages[0].steps[0].component.config
    assert config.temperature == 1.0 and isinstance(config.temperature, float)
    assert config.stop == ["\n\n"]
    options = Pipeline.from_text("models:\n  s: {runtime: sglang, options: {samples: batch}}\n"
                                 "name: x\nstages: [{use: sample}]\n").plan.models["s"].options
    assert options.samples == "batch"


def test_an_integer_is_not_a_bool():
    assert "valid boolean" in issue_of(sample("hedged: 1")).message


def test_runtime_options_are_strict():
    issue = issue_of("models:\n  s: {runtime: scripted, options: {fail_first: true}}\n"
                     "name: x\nstages: [{use: sample}]\n")
    assert issue.path == "models.s.options.fail_first" and "valid integer" in issue.message
    issue = issue_of("models:\n  s: {runtime: scripted, options: {latency_s: '0.1'}}\n"
                     "name: x\nstages: [{use: sample}]\n")
    assert "latency_s" in issue.message and "valid number" in issue.message


def test_limits_and_until_are_strict():
    issue = issue_of(sample("n: 2") + "limits: {max_calls: true}\n")
    assert issue.path == "limits.max_calls" and "valid integer" in issue.message
    issue = issue_of(sample("n: 2") + "limits: {retry_backoff_s: '1'}\n")
    assert "valid number" in issue.message
    text = MODELS + ("name: x\nstages:\n  - use: sample\n  - repeat:\n      max_rounds: 2\n"
                     "      until: {agreement: '0.5'}\n      stages: [{use: sample}]\n")
    issue = issue_of(text)
    assert issue.path == "stages[1].repeat.until.agreement" and "valid number" in issue.message


def test_task_format_parameters_are_strict():
    issue = issue_of(sample("n: 2") + "task: {use: json_field, field: 3}\n")
    assert issue.path == "task.field" and "valid string" in issue.message


def test_a_credential_in_a_rejected_value_is_masked():
    issue = issue_of("models:\n  s: {runtime: scripted, options: {responses: "
                     "'http://user:hunter2-pass@host/v1'}}\nname: x\nstages: [{use: sample}]\n")
    assert "hunter2" not in str(issue) and "http://***@host/v1" in issue.message
