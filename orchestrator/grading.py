"""Grading a run's answer: the task's own answer format when it names one, else the
recipe's; the format decides what "right" means (``TaskFormat.grade``)."""

from __future__ import annotations

import pydantic

from ttc.errors import UsageError
from ttc.extras import error_text
from ttc.registry import Registry, did_you_mean
from ttc.state import Task
from ttc.task_format import Grade, TaskFormat


def grading_format(task: Task, recipe_format: TaskFormat, registry: Registry) -> TaskFormat:
    """The format ``task`` is graded in (``UsageError`` for a name nobody registered)."""
    name = task.answer_format
    if name is None or name == recipe_format.name:
        return recipe_format
    if name not in registry.tasks:
        hint = did_you_mean(name, registry.tasks)
        raise UsageError(f"task {task.id!r} is graded as {name!r}, which is not an answer "
                         f"format; {hint or 'run `ttc reference` to list them'}")
    try:
        return registry.task(name)()
    except pydantic.ValidationError as exc:  # its defaults need an extra not installed here
        problems = "; ".join(error_text(e) for e in exc.errors())
        raise UsageError(f"task {task.id!r} is graded as {name!r}, which cannot run here: "
                         f"{problems}") from None


def grade(answer: str | None, task: Task, recipe_format: TaskFormat,
          registry: Registry) -> Grade:
    fmt = grading_format(task, recipe_format, registry)
    try:
        return fmt.grade(answer, task)
    except Exception as exc:  # a grader must not stop an evaluation: the item is ungraded
        return Grade(None, f"grading failed: {type(exc).__name__}: {exc}")
