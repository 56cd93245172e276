"""Grading per answer format: a run's answer against the task's reference or tests."""

from __future__ import annotations

import pytest

from ttc.errors import UsageError
from ttc.grading import grade, grading_format
from ttc.plugin_system import default_host
from ttc.state import Task

REGISTRY = default_host().registry


def fmt(name: str):
    return REGISTRY.task(name)()


@pytest.mark.parametrize(("name", "answer", "reference", "correct"), [
    ("number", "1,000", "1000", True),
    ("number", "1000001", "1000000", False),   # integers compare exactly
    ("number", "-5", "−5", True),              # a Unicode minus in the reference
    ("number", "0.5", "1/2", True),
    ("number", None, "3", False),
    ("math", "0.5", r"\frac{1}{2}", True),
    ("math", r"\sqrt{2}", r"\sqrt 2", True),
    ("math", "18", r"\boxed{\$18}", True),
    ("boxed", "x^2+1", "1+x^2", True),
    ("choice", "B", "B", True),
    ("choice", "C", "(B)", False),
    ("text", "Paris", " paris ", True),
])
def test_answers_are_graded_in_their_format(name, answer, reference, correct):
    task = Task(prompt="q", reference=reference)
    assert fmt(name).grade(answer, task).correct is correct


def test_a_task_without_reference_or_tests_is_ungraded():
    assert fmt("number").grade("3", Task(prompt="q")).correct is None


def test_a_reference_the_format_cannot_read_is_ungraded_and_says_why():
    outcome = fmt("number").grade("3", Task(prompt="q", reference="three"))
    assert outcome.correct is None and "not a number answer" in outcome.detail


def test_the_task_names_its_format_else_the_recipe_does():
    recipe_format = fmt("number")
    task = Task(prompt="q", reference="B", answer_format="choice")
    assert grading_format(task, recipe_format, REGISTRY).name == "choice"
    assert grading_format(Task(prompt="q"), recipe_format, REGISTRY) is recipe_format
    assert grade("B", task, recipe_format, REGISTRY).correct is True
    with pytest.raises(UsageError, match="did you mean 'number'"):
        grading_format(Task(prompt="q", answer_format="numbr"), recipe_format, REGISTRY)


def test_code_is_graded_by_running_the_tasks_tests_in_the_sandbox():
    task = Task(prompt="def add(a, b):\n", tests=("assert add(2, 3) == 5",
                                                  "assert add(-1, 1) == 0"))
    code = fmt("code")
    assert code.grade("def add(a, b):\n    return a + b", task).correct is True
    assert code.grade("    return a + b", task).correct is True  # a completion of the prompt
    wrong = code.grade("def add(a, b):\n    return a * b", task)
    assert wrong.correct is False and "0/2 tests passed" in wrong.detail
    assert code.grade(None, task).correct is False


def test_forging_a_pass_from_the_code_under_test_does_not_work():
    task = Task(prompt="", tests=("assert add(2, 3) == 5",))
    forged = "import os\nprint('all tests passed')\nos._exit(0)\n"
    assert fmt("code").grade(forged, task).correct is False
