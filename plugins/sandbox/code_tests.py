"""Run code against test statements (e.g. ``assert add(2, 3) == 5``) in the sandbox and
read back which passed.

The verdicts come from a harness process the tested code cannot reach (``harness.py``):
the code runs in its own process and answers calls with data; tests run in the harness;
each verdict goes to ttc on a pipe only the harness holds. What this guarantees and what it
does not: docs/sandbox.md."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ttc.plugins.sandbox.code_blocks import called_names, extract_code
from ttc.plugins.sandbox.job import tests_job
from ttc.plugins.sandbox.limits import SandboxLimits
from ttc.plugins.sandbox.run import SandboxResult, run_job

__all__ = ["TestOutcome", "called_names", "extract_code", "run_tests"]


@dataclass(frozen=True, slots=True)
class TestOutcome:
    passed: tuple[bool, ...]
    errors: tuple[str, ...]
    run: SandboxResult

    @property
    def fraction(self) -> float:
        return sum(self.passed) / len(self.passed) if self.passed else 0.0


def run_tests(code: str, tests: Sequence[str], limits: SandboxLimits | None = None
              ) -> TestOutcome:
    """Each test passes only if the harness saw it pass. A test without a verdict (the
    code did not load, crashed the run, or the wall clock ran out before it) fails with
    the run's status and last line of stderr."""
    limits = limits or SandboxLimits()
    tests = list(tests)
    tests_fd = os.memfd_create("ttc-tests", os.MFD_CLOEXEC)  # passed to this job only
    report_read, report_write = os.pipe()
    try:
        os.write(tests_fd, json.dumps(tests).encode())
        os.lseek(tests_fd, 0, os.SEEK_SET)
        result, report = run_job(tests_job(code, limits, tests_fd, report_write), limits,
                                 report_read)
    finally:
        for fd in (tests_fd, report_read, report_write):
            os.close(fd)
    verdicts = _verdicts(report, len(tests))
    last = result.stderr.strip().splitlines()[-1:]
    reason = f"{result.status}: {last[0] if last else ''}".strip()
    return TestOutcome(tuple(verdicts.get(i, (False, reason))[0] for i in range(len(tests))),
                       tuple(verdicts.get(i, (False, reason))[1] for i in range(len(tests))),
                       result)


def _verdicts(report: bytes, count: int) -> dict[int, tuple[bool, str]]:
    """``index -> (passed, error)`` from the harness's lines; anything malformed is
    ignored (the test then fails)."""
    verdicts: dict[int, tuple[bool, str]] = {}
    for line in report.decode("utf-8", "replace").splitlines():
        try:
            index, passed, error = json.loads(line)
        except (ValueError, TypeError):
            continue
        if type(index) is int and 0 <= index < count and type(passed) is bool:
            verdicts[index] = (passed, str(error))
    return verdicts
