"""The ``ttc`` command line end to end, as a user runs it (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

RECIPE = """name: cli
task: number
models:
  s: {runtime: scripted, options: {responses: ["it is 12", "12", "13"]}}
stages:
  - use: sample
    n: 3
select: {use: majority}
"""


def ttc(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TTC_DISABLE_ENTRY_POINTS": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "ttc", *args], capture_output=True, text=True,
                          env=env, input=stdin, timeout=120)


@pytest.fixture
def recipe(write_recipe):
    return write_recipe(RECIPE)


def test_run_json_prints_one_object_with_candidates_and_ledger(recipe):
    proc = ttc("run", str(recipe), "--input", "3*4?", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["answer"] == "12" and result["status"] == "succeeded"
    assert result["run_id"].startswith("r-")
    assert len(result["candidates"]) == 3
    first = result["candidates"][0]
    assert {"id", "text", "answer", "parents", "scores", "tokens"} <= set(first)
    assert {"ids", "logprobs", "kl_uniform", "entropy"} <= set(first["tokens"])
    assert len(first["tokens"]["ids"]) == len(first["tokens"]["logprobs"]) == 3
    assert result["ledger"]["total"]["calls"] == 1


def test_run_json_carries_the_task_and_whether_the_answer_is_right(recipe, tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": "a", "input": "3*4?", "reference": "12"}\n'
                     '{"id": "b", "prompt": "3*4?", "reference": "13.0"}\n'
                     '{"id": "c", "prompt": "3*4?"}\n'
                     '{"id": "d", "prompt": "3*4?", "reference": "B", "task": "choice"}\n')
    proc = ttc("run", str(recipe), "--input-file", str(tasks), "--json", "--no-record")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["task"]["id"] for r in rows] == ["a", "b", "c", "d"]
    assert rows[0]["task"] == {"id": "a", "input": "3*4?", "reference": "12", "metadata": {}}
    assert [r.get("correct", "absent") for r in rows] == [True, False, "absent", False]


def test_an_answer_the_format_cannot_extract_is_null_not_the_text(write_recipe):
    recipe = write_recipe(RECIPE.replace('["it is 12", "12", "13"]', '["no digits here"]'),
                          "none.yaml")
    proc = ttc("run", str(recipe), "-i", "3*4?", "--json", "--no-record")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["answer"] is None and result["candidates"][0]["text"] == "no digits here"


def test_a_baseline_runs_on_the_same_question_and_shows_beside(recipe, write_recipe):
    other = write_recipe(RECIPE.replace("name: cli", "name: always-13").replace(
        '["it is 12", "12", "13"]', '["13"]'), "other.yaml")
    proc = ttc("run", str(recipe), "-i", "3*4?", "--reference", "12", "--baseline",
               str(other), "--no-record")
    assert proc.returncode == 0, proc.stderr
    assert "cli" in proc.stdout and "always-13" in proc.stdout
    rows = [line for line in proc.stdout.splitlines() if "always-13" in line or "│ cli" in line]
    assert any("✓" in line for line in rows if "│ cli" in line)
    assert any("✗" in line for line in rows if "always-13" in line)
    proc = ttc("run", str(recipe), "-i", "3*4?", "--reference", "12", "--baseline",
               str(other), "--no-record", "--json")
    row = json.loads(proc.stdout)
    assert row["correct"] is True and row["baseline"]["correct"] is False
    assert row["baseline"]["answer"] == "13" and row["baseline"]["recipe"] == "always-13"


def test_run_human_output(recipe):
    proc = ttc("run", str(recipe), "-i", "3*4?")
    assert proc.returncode == 0, proc.stderr
    assert "answer: 12" in proc.stdout and "succeeded" in proc.stdout


def test_seed_makes_runs_repeatable(recipe):
    a = json.loads(ttc("run", str(recipe), "-i", "q", "--json", "--seed", "5").stdout)
    b = json.loads(ttc("run", str(recipe), "-i", "q", "--json", "--seed", "5").stdout)
    assert a["candidates"] == b["candidates"]


def test_input_file_runs_every_task_in_order(recipe, tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('"first"\n\n{"prompt": "second", "id": "t2"}\n'
                     '{"messages": [{"role": "user", "content": "third"}]}\n')
    proc = ttc("run", str(recipe), "--input-file", str(tasks), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 3 and all(r["answer"] == "12" for r in lines)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "has no tasks"),
        (b"\n\n", "has no tasks"),
        (b'"ok"\n{not json\n', ":2:2: not valid JSON"),
        (b"[1, 2]\n", ":1: each line must be"),
        (b'{"anser": 1}\n', ":1: the line has no question"),
        (b'{"prompt": "x", "input": "y"}\n', "both 'prompt' and 'input'"),
        (b'{"prompt": "x", "id": 1}\n{"prompt": "y", "id": 1}\n', ":2: id '1' is used twice"),
        (b'"caf\xe9"\n', "not UTF-8"),
    ],
)
def test_bad_input_files_give_one_clear_error_and_exit_2(recipe, tmp_path, content, expected):
    path = tmp_path / "in.jsonl"
    path.write_bytes(content)
    proc = ttc("run", str(recipe), "--input-file", str(path))
    assert proc.returncode == 2
    assert expected in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_fields_go_to_metadata_with_one_warning(recipe, tmp_path):
    """The data set format: a file made for another tool loads; a typo is named, once."""
    path = tmp_path / "in.jsonl"
    path.write_text('{"prompt": "x", "anser": 1}\n{"input": "y", "anser": 2}\n')
    proc = ttc("run", str(recipe), "--input-file", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("anser") == 1 and "metadata" in proc.stderr
    tasks = [json.loads(line)["task"] for line in proc.stdout.splitlines()]
    assert [t["metadata"] for t in tasks] == [{"anser": 1}, {"anser": 2}]
    assert [t["input"] for t in tasks] == ["x", "y"]


def test_usage_errors_exit_2(recipe, tmp_path):
    proc = ttc("run", str(recipe))
    assert proc.returncode == 2 and "exactly one of --input" in proc.stderr
    proc = ttc("run", str(tmp_path / "nope.yaml"), "-i", "x")
    assert proc.returncode == 2 and "no such recipe file" in proc.stderr
    proc = ttc("run", str(recipe), "-i", "x", "--bogus")
    assert proc.returncode == 2 and "No such option" in proc.stderr


def test_validate_prints_all_problems_with_locations(write_recipe):
    good = write_recipe(RECIPE, "good.yaml")
    bad = write_recipe("name: x\nstages:\n  - use: sampel\n  - use: sample\n    n: zero\n",
                       "bad.yaml")
    proc = ttc("validate", str(good), str(bad))
    assert proc.returncode == 2
    assert f"{good}: ok" in proc.stdout
    assert f"{bad}:3:5: unknown component 'sampel'" in proc.stderr
    assert f"{bad}:4:5: 'sample' needs a model" in proc.stderr
    assert "fix: did you mean 'sample'?" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert ttc("validate", str(good)).returncode == 0


def test_debug_shows_the_traceback(write_recipe):
    bad = write_recipe("name: [\n")
    assert "Traceback" not in ttc("run", str(bad), "-i", "x").stderr
    assert "Traceback" in ttc("--debug", "run", str(bad), "-i", "x").stderr


def test_components_lists_parameters_from_the_config_schema():
    rows = json.loads(ttc("components", "--json").stdout)
    sample = next(r for r in rows if r["name"] == "sample")
    params = {p["name"]: p for p in sample["parameters"]}
    assert params["n"]["default"] == 1 and params["n"]["type"] == "int"
    assert "prefill" in params["n"]["doc"]
    assert sample["kind"] == "generator" and sample["effect"] == "produces"
    proc = ttc("components", "majority")
    assert "tie_break" in proc.stdout
    assert ttc("components", "nope").returncode == 2


def test_failed_run_exits_1_with_the_reason(write_recipe):
    recipe = write_recipe("name: f\nlimits: {retries: 0}\nmodels: {s: {runtime: scripted, "
                          "options: {fail_first: 5}}}\nstages:\n  - use: sample\n")
    proc = ttc("run", str(recipe), "-i", "x")
    assert proc.returncode == 1 and "failed" in proc.stderr


def test_progress_display_follows_the_run():
    import io

    from rich.console import Console

    from ttc import PluginHost
    from ttc.cli.progress import ProgressDisplay
    from ttc.pipeline import Pipeline

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    display = ProgressDisplay(total_tasks=2, console=console)
    host = PluginHost(load_entry_points=False)
    host.register(display)
    pipeline = Pipeline.from_text(RECIPE, host=host)
    with display:
        pipeline.run_batch(["a", "b"], concurrency=1)
    task = display.progress.tasks[0]
    assert task.completed == 2 and task.fields["stage"] == "select"
    assert display.tokens == 2 * (3 + 1 + 1)  # "it is 12", "12", "13" per run
