"""Run code against test statements (e.g. ``assert add(2, 3) == 5``) in one sandboxed
process and read back which passed."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from ttc.plugins.sandbox.limits import SandboxLimits
from ttc.plugins.sandbox.run import SandboxResult, run_python

HARNESS = '''

def __ttc_run_tests():
    import json
    results = []
    for source in {tests!r}:
        try:
            exec(source, globals())
            results.append([True, ""])
        except BaseException as error:  # a failing test must not stop the others
            results.append([False, (type(error).__name__ + ": " + str(error))[:200]])
    print({marker!r} + json.dumps(results), flush=True)


__ttc_run_tests()
'''
_FENCE = re.compile(r"```(?:python|py)?[^\n]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True, slots=True)
class TestOutcome:
    passed: tuple[bool, ...]
    errors: tuple[str, ...]
    run: SandboxResult

    @property
    def fraction(self) -> float:
        return sum(self.passed) / len(self.passed) if self.passed else 0.0


def extract_code(text: str) -> str:
    """The last fenced code block of a reply, or the whole reply when it has none."""
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else text


def run_tests(code: str, tests: Sequence[str], limits: SandboxLimits | None = None
              ) -> TestOutcome:
    """Every test fails when the code crashes, times out, or never reports (the report line
    carries a random marker, so printed text cannot forge it)."""
    marker = f"@@ttc-results-{secrets.token_hex(8)}@@"
    program = code + HARNESS.format(tests=list(tests), marker=marker)
    result = run_python(program, limits)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(marker):
            try:
                rows = json.loads(line[len(marker):])
            except ValueError:
                break
            if len(rows) == len(tests):
                return TestOutcome(tuple(bool(r[0]) for r in rows),
                                   tuple(str(r[1]) for r in rows), result)
            break
    last = result.stderr.strip().splitlines()[-1:]
    reason = f"{result.status}: {last[0] if last else ''}".strip()
    return TestOutcome(tuple(False for _ in tests), tuple(reason for _ in tests), result)
