"""Nested repeat blocks that plan more than 10,000 stage runs need a budget; seeds stay in
the range the run store can hold, wherever they enter (recipe, CLI, Python API)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ttc.errors import RecipeError, UsageError
from ttc.pipeline import Pipeline
from ttc.recipe.compile import MAX_UNBUDGETED_STAGE_RUNS
from ttc.recipe.plan import MAX_SEED, check_seed

MODELS = "models:\n  s: {runtime: scripted}\n"


def nested(levels: int, rounds: int, limits: str = "") -> str:
    inner = "{use: sample}"
    for _ in range(levels):
        inner = f"{{repeat: {{max_rounds: {rounds}, stages: [{inner}]}}}}"
    return MODELS + f"name: x\n{limits}stages:\n  - use: sample\n  - {inner}\n"


def test_ten_nested_repeats_of_a_thousand_rounds_need_a_budget():
    with pytest.raises(RecipeError) as caught:
        Pipeline.from_text(nested(10, 1000), "r.yaml")
    (issue,) = caught.value.issues
    assert (issue.line, issue.path) == (6, "stages[1]")
    assert f"{10**30 + 1:,} stage runs" in issue.message
    assert "sets no budget" in issue.message
    assert "limits: {max_calls:" in issue.fix and "max_tokens" in issue.fix


@pytest.mark.parametrize("limits", ["limits: {max_calls: 500}\n", "limits: {max_tokens: 9000}\n"])
def test_a_budget_makes_them_valid(limits):
    plan = Pipeline.from_text(nested(10, 1000, limits)).plan
    assert plan.limits.max_calls == 500 or plan.limits.max_tokens == 9000


def test_the_bound_is_on_stage_runs_not_on_nesting():
    assert MAX_UNBUDGETED_STAGE_RUNS == 10_000
    Pipeline.from_text(nested(2, 99))  # 1 + 99 * 99 = 9,802 runs
    Pipeline.from_text(nested(1, 1000))
    with pytest.raises(RecipeError, match="10,202 stage runs"):
        Pipeline.from_text(nested(2, 101))


def test_a_broken_limits_block_is_reported_once_not_as_a_missing_budget():
    with pytest.raises(RecipeError) as caught:
        Pipeline.from_text(nested(3, 1000, "limits: {max_calls: many}\n"))
    assert [i.path for i in caught.value.issues] == ["limits.max_calls"]


@pytest.mark.parametrize("seed", [2**63, 2**64 + 5, -1, True, "7"])
def test_a_recipe_seed_outside_the_stored_range_is_refused(seed):
    text = MODELS + f"name: x\nseed: {seed!r}\nstages: [{{use: sample}}]\n".replace("'", '"')
    with pytest.raises(RecipeError) as caught:
        Pipeline.from_text(text, "r.yaml")
    (issue,) = caught.value.issues
    assert issue.line == 4 and "from 0 to 2**63-1" in issue.message


def test_the_largest_stored_seed_is_accepted():
    plan = Pipeline.from_text(MODELS + f"name: x\nseed: {MAX_SEED}\nstages: [{{use: sample}}]\n"
                              ).plan
    assert plan.seed == 2**63 - 1
    assert check_seed(MAX_SEED) == MAX_SEED
    with pytest.raises(UsageError, match="--seed must be an integer from 0 to 2"):
        check_seed(MAX_SEED + 1, "--seed")


def test_cli_seed_outside_the_range_exits_2(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(MODELS + "name: x\nstages: [{use: sample}]\n")
    env = {**os.environ, "TTC_DISABLE_ENTRY_POINTS": "1", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "ttc", "run", str(path), "-i", "q",
                             "--no-record", "--seed", str(2**63)], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "--seed must be an integer from 0 to 2**63-1" in " ".join(result.stderr.split())


def test_api_seed_outside_the_range_is_refused():
    pipeline = Pipeline.from_text(MODELS + "name: x\nstages: [{use: sample}]\n")
    with pytest.raises(UsageError, match="seed must be an integer from 0 to 2"):
        pipeline.run("q", seed=2**63)
