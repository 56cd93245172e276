"""Local engine throughput vs transformers ``generate`` on the same model, in one run.

    python bench/bench_local_engine.py

Ratios are measured in the same process on the same weights, so machine load affects both
sides; absolute numbers vary with the machine and whatever else runs on it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from rich.console import Console
from rich.table import Table

from ttc.plugins.runtimes.local import LocalRuntime
from ttc.runtime import GenerateRequest, SamplingParams, ScoreRequest

TOKENS = 64
QUESTION = "Write a short story about a robot who learns to paint."
WARM_START = """
import asyncio, time
t = time.perf_counter()
from ttc.plugins.runtimes.local import LocalRuntime
from ttc.runtime import GenerateRequest, SamplingParams
runtime = LocalRuntime.create("", LocalRuntime.Options())
asyncio.run(runtime.generate(GenerateRequest("Hi", SamplingParams(max_tokens=1))))
print(time.perf_counter() - t)
"""


def timed(run: Callable[[], int], repeats: int = 2) -> tuple[float, float]:
    """Best (tokens per second, seconds) of ``repeats`` calls returning their token count.

    Best-of is used because other processes share the cores: the fastest run is the
    closest to what the code itself costs.
    """
    best = (0.0, 0.0)
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = run()
        seconds = time.perf_counter() - start
        best = max(best, (tokens / seconds, seconds))
    return best


def hf_tokens(sequences: torch.Tensor, prompt_len: int, eos: int) -> int:
    """Generated tokens up to and including each row's first EOS (padding not counted)."""
    total = 0
    for row in sequences[:, prompt_len:].tolist():
        total += row.index(eos) + 1 if eos in row else len(row)
    return total


async def main() -> None:
    runtime = LocalRuntime.create("", LocalRuntime.Options())
    engine = runtime.engine
    model = engine.decoder.model
    prompt = await runtime.render([{"role": "user", "content": QUESTION}])
    ids = torch.tensor([await runtime.tokenize(prompt)])
    eos = 2
    rows: list[tuple[str, str, str]] = []

    def ours(n: int, temperature: float = 1.0, seed: int = 0, rt: LocalRuntime = runtime
             ) -> int:
        params = SamplingParams(max_tokens=TOKENS, temperature=temperature, seed=seed)
        out = asyncio.run_coroutine_threadsafe(
            rt.generate(GenerateRequest(prompt, params, n=n, top_logprobs=0)), loop).result()
        return sum(len(c.token_ids) for c in out)

    def theirs(n: int, *, logits: bool, sample: bool = True) -> int:
        with torch.inference_mode():
            out = model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=TOKENS,
                do_sample=sample, num_return_sequences=n, output_logits=logits,
                return_dict_in_generate=True, pad_token_id=eos,
                **({"temperature": 1.0, "top_k": 0, "top_p": 1.0} if sample else {}))
        return hf_tokens(out.sequences, ids.shape[1], eos)

    loop = asyncio.get_running_loop()
    run = loop.run_in_executor
    await run(None, ours, 8)  # warm-up
    await run(None, lambda: theirs(2, logits=False))
    await runtime.flush_cache()
    ours8, _ = await run(None, timed, lambda: ours(8, seed=1))
    hf8_logits, _ = await run(None, timed, lambda: theirs(8, logits=True))
    hf8, _ = await run(None, timed, lambda: theirs(8, logits=False))
    ours32, _ = await run(None, timed, lambda: ours(32, seed=2))
    ours1, _ = await run(None, timed, lambda: ours(1, temperature=0))
    hf1, _ = await run(None, timed, lambda: theirs(1, logits=False, sample=False))
    rows += [
        ("8×64 sampled, exact stats (ours)", f"{ours8:.1f} tok/s", ""),
        ("generate 8×64 + output_logits", f"{hf8_logits:.1f} tok/s",
         f"ours ×{ours8 / hf8_logits:.2f} (target ≥ 2.5)"),
        ("generate 8×64, no logits", f"{hf8:.1f} tok/s", f"ours ×{ours8 / hf8:.2f} (target ≥ 1.3)"),
        ("32×64 sampled (ours)", f"{ours32:.1f} tok/s",
         f"×{ours32 / ours8:.2f} vs 8 samples (target ≥ 2.5)"),
        ("1×64 greedy (ours)", f"{ours1:.1f} tok/s", f"×{ours1 / hf1:.2f} vs generate (≥ 1)"),
        ("generate 1×64 greedy", f"{hf1:.1f} tok/s", ""),
    ]

    int8 = LocalRuntime.create("", LocalRuntime.Options(quantize="int8"))
    await run(None, lambda: ours(8, rt=int8))
    ours8_int8, _ = await run(None, timed, lambda: ours(8, seed=1, rt=int8))
    sample = await runtime.generate(GenerateRequest(prompt, SamplingParams(
        max_tokens=TOKENS, temperature=1.0, seed=3)))
    request = [ScoreRequest(prompt, sample[0].text)]
    exact, quantized = (await runtime.score(request))[0], (await int8.score(request))[0]
    delta = max(abs(a - b) for a, b in zip(exact.logprobs, quantized.logprobs, strict=True))
    rows.append(("8×64 sampled, int8 weights", f"{ours8_int8:.1f} tok/s",
                 f"×{ours8_int8 / ours8:.2f} vs fp32; max |Δlogprob| {delta:.3f}"))

    candidates = await runtime.generate(GenerateRequest(prompt, SamplingParams(
        max_tokens=48, temperature=1.0, seed=4), n=8))
    critics = [await runtime.render([{"role": "user", "content": (
        f"Question: {QUESTION}\nCandidate answer: {c.text}\nCritique the answer.")}])
        for c in candidates]
    timings: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(2):
        for use_cache in (False, True):
            await runtime.flush_cache()
            before, start = engine.prefill_tokens, time.perf_counter()
            for critic in critics:
                if not use_cache:
                    await runtime.flush_cache()
                await runtime.generate(GenerateRequest(critic, SamplingParams(max_tokens=1)))
            computed = engine.prefill_tokens - before
            timings[use_cache].append(time.perf_counter() - start)
            if not use_cache:
                total = computed
    cold, seconds = min(timings[False]), min(timings[True])
    rows.append(("critic prefill, 8 prompts sharing the question",
                 f"{computed}/{total} tokens computed",
                 f"{1 - computed / total:.0%} saved; {cold:.2f}s → {seconds:.2f}s"))

    started = subprocess.run([sys.executable, "-c", WARM_START], capture_output=True,
                             text=True, check=True)
    rows.append(("warm start to first token (new process)",
                 f"{float(started.stdout.strip()):.2f} s", "target ≤ 3 s"))

    table = Table(title=f"local engine, {torch.get_num_threads()} threads")
    for column in ("measurement", "value", "comparison"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
