"""Executor overhead per candidate, on the scripted runtime (no model time to hide behind).

The runtime answers instantly from a precomputed table (50-token completions with full
statistics). Baseline: the same runtime calls made directly, on the same event loop. The overhead is
what the orchestrator adds on top: recipe plan, seeds, candidate objects with token stats,
hooks, the ledger, merging and selection. Target: <= 0.5 ms per candidate.

    python bench/bench_executor.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

os.environ.setdefault("TTC_DISABLE_ENTRY_POINTS", "1")

from rich.console import Console
from rich.table import Table

from ttc.background_loop import run_sync
from ttc.pipeline import Pipeline
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.runtime import GenerateRequest, SamplingParams

RESPONSES = [" ".join(["step"] * 44 + ["so the answer is", str(i % 5)]) for i in range(128)]
RECIPE = """name: bench
task: number
models: {s: {runtime: scripted}}
stages:
  - [{use: sample, n: %(n)d}, {use: sample, n: %(n)d}]
  - use: sample
    n: %(n)d
select: {use: majority}
"""


class InstantRuntime(ScriptedRuntime):
    """Answers from a precomputed table: the model costs nothing, so what is left is ttc."""

    def __init__(self, n: int) -> None:
        super().__init__("", ScriptedOptions(responses=RESPONSES))
        request = GenerateRequest(prompt="q", params=SamplingParams(seed=1), n=n)
        self.table = asyncio.run(ScriptedRuntime.generate(self, request))

    async def generate(self, request: GenerateRequest):
        return self.table[: request.n]


async def baseline(runtime: ScriptedRuntime, n: int) -> None:
    prompt = await runtime.render([{"role": "user", "content": "q"}])
    request = GenerateRequest(prompt=prompt, params=SamplingParams(seed=1), n=n)
    await asyncio.gather(runtime.generate(request), runtime.generate(request))
    await runtime.generate(request)


def measure(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    table = Table("candidates/run", "direct calls (ms)", "pipeline (ms)", "overhead/candidate (ms)",
                  "ratio", title="ttc executor overhead (scripted runtime)")
    for n in (8, 32, 128):
        runtime = InstantRuntime(n)
        pipeline = Pipeline.from_text(RECIPE % {"n": n}, runtimes={"s": runtime})
        candidates = 3 * n
        pipeline.run("warm up")
        direct = measure(lambda: run_sync(baseline(runtime, n)), 20)  # noqa: B023
        full = measure(lambda: pipeline.run("What is 2+2?"), 20)  # noqa: B023
        overhead = (full - direct) / candidates * 1000
        table.add_row(str(candidates), f"{direct * 1000:.2f}", f"{full * 1000:.2f}",
                      f"{overhead:.3f}", f"{full / direct:.2f}x")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
