"""``code``: the last fenced code block, compared modulo trailing spaces and blank lines."""

from __future__ import annotations

import re
from collections.abc import Hashable

from ttc.plugin_system import hookimpl
from ttc.task_format import TaskFormat, TaskFormatConfig

_FENCE = re.compile(r"```([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)


class CodeBlockConfig(TaskFormatConfig):
    language: str | None = None
    """Only blocks tagged with this language (e.g. ``python``); None takes any block."""


class CodeBlock(TaskFormat):
    """The last fenced ``` code block; equal up to trailing whitespace and blank lines."""

    name = "code"
    Config = CodeBlockConfig

    def extract(self, text: str) -> str | None:
        config: CodeBlockConfig = self.config  # type: ignore[assignment]
        blocks = [
            body for tag, body in _FENCE.findall(text)
            if config.language is None or tag.lower() == config.language.lower()
        ]
        if not blocks:
            return None
        code = blocks[-1].strip("\n")
        return code if code.strip() else None

    def key(self, answer: str) -> Hashable:
        lines = (line.rstrip() for line in answer.strip("\n").splitlines())
        return "\n".join(line for line in lines if line)


@hookimpl
def ttc_register_tasks(register) -> None:
    register(CodeBlock)
