"""The program a code task's tests run against: the reply's block that defines what the
tests call, completed with the task's prompt when the reply only continued it (HumanEval
prompts end inside the function; many replies give just the body)."""

from __future__ import annotations

from collections.abc import Sequence

from ttc.plugins.sandbox.code_blocks import called_names, extract_code


def code_under_test(reply: str, tests: Sequence[str], prompt: str = "",
                    entry_point: str | None = None) -> str:
    names = [entry_point] if entry_point else list(called_names(tests))
    code = extract_code(reply, defines=names)
    if prompt and names and not any(f"def {name}(" in code for name in names):
        return prompt + code  # a completion of the prompt's function
    return code
