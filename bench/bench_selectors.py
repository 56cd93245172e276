"""Selection time of MBR (each utility) and Borda for N candidates of ~200 tokens.

Run as a script: ``python bench/bench_selectors.py [--embedding]``. Times are the median of a
few repeats on one thread; ratios are to majority voting measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from types import MappingProxyType

os.environ.setdefault("OMP_NUM_THREADS", "1")

from ttc.candidate import Candidate, TokenStats
from ttc.component import Selector
from ttc.context import ComponentContext, RunContext
from ttc.events import RunInfo
from ttc.plugin_system import default_host
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.plugins.selectors.borda import Borda
from ttc.plugins.selectors.majority import Majority
from ttc.plugins.selectors.mbr import MBR, MBRConfig
from ttc.plugins.tasks.builtin import LastNumber
from ttc.recipe.plan import Limits
from ttc.state import Task

WORDS = ["the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "was", "on",
         "be", "by", "this", "are", "we", "so", "then", "add", "number", "total", "answer",
         "step", "first", "second", "multiply", "divide", "equals", "result", "therefore",
         "sum", "apples", "each", "left", "gives"]


def pool(n: int, rng: random.Random) -> tuple[Candidate, ...]:
    out = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(195)]
        answer = str(rng.choice([12, 12, 12, 13, 14]))
        text = " ".join(words) + f" so the answer is {answer}"
        length = len(text.split())
        out.append(Candidate(
            id=f"c{i}", text=text, answer=answer,
            tokens=TokenStats(ids=tuple(range(length)), logprobs=(-1.0,) * length,
                              kl_uniform=tuple(rng.random() * 5 for _ in range(length))),
            scores=MappingProxyType({}),
        ))
    return tuple(out)


def context() -> ComponentContext:
    run = RunInfo(run_id="bench", recipe_name="bench", recipe_text="", recipe_hash="",
                  task=Task(prompt="q"), seed=0)
    run_ctx = RunContext(run=run, runtimes={"m": ScriptedRuntime("s", ScriptedOptions())},
                         task_format=LastNumber(), hook=default_host().hook, limits=Limits(),
                         semaphore=asyncio.Semaphore(4))
    return ComponentContext(run_ctx, "select", "bench", 0, "m")


def timed(selector: Selector, candidates: tuple[Candidate, ...], repeats: int) -> float:
    async def once() -> float:
        ctx = context()
        started = time.perf_counter()
        await selector.select(candidates, ctx)
        return time.perf_counter() - started

    asyncio.run(once())  # warm-up (imports, caches)
    return statistics.median(asyncio.run(once()) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--embedding", action="store_true",
                        help="also time the embedding utility (loads all-MiniLM-L6-v2)")
    args = parser.parse_args()
    selectors: list[tuple[str, Selector]] = [
        ("majority (baseline)", Majority()),
        ("borda", Borda()),
        *((f"mbr {u}", MBR(MBRConfig(utility=u)))
          for u in ("exact_match", "chrf", "bleu", "rouge_l")),
    ]
    if args.embedding:
        selectors.append(("mbr embedding", MBR(MBRConfig(utility="embedding"))))
    rng = random.Random(0)
    pools = {n: pool(n, rng) for n in args.sizes}
    header = f"{'selector':<22}" + "".join(f"{f'N={n} ms':>12}{'×base':>9}" for n in args.sizes)
    lines = [header, "-" * len(header)]
    base: dict[int, float] = {}
    for label, selector in selectors:
        row = f"{label:<22}"
        for n in args.sizes:
            seconds = timed(selector, pools[n], args.repeats if n < 256 else 3)
            base.setdefault(n, seconds)
            row += f"{seconds * 1000:>12.2f}{seconds / base[n]:>9.0f}"
        lines.append(row)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
