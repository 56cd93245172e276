"""``executed_tests``: run each candidate's code against tests in the sandbox (docs/methods.md V5,
ours): never in ttc's process. Keeps the candidates that pass most tests first."""

from __future__ import annotations

import asyncio

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.sandbox.code_tests import run_tests
from ttc.plugins.sandbox.code_under_test import code_under_test
from ttc.plugins.sandbox.limits import SandboxLimits
from ttc.plugins.structured.ask import Reply, record_parse_failure
from ttc.registry import RegisterComponent
from ttc.state import State

SCORE = "tests_passed"
ARTIFACT = "code_tests"
"""Where a test-writing component leaves executable tests (a sequence of statements)."""


class ExecutedTestsConfig(ComponentConfig):
    tests: list[str] = Field(default_factory=list)
    """Test statements, e.g. ``assert add(2, 3) == 5``; empty: the task's own ``tests``
    (from a data set), else the ``code_tests`` artifact a test-writing stage left."""
    top_k: int | None = Field(default=None, ge=1)
    """Keep this many, most tests passed first (None keeps all, sorted)."""
    timeout_s: float = Field(default=5.0, gt=0, le=600)
    """Wall clock per candidate (timeout or crash fails every test)."""
    cpu_s: int = Field(default=5, ge=1, le=600)
    """CPU seconds per candidate (RLIMIT_CPU)."""
    memory_mb: int = Field(default=512, ge=32, le=65536)
    """Address-space cap per candidate (RLIMIT_AS), in MiB."""
    parallel: int = Field(default=2, ge=1, le=64)
    """Sandboxes run at once."""


class ExecutedTests(Component[ExecutedTestsConfig]):
    """Executed tests: runs each candidate's code against tests in a sandboxed subprocess."""

    name = "executed_tests"
    kind = "verifier"
    effect = Effect.SELECTS
    needs_candidates = True
    uses_model = False
    Config = ExecutedTestsConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        task = state.task
        tests = (list(config.tests) or list(task.tests)
                 or list(state.artifacts.get(ARTIFACT, ())))
        if not tests:
            return record_parse_failure(state, ctx, "executed tests", Reply(
                None, "", 0, False, "no tests given, none on the task and no code_tests "
                "artifact"))
        entry = task.metadata.get("entry_point")
        entry_point = entry if isinstance(entry, str) else None
        limits = SandboxLimits(timeout_s=config.timeout_s, cpu_s=config.cpu_s,
                               memory_mb=config.memory_mb)
        gate = asyncio.Semaphore(config.parallel)

        async def check(candidate: Candidate) -> Candidate:
            async with gate:
                code = code_under_test(candidate.text, tests, task.prompt, entry_point)
                outcome = await asyncio.to_thread(run_tests, code, tests, limits)
            return candidate.with_scores(**{SCORE: outcome.fraction})

        scored = await asyncio.gather(*(check(c) for c in state.pool))
        ctx.remember(scored)
        ranked = sorted(scored, key=lambda c: -c.scores[SCORE])  # stable
        return state.with_pool(ranked[: config.top_k] if config.top_k else ranked)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(ExecutedTests)
