"""Task formats: how a final answer is read out of a completion and when two answers agree.

A recipe picks one by name (``task: number``); plugins register more through
``ttc_register_tasks``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from ttc.state import Task


@dataclass(frozen=True, slots=True)
class Grade:
    """Whether an answer is right. ``correct`` is None when the task cannot be graded (it
    has no reference and no tests)."""

    correct: bool | None
    detail: str = ""


class TaskFormatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


TaskConfigT = TypeVar("TaskConfigT", bound=TaskFormatConfig)


class TaskFormat(Generic[TaskConfigT]):
    """An answer format, generic over its parameters like ``ttc.Component``:
    ``class Boxed(TaskFormat[BoxedConfig])`` with ``Config = BoxedConfig``."""

    name: ClassVar[str]
    Config: type[TaskConfigT] = cast("type[TaskConfigT]", TaskFormatConfig)
    """The parameters' class (the default has none); not a ClassVar only because a
    ClassVar cannot name the type variable."""
    config: TaskConfigT
    extracts_answers: ClassVar[bool] = True
    """False for a format that never extracts (``none``): a run's answer is then its
    winner's text; otherwise a run whose answer could not be extracted has none."""

    def __init__(self, config: TaskConfigT | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def extract(self, text: str) -> str | None:
        """The final answer in ``text``, normalised, or None when there is none."""
        raise NotImplementedError

    def key(self, answer: str) -> Hashable:
        """A canonical key: equal keys mean equivalent answers (the fast path)."""
        return answer

    def read_reference(self, reference: str) -> str | None:
        """A data set's reference in this format, or None when it cannot be read as one
        (an evaluation refuses such a data set before any model call)."""
        return self.extract(reference)

    def grade(self, answer: str | None, task: Task) -> Grade:
        """Is ``answer`` (a run's final answer) right for ``task``? Against the reference by
        default; a format may grade otherwise (e.g. code against the task's tests)."""
        if task.reference is None:
            return Grade(None, "no reference")
        reference = self.read_reference(task.reference)
        if reference is None:
            return Grade(None, f"the reference {task.reference!r} is not a {self.name} answer")
        if answer is None:
            return Grade(False, "no answer")
        return Grade(self.equivalent(answer, reference))

    def equivalent(self, a: str, b: str) -> bool:
        return self.key(a) == self.key(b)

    def groups(self, answers: Sequence[str | None]) -> list[int | None]:
        """Group index per answer (None for no answer). Each answer joins the group of the
        lowest-index equivalent answer, so grouping is deterministic."""
        representatives: list[str] = []
        by_key: dict[Hashable, int] = {}
        out: list[int | None] = []
        for answer in answers:
            if answer is None:
                out.append(None)
                continue
            key = self.key(answer)
            group = by_key.get(key)
            if group is None:
                for index, rep in enumerate(representatives):
                    if self.equivalent(rep, answer):
                        group = index
                        break
                else:
                    group = len(representatives)
                    representatives.append(answer)
                by_key[key] = group
            out.append(group)
        return out


class NoAnswer(TaskFormat[TaskFormatConfig]):
    """The default when a recipe names no task: completions carry no extracted answer."""

    name = "none"
    extracts_answers = False

    def extract(self, text: str) -> str | None:
        return None
