"""Hostile recipes (alias bombs, deep nesting, huge files, foreign tags) fail fast with a
file:line message and exit 2: never a RecursionError, a hang or unbounded memory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ttc.errors import RecipeError
from ttc.pipeline import Pipeline
from ttc.recipe.yaml_source import MAX_CHARS, MAX_DEPTH, MAX_NODES

MODELS = "models:\n  s: {runtime: scripted}\n"
MEMORY = 768 * 2**20
"""Address space for a `ttc validate` process: importing ttc and its plugins needs < 300 MB;
the audit's alias bomb grew to 7 GB."""
TIMEOUT = 90.0


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def nested_repeats(levels: int, rounds: int = 1000) -> str:
    inner = "{use: sample}"
    for _ in range(levels):
        inner = f"{{repeat: {{max_rounds: {rounds}, stages: [{inner}]}}}}"
    return MODELS + f"name: x\nstages: [{inner}]\n"


CORPUS: dict[str, tuple[str, str, int]] = {
    # name: (recipe text, what the message says, the line it points at)
    "billion_laughs": (billion_laughs(), "aliases expand this value", 5),
    "quadratic_blowup": ("a: &a " + "x" * 200_000 + "\nb: [" + ", ".join(["*a"] * 2000)
                         + "]\n", "characters of text", 2),
    "aliased_stages": (MODELS + "name: x\nbase: &s [{use: sample}, {use: sample}]\nstages: ["
                       + ", ".join(["*s"] * 12_000) + "]\n", "aliases expand this value", 5),
    "deep_flow_lists": ("name: x\nstages: " + "[" * 20_000 + "]" * 20_000 + "\n",
                        f"deeper than {MAX_DEPTH}", 2),
    "deep_block_lists": ("name: x\nstages:\n" + "".join("  " * i + "-\n" for i in range(200)),
                         f"deeper than {MAX_DEPTH}", 2 + MAX_DEPTH),
    "deep_mappings": ("".join("  " * i + f"k{i}:\n" for i in range(500)),
                      f"deeper than {MAX_DEPTH}", MAX_DEPTH),
    "nested_repeat_blocks": (nested_repeats(3000), f"deeper than {MAX_DEPTH}", 4),
    "wide_list": ("name: x\nstages: [" + ",".join(["1"] * 200_000) + "]\n",
                  f"more than {MAX_NODES:,} values", 2),
    "oversized_file": ("name: x\n" + "# padding\n" * (MAX_CHARS // 10 + 5), "longer than", 0),
    "python_object_tag": (MODELS + "name: !!python/object/apply:os.system ['echo pwned']\n"
                          "stages: [{use: sample}]\n", "unknown YAML tag", 3),
    "custom_tag": (MODELS + "name: x\nstages:\n  - !foo {use: sample}\n", "unknown YAML tag",
                   5),
    "huge_integer": (MODELS + "name: x\nseed: " + "9" * 5000 + "\nstages: [{use: sample}]\n",
                     "too long to read", 4),
    "alias_cycle": (MODELS + "name: x\nstages: &loop\n  - *loop\n", "cycle", 4),
}


def _line_of_limit(text: str) -> int:
    return text.count("\n", 0, MAX_CHARS) + 1


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_hostile_recipe_is_one_located_recipe_error(name: str) -> None:
    text, says, line = CORPUS[name]
    with pytest.raises(RecipeError) as caught:
        Pipeline.from_text(text, f"{name}.yaml")
    (issue,) = caught.value.issues
    assert says in issue.message and issue.fix
    assert issue.source == f"{name}.yaml"
    assert issue.line == (line or _line_of_limit(text)) and issue.column


def test_the_corpus_fails_validation_within_memory_and_time(tmp_path: Path) -> None:
    """The real CLI, in a process whose address space is capped: every file answers exit 2
    with file:line:column, and nothing escapes as a traceback."""
    paths = []
    for name, (text, _, _) in sorted(CORPUS.items()):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        paths.append(path)
    result = _ttc_limited("validate", *map(str, paths))
    assert result.returncode == 2, result.stderr[-2000:]
    for path in paths:
        assert re.search(rf"^{re.escape(str(path))}:\d+:\d+: ", result.stderr, re.M), path.name
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert f"{len(paths)} problem(s) found" in result.stderr


def test_run_refuses_a_bomb_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(MODELS + "name: x\n" + billion_laughs() + "stages: [{use: sample}]\n")
    result = _ttc_limited("run", str(path), "-i", "q", "--no-record")
    assert result.returncode == 2, result.stderr[-2000:]
    assert re.search(rf"{re.escape(str(path))}:\d+:\d+: YAML aliases expand", result.stderr)


def test_a_python_dict_that_contains_itself_is_a_recipe_error() -> None:
    data: dict = {"name": "x", "models": {"s": {"runtime": "scripted"}},
                  "stages": [{"use": "sample"}]}
    data["source"] = data
    with pytest.raises(RecipeError, match="contains itself"):
        Pipeline.from_dict(data)
    shared = ["x"] * 10
    for _ in range(8):  # 10**8 leaves when expanded
        shared = [shared] * 10
    with pytest.raises(RecipeError, match="values"):
        Pipeline.from_dict({"name": "x", "source": {"config": shared}, "stages": []})


def test_dates_and_plain_scalars_still_read_as_values() -> None:
    plan = Pipeline.from_text(MODELS + "name: 2024-01-01\ndescription: =\nseed: 0x10\n"
                              "stages: [{use: sample, n: 1_000}]\n").plan
    assert (plan.name, plan.description, plan.seed) == ("2024-01-01", "=", 16)
    assert plan.stages[0].steps[0].component.config.n == 1000


def _ttc_limited(*args: str) -> subprocess.CompletedProcess:
    code = ("import resource, runpy, sys\n"
            "limit = int(sys.argv[1])\n"
            "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
            "sys.argv = ['ttc', *sys.argv[2:]]\n"
            "runpy.run_module('ttc', run_name='__main__', alter_sys=True)\n")
    env = {**os.environ, "TTC_DISABLE_ENTRY_POINTS": "1", "COLUMNS": "200"}
    env.pop("TTC_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-c", code, str(MEMORY), *args], capture_output=True,
                          text=True, env=env, timeout=TIMEOUT)
