"""``ttc eval`` end to end on the scripted runtime: grading, summaries, JSON, resume after
kill -9 with no model call repeated, seeds kept apart, bad data refused before any call."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from ttc.plugins.evaluation import evaluate
from ttc.storage import RunStore
from ttc.storage.evals import EvalStore

RECIPE = """name: scripted-vote
task: number
models:
  s: {runtime: scripted, options: {responses: ["it is 12", "12", "13"], latency_s: LATENCY}}
stages:
  - - use: sample
      n: 3
    - use: sample
      n: 2
select: {use: majority}
"""


def ttc(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "TTC_DISABLE_ENTRY_POINTS": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "ttc", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.fixture
def recipe(write_recipe):
    return write_recipe(RECIPE.replace("LATENCY", "0.0"))


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "five.jsonl"
    lines = [{"id": f"q{i}", "prompt": f"question {i}", "reference": "12" if i % 2 else "13"}
             for i in range(5)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_an_eval_grades_every_item_and_summarises(recipe, data, tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    (result,) = evaluate([recipe], data, store=url)
    s = result.summary
    assert (s.items, s.graded, s.correct) == (5, 5, 2)  # majority says 12; q1, q3 want 12
    assert s.accuracy == pytest.approx(0.4)
    assert s.interval.low < 0.4 < s.interval.high
    assert s.calls_per_item == 2 and s.completion_tokens_per_item > 0
    assert [i.correct for i in result.items] == [False, True, False, True, False]
    assert [i.id for i in result.items] == [f"q{i}" for i in range(5)]
    assert s.oracle == 1.0  # both answers are among the candidates of every item
    assert "majority" in {q.name for q in s.scores}
    store = RunStore.open(url)
    for item in result.items:  # each item is a recorded run
        run = store.get_run(item.run_id)
        assert run.status == "succeeded" and run.answer == item.answer == "12"
        assert run.task["id"] == item.id and run.task["reference"] == item.reference


def test_the_same_eval_again_is_read_back_not_rerun(recipe, data, tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    (first,) = evaluate([recipe], data, store=url)
    (again,) = evaluate([recipe], data, store=url)
    assert again.eval_id == first.eval_id and again.summary == first.summary
    store = RunStore.open(url)
    assert len(store.list_runs(limit=None)) == 5  # no new run
    (fresh,) = evaluate([recipe], data, store=url, fresh=True)
    assert fresh.eval_id != first.eval_id and len(store.list_runs(limit=None)) == 10


def test_two_seeds_are_two_evals_both_kept(recipe, data, tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    results = evaluate([recipe], data, store=url, seed=3, seeds=2)
    assert [r.summary.seed for r in results] == [3, 4]
    rows = EvalStore(RunStore.open(url)).list_evals()
    assert {r.seed for r in rows} == {3, 4} and all(r.status == "finished" for r in rows)


def test_cli_json_has_one_object_per_item_then_the_summary(recipe, data, tmp_path):
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    proc = ttc("eval", str(recipe), "--dataset", str(data), "--db", db, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    items, summary = rows[:-1], rows[-1]
    assert [r["type"] for r in items] == ["item"] * 5 and summary["type"] == "summary"
    assert {"id", "input", "reference", "answer", "correct", "prompt_tokens",
            "completion_tokens", "run_id"} <= set(items[0])
    assert items[1]["input"] == "question 1" and items[1]["reference"] == "12"
    assert summary["accuracy"] == pytest.approx(0.4)
    human = ttc("evals", "show", summary["eval_id"], "--db", db)
    assert human.returncode == 0 and "40.0%" in human.stdout and "q3" in human.stdout


@pytest.mark.parametrize(("line", "says"), [
    ('{"prompt": "x", "reference": "twelve"}', "not a 'number' answer"),
    ('{"reference": "12"}', "has no question"),
    ('{"prompt": "x", "reference": "1", "task": "numbr"}', "did you mean 'number'"),
    ("not json", "not valid JSON"),
])
def test_bad_data_stops_the_eval_before_any_model_call(recipe, tmp_path, line, says):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "fine", "reference": "1"}\n' + line + "\n")
    db = tmp_path / "runs.db"
    proc = ttc("eval", str(recipe), "--dataset", str(path), "--db", f"sqlite:///{db}")
    assert proc.returncode == 2, proc.stdout
    assert f"{path}:2" in proc.stderr and says in proc.stderr
    assert "Traceback" not in proc.stderr
    if db.exists():
        assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM ttc_model_calls").fetchone() \
            == (0,)


@pytest.mark.slow
def test_a_killed_eval_resumes_with_no_model_call_repeated(write_recipe, tmp_path):
    slow = write_recipe(RECIPE.replace("LATENCY", "0.4"), "slow.yaml")
    data = tmp_path / "eight.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"question {i}",
                                        "reference": "12"}) + "\n" for i in range(8)))
    db = tmp_path / "runs.db"
    args = [sys.executable, "-m", "ttc", "eval", str(slow), "--dataset", str(data), "--db",
            f"sqlite:///{db}", "--concurrency", "2"]
    env = {**os.environ, "TTC_DISABLE_ENTRY_POINTS": "1"}
    victim = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once some items are done, others in flight
        time.sleep(0.1)
        try:
            done = sqlite3.connect(db).execute(
                "SELECT COUNT(*) FROM ttc_eval_items WHERE status = 'succeeded'").fetchone()[0]
        except sqlite3.Error:
            continue
        if done >= 3:
            break
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    made_before = sqlite3.connect(db).execute(
        "SELECT COUNT(*) FROM ttc_model_calls WHERE replayed = 0").fetchone()[0]
    assert 3 * 2 <= made_before < 8 * 2  # killed mid-way

    proc = ttc("eval", str(slow), "--dataset", str(data), "--db", f"sqlite:///{db}",
               "--concurrency", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["items"] == 8 and summary["correct"] == 8
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM ttc_evals").fetchone() == (1,)  # the same eval
    made = conn.execute("SELECT run_id, COUNT(*) FROM ttc_model_calls WHERE replayed = 0 "
                        "GROUP BY run_id").fetchall()
    assert len(made) == 8 and all(count == 2 for _, count in made)  # no call made twice


def test_ttc_datasets_lists_the_shipped_sets_with_what_they_measure():
    proc = ttc("datasets", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert {"arithmetic-dev", "arithmetic-test", "word-problems-dev", "word-problems-test",
            "choice-dev", "choice-test", "humaneval"} <= set(rows)
    assert rows["arithmetic-test"]["items"] == 200 and rows["humaneval"]["format"] == "code"
    assert "report on this split" in rows["arithmetic-test"]["description"]
    unknown = ttc("eval", "x.yaml", "--dataset", "arithmetc-test")
    assert unknown.returncode == 2
    assert "no data set 'arithmetc-test'" in unknown.stderr
    assert "did you mean 'arithmetic-test'" in unknown.stderr
