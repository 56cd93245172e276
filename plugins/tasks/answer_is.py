"""``answer_is``: the text after the last "the answer is" (or "Answer:"), compared as math."""

from __future__ import annotations

import re
from collections.abc import Hashable

from ttc.plugin_system import hookimpl
from ttc.plugins.tasks.math_equivalence import (
    SymbolicConfig,
    math_equivalent,
    math_key,
    normalise,
)
from ttc.registry import RegisterTask
from ttc.task_format import TaskFormat

_ANSWER_IS = re.compile(
    r"(?:the\s+(?:final\s+)?answer\s+is|final\s+answer\s*:|answer\s*:)\s*:?\s*(.+?)\s*"
    r"(?:\.\s|\.?$)",
    re.IGNORECASE | re.MULTILINE,
)


class AnswerIs(TaskFormat[SymbolicConfig]):
    """The phrase after the last "the answer is" / "Answer:"; math-aware equivalence."""

    name = "answer_is"
    Config = SymbolicConfig

    def extract(self, text: str) -> str | None:
        found = _ANSWER_IS.findall(text)
        if not found:
            return None
        answer = normalise(found[-1].strip().strip("*").strip())
        return answer or None

    def key(self, answer: str) -> Hashable:
        return math_key(answer)

    def equivalent(self, a: str, b: str) -> bool:
        config = self.config
        return self.key(a) == self.key(b) or math_equivalent(a, b, symbolic=config.symbolic)


@hookimpl
def ttc_register_tasks(register: RegisterTask) -> None:
    register(AnswerIs)
