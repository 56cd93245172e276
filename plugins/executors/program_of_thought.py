"""``program_of_thought``: run each candidate's program in the sandbox and make what it
prints the candidate's answer (Program of Thoughts, Chen et al. 2022; with voting over the
executed answers, PAL-style self-consistency).

A small model that cannot add three-digit numbers can often write ``print(347 + 589)``;
the interpreter does the arithmetic. The candidate keeps its id and text (the program); its
answer becomes the task format's reading of the program's output (the last number for
``number``), or None when the program fails or prints nothing the format can read. The
program, its status and output stay on the candidate as an artifact. Identical programs
run once. The code runs only in the sandbox (docs/sandbox.md), never in ttc's process.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.sandbox.code_blocks import extract_code
from ttc.plugins.sandbox.limits import Isolation, SandboxLimits
from ttc.plugins.sandbox.run import SandboxResult, run_python
from ttc.registry import RegisterComponent
from ttc.state import State

SCORE = "executed"
ARTIFACT = "program_of_thought"
KEPT_OUTPUT = 2000
"""Characters of stdout and stderr kept on the candidate."""
_OPENING_FENCE = re.compile(r"^\s*```[\w+#.-]*[^\n]*\n")


class ProgramOfThoughtConfig(ComponentConfig):
    timeout_s: float = Field(default=5.0, gt=0, le=600)
    """Wall clock per program."""
    cpu_s: int = Field(default=2, ge=1, le=600)
    """CPU seconds per program (RLIMIT_CPU)."""
    memory_mb: int = Field(default=256, ge=32, le=65536)
    """Address-space cap per program, in MiB."""
    parallel: int = Field(default=2, ge=1, le=64)
    """Programs run at once."""
    keep_text_answer: bool = False
    """When the program fails, keep the answer read from the candidate's text instead of
    none (for recipes that mix programs with worded answers)."""
    isolation: Isolation = "auto"
    """The sandbox backend (see docs/sandbox.md); ``unsafe`` only for code you trust."""


def program_text(text: str) -> str:
    """The program in a reply: the last fenced block; a reply that opens a fence the model
    never closed (generation stopped at the closing fence) is the code after it; otherwise
    the whole reply."""
    if text.count("```") >= 2:
        return extract_code(text)
    return _OPENING_FENCE.sub("", text, count=1) if text.lstrip().startswith("```") else text


class ProgramOfThought(Component[ProgramOfThoughtConfig]):
    """Runs each candidate's program in the sandbox; what it prints becomes the answer."""

    name = "program_of_thought"
    kind = "executor"
    effect = Effect.ANNOTATES
    needs_candidates = True
    uses_model = False
    Config = ProgramOfThoughtConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        limits = SandboxLimits(timeout_s=config.timeout_s, cpu_s=config.cpu_s,
                               memory_mb=config.memory_mb, isolation=config.isolation)
        programs = {c.id: program_text(c.text) for c in state.pool}
        gate = asyncio.Semaphore(config.parallel)
        runs: dict[str, asyncio.Task[SandboxResult]] = {}

        async def execute(code: str) -> SandboxResult:
            async with gate:
                return await asyncio.to_thread(run_python, code, limits)

        for code in dict.fromkeys(programs.values()):  # each distinct program once
            runs[code] = asyncio.ensure_future(execute(code))
        await asyncio.gather(*runs.values())
        pool = [self._annotate(c, programs[c.id], runs[programs[c.id]].result(), ctx, config)
                for c in state.pool]
        return state.with_pool(pool)

    @staticmethod
    def _annotate(candidate: Candidate, code: str, result: SandboxResult,
                  ctx: ComponentContext, config: ProgramOfThoughtConfig) -> Candidate:
        output = result.stdout.strip()
        answer = ctx.extract(output) if result.ok and output else None
        if answer is None and result.ok and output and not ctx.task_format.extracts_answers:
            answer = output
        if answer is None and config.keep_text_answer:
            answer = candidate.answer
        record: dict[str, Any] = {
            "code": code, "status": result.status, "stdout": result.stdout[-KEPT_OUTPUT:],
            "stderr": result.stderr[-KEPT_OUTPUT:], "wall_time": round(result.wall_time, 4)}
        return candidate.with_answer(answer).with_scores(
            **{SCORE: 1.0 if result.ok and answer is not None else 0.0}
        ).with_artifact(ARTIFACT, record)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(ProgramOfThought)
