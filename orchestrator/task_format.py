"""Task formats: how a final answer is read out of a completion and when two answers agree.

A recipe picks one by name (``task: number``); plugins register more through
``ttc_register_tasks``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class TaskFormatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class TaskFormat:
    name: ClassVar[str]
    Config: ClassVar[type[TaskFormatConfig]] = TaskFormatConfig
    extracts_answers: ClassVar[bool] = True
    """False for a format that never extracts (``none``): a run's answer is then its
    winner's text; otherwise a run whose answer could not be extracted has none."""

    def __init__(self, config: TaskFormatConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def extract(self, text: str) -> str | None:
        """The final answer in ``text``, normalised, or None when there is none."""
        raise NotImplementedError

    def key(self, answer: str) -> Hashable:
        """A canonical key: equal keys mean equivalent answers (the fast path)."""
        return answer

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


class NoAnswer(TaskFormat):
    """The default when a recipe names no task: completions carry no extracted answer."""

    name = "none"
    extracts_answers = False

    def extract(self, text: str) -> str | None:
        return None
