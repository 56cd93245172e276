"""Chunked prefill: the normal path before and after, and a small request next to a long one.

    python bench/bench_chunked_prefill.py --base b3915dc --threads 1
    python bench/bench_chunked_prefill.py --sweep --threads 1    # prefill speed by chunk size

Compares the local engine at a git revision (``--base``, exported with ``git archive``) with
the working tree. Every measurement runs in a fresh process; base and current alternate
``--rounds`` times and each keeps its best, so the machine's drift hits both sides. Ratios
are current / base (above 1: current is faster, except for latencies, where below 1 is).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Write a short story about a robot who learns to paint."
LONG_WORDS = 1500


def measure(threads: int, quick: bool = False) -> dict[str, float]:
    """The worker: every number for the engine this process imports."""
    from ttc.plugins.runtimes.local import LocalRuntime
    from ttc.runtime import GenerateRequest, SamplingParams

    runtime = LocalRuntime.create("", LocalRuntime.Options(threads=threads))

    async def generate(prompt: str, n: int, tokens: int, temperature: float = 1.0) -> int:
        params = SamplingParams(max_tokens=tokens, temperature=temperature, seed=1)
        out = await runtime.generate(GenerateRequest(prompt, params, n=n))
        return sum(len(c.token_ids) for c in out)

    async def timed(work) -> float:
        start = time.perf_counter()
        await work
        return time.perf_counter() - start

    async def main() -> dict[str, float]:
        prompt = await runtime.render([{"role": "user", "content": QUESTION}])
        long_prompt = " ".join(f"word{i % 97}" for i in range(LONG_WORDS))
        await generate(prompt, 8, 8)  # warm-up
        out: dict[str, float] = {}
        start = time.perf_counter()
        out["8x64 tok/s"] = await generate(prompt, 8, 64) / (time.perf_counter() - start)
        start = time.perf_counter()
        out["1x64 greedy tok/s"] = await generate(prompt, 1, 64, 0.0) / (
            time.perf_counter() - start)
        critics = [await runtime.render([{"role": "user", "content": (
            f"Question: {QUESTION}\nCandidate answer {i}: the robot paints a sunset.\n"
            "Critique the answer.")}]) for i in range(8)]
        await runtime.flush_cache()
        out["8 critics s"] = await timed(asyncio.gather(*(generate(c, 1, 16) for c in critics)))
        out["small alone s"] = await timed(generate(prompt + "Hi", 1, 8, 0.0))
        if quick:
            return out
        await runtime.flush_cache()
        out["long prefill s"] = await timed(generate(long_prompt, 1, 1))
        await runtime.flush_cache()
        long_task = asyncio.ensure_future(generate(long_prompt + " again", 1, 1))
        await asyncio.sleep(0.3)  # the long prefill is under way
        out["small during long s"] = await timed(generate(prompt + "Hello", 1, 8, 0.0))
        await long_task
        return out

    return asyncio.run(main())


SWEEP = (64, 128, 256, 512, 1024, 2048)
SWEEP_TOKENS = 2048


def sweep(threads: int, rounds: int) -> dict[str, float]:
    """Prompt tokens per second when a 2,048-token prompt is prefilled in chunks of each size
    (the decoder alone, one process, sizes interleaved ``rounds`` times, best kept)."""
    import torch

    from ttc.plugins.runtimes.local.decoder import Decoder
    from ttc.plugins.runtimes.local.engine import claim_cores
    from ttc.plugins.runtimes.local.model_files import prepare_model_folder

    claim_cores(threads)
    decoder = Decoder.load(prepare_model_folder("").path)
    ids = torch.randint(100, 40000, (1, SWEEP_TOKENS), generator=torch.Generator().manual_seed(0))
    best = dict.fromkeys(SWEEP, 0.0)
    with torch.inference_mode():
        decoder.forward(ids[:, :64], decoder.new_batch(rows=1))  # warm-up
        for _ in range(rounds):
            for chunk in SWEEP:
                kv = decoder.new_batch(rows=1)
                kv.reserve(SWEEP_TOKENS)
                start = time.perf_counter()
                for offset in range(0, SWEEP_TOKENS, chunk):
                    decoder.forward(ids[:, offset:offset + chunk], kv)
                rate = SWEEP_TOKENS / (time.perf_counter() - start)
                best[chunk] = max(best[chunk], rate)
    return {str(chunk): rate for chunk, rate in best.items()}


def export(revision: str, into: Path) -> Path:
    """``plugins/runtimes/local`` at ``revision``, as a package folder named ``local``."""
    archive = subprocess.run(["git", "archive", revision, "plugins/runtimes/local"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "plugins" / "runtimes"


def worker(threads: int, engine_dir: Path | None, quick: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", "--threads", str(threads)]
    if quick:
        command.append("--quick")
    if engine_dir is not None:
        command += ["--engine-dir", str(engine_dir)]
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: (max if key.endswith("tok/s") else min)(run[key] for run in runs)
            for key in runs[0]}


def report(base: str, threads: int, rounds: int, quick: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory(prefix="ttc-bench-base-") as folder:
        engine_dir = export(base, Path(folder))
        base_runs, current_runs = [], []
        for _ in range(rounds):
            base_runs.append(worker(threads, engine_dir, quick))
            current_runs.append(worker(threads, None, quick))
    before, after = best(base_runs), best(current_runs)
    table = Table(title=f"local engine at {base} vs working tree, {threads or 'all'} threads, "
                        f"best of {rounds} alternated runs")
    for column in ("measurement", "base", "current", "current / base"):
        table.add_column(column)
    for key in before:
        table.add_row(key, f"{before[key]:.3f}", f"{after[key]:.3f}",
                      f"×{after[key] / before[key]:.2f}")
    for name, numbers in (("base", before), ("current", after)) if not quick else ():
        ratio = numbers["small during long s"] / numbers["small alone s"]
        table.add_row(f"small during long / alone ({name})", "", "", f"×{ratio:.1f}")
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="git revision to compare with")
    parser.add_argument("--threads", type=int, default=0, help="engine threads (0: all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sweep", action="store_true", help="prefill speed by chunk size")
    parser.add_argument("--quick", action="store_true", help="the normal path only")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--engine-dir", type=Path)
    arguments = parser.parse_args()
    if arguments.sweep:
        rates = sweep(arguments.threads, arguments.rounds)
        print("chunk tokens  prompt tok/s  (2,048-token prompt)")
        for chunk, rate in rates.items():
            print(f"{chunk:>12}  {rate:12.0f}")
    elif arguments.worker:
        if arguments.engine_dir is not None:  # the base engine shadows the working tree's
            import ttc.plugins.runtimes as runtimes

            runtimes.__path__.insert(0, str(arguments.engine_dir))
        print(json.dumps(measure(arguments.threads, arguments.quick)))
    else:
        report(arguments.base, arguments.threads, arguments.rounds, arguments.quick)
