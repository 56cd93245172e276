"""``code``: the last fenced code block, compared modulo trailing spaces and blank lines."""

from __future__ import annotations

import re
from collections.abc import Hashable

from ttc.plugin_system import hookimpl
from ttc.registry import RegisterTask
from ttc.state import Task
from ttc.task_format import Grade, TaskFormat, TaskFormatConfig

_FENCE = re.compile(r"```([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)


class CodeBlockConfig(TaskFormatConfig):
    language: str | None = None
    """Only blocks tagged with this language (e.g. ``python``); None takes any block."""


class CodeBlock(TaskFormat[CodeBlockConfig]):
    """The last fenced ``` code block; equal up to trailing whitespace and blank lines."""

    name = "code"
    Config = CodeBlockConfig

    def extract(self, text: str) -> str | None:
        config = self.config
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

    def read_reference(self, reference: str) -> str | None:
        """A reference solution, fenced or not."""
        return self.extract(reference) or reference.strip() or None

    def grade(self, answer: str | None, task: Task) -> Grade:
        """With tests: right when every test passes against the answer's code, run in the
        sandbox (completed with the prompt when it only continues the prompt's function).
        Without: the same code as the reference, up to blank lines and trailing spaces."""
        if not task.tests:
            return super().grade(answer, task)
        if answer is None:
            return Grade(False, "no code")
        from ttc.plugins.sandbox.code_tests import run_tests
        from ttc.plugins.sandbox.code_under_test import code_under_test
        from ttc.plugins.sandbox.limits import SandboxLimits

        entry = task.metadata.get("entry_point")
        code = code_under_test(f"```python\n{answer}\n```", task.tests, task.prompt,
                               entry if isinstance(entry, str) else None)
        outcome = run_tests(code, task.tests, SandboxLimits(timeout_s=10, cpu_s=10))
        passed = sum(outcome.passed)
        detail = f"{passed}/{len(outcome.passed)} tests passed"
        if passed < len(outcome.passed):
            failed = next(e for ok, e in zip(outcome.passed, outcome.errors, strict=True)
                          if not ok)
            detail += f"; first failure: {failed[:200]}"
        return Grade(passed == len(outcome.passed), detail)


@hookimpl
def ttc_register_tasks(register: RegisterTask) -> None:
    register(CodeBlock)
