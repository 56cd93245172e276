"""Program-of-thought and ``ttc eval`` on the real embedded model, with tiny budgets."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from ttc.pipeline import Pipeline
from ttc.plugins.tasks.builtin import LastNumber

pytestmark = pytest.mark.model

POT = {
    "name": "pot-test",
    "models": {"small": {"runtime": "local"}},
    "task": "number",
    "stages": [
        {"use": "sample", "n": 4, "temperature": 0.7, "max_tokens": 24, "stop": ["```"],
         "system": "Answer each question with a short Python program that prints the answer.",
         "prefix": "```python\n",
         "examples": [{"question": "What is 14 × 6?",
                       "answer": "```python\nprint(14 * 6)\n```"}]},
        {"use": "program_of_thought"},
    ],
    "select": {"use": "majority"},
}


def test_program_of_thought_runs_each_program_and_reads_its_output():
    result = Pipeline.from_text(yaml.safe_dump(POT), store=False).run("What is 37 + 48?",
                                                                        seed=1)
    assert result.status == "succeeded", result.error
    assert len(result.pool) == 1 and len(result.candidates) == 4
    ran = 0
    for candidate in result.candidates.values():
        record = candidate.artifacts["program_of_thought"]
        assert candidate.text.startswith("```python\n")
        assert record["code"] in candidate.text  # the program is the candidate's own code
        expected = LastNumber().extract(record["stdout"]) if record["status"] == "ok" else None
        assert candidate.answer == expected  # the printed number, never the text's
        assert candidate.scores["executed"] == (1.0 if expected is not None else 0.0)
        ran += record["status"] == "ok"
    assert ran >= 2  # the few-shot format holds on most samples
    assert result.answer == "85"  # print(37 + 48): the interpreter does the sum


def test_ttc_eval_on_five_items_end_to_end(tmp_path):
    recipe = tmp_path / "pot.yaml"
    recipe.write_text(yaml.safe_dump({**POT, "models": {
        "small": {"runtime": "local", "options": {"threads": 1}}}}))
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    env = {**os.environ, "TTC_DISABLE_ENTRY_POINTS": "1"}
    command = [sys.executable, "-m", "ttc", "eval", str(recipe), "--dataset",
               "arithmetic-dev", "--limit", "5", "--db", db, "--json"]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    items, summary = rows[:5], rows[5]
    assert [i["id"] for i in items] == [f"arithmetic-dev-00{k}" for k in range(1, 6)]
    assert all(i["correct"] in (True, False) and i["completion_tokens"] > 0 for i in items)
    assert summary["items"] == 5 and summary["correct"] == sum(i["correct"] for i in items)
    assert summary["calls_per_item"] == 1.0
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0 and json.loads(again.stdout.splitlines()[-1]) == summary
