"""Local engine throughput vs transformers ``generate`` on the same model, in one run.

    python bench/bench_local_engine.py

Every measurement runs in a fresh process (this script with ``--worker``), one after another:
two processes never compete for the cores, and no engine shares its process with another
(each engine's thread takes the cores' OpenMP team; see ``claim_cores``). Ours and
transformers' run alternately, twice each, best kept. Ratios compare numbers from the same
run, so machine load affects both sides; absolute numbers vary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable

TOKENS = 64
QUESTION = "Write a short story about a robot who learns to paint."
REPEATS = 3
EOS = 2


def timed(run: Callable[[], int], repeats: int = REPEATS) -> float:
    """Best tokens per second of ``repeats`` calls returning their token count.

    Best-of because other processes share the cores: the fastest run is the closest to what
    the code itself costs.
    """
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = run()
        best = max(best, tokens / (time.perf_counter() - start))
    return best


def ours(options: dict) -> dict[str, float]:
    from ttc.plugins.runtimes.local import LocalRuntime
    from ttc.runtime import GenerateRequest, SamplingParams

    runtime = LocalRuntime.create("", LocalRuntime.Options(**options))
    prompt = asyncio.run(runtime.render([{"role": "user", "content": QUESTION}]))

    def generate(n: int, temperature: float = 1.0, seed: int = 0) -> int:
        params = SamplingParams(max_tokens=TOKENS, temperature=temperature, seed=seed)
        out = asyncio.run(runtime.generate(GenerateRequest(prompt, params, n=n)))
        return sum(len(c.token_ids) for c in out)

    generate(8)  # warm-up
    return {"8": timed(lambda: generate(8, seed=1)), "32": timed(lambda: generate(32, seed=2)),
            "1": timed(lambda: generate(1, temperature=0))}


def transformers_generate() -> dict[str, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ttc.plugins.runtimes.local.model_files import prepare_model_folder

    folder = prepare_model_folder("").path
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": QUESTION}],
                                           tokenize=False, add_generation_prompt=True)
    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False).input_ids])

    def generate(n: int, *, logits: bool, sample: bool = True) -> int:
        with torch.inference_mode():
            out = model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=TOKENS,
                do_sample=sample, num_return_sequences=n, output_logits=logits,
                return_dict_in_generate=True, pad_token_id=EOS,
                **({"temperature": 1.0, "top_k": 0, "top_p": 1.0} if sample else {}))
        total = 0  # generated tokens up to and including each row's first EOS
        for row in out.sequences[:, ids.shape[1]:].tolist():
            total += row.index(EOS) + 1 if EOS in row else len(row)
        return total

    generate(2, logits=False)  # warm-up
    return {"8_logits": timed(lambda: generate(8, logits=True)),
            "8": timed(lambda: generate(8, logits=False)),
            "1": timed(lambda: generate(1, logits=False, sample=False))}


def prefix_cache() -> dict[str, float]:
    """Critic-style workload: 8 prompts that repeat the question before each candidate."""
    from ttc.plugins.runtimes.local import LocalRuntime
    from ttc.runtime import GenerateRequest, SamplingParams

    runtime = LocalRuntime.create("", LocalRuntime.Options())
    engine = runtime.engine

    async def main() -> dict[str, float]:
        prompt = await runtime.render([{"role": "user", "content": QUESTION}])
        candidates = await runtime.generate(GenerateRequest(prompt, SamplingParams(
            max_tokens=48, temperature=1.0, seed=4), n=8))
        critics = [await runtime.render([{"role": "user", "content": (
            f"Question: {QUESTION}\nCandidate answer: {c.text}\nCritique the answer.")}])
            for c in candidates]
        seconds: dict[bool, float] = {}
        tokens: dict[bool, int] = {}
        for _ in range(2):
            for use_cache in (False, True):
                await runtime.flush_cache()
                before, start = engine.prefill_tokens, time.perf_counter()
                for critic in critics:
                    if not use_cache:
                        await runtime.flush_cache()
                    await runtime.generate(GenerateRequest(critic, SamplingParams(max_tokens=1)))
                tokens[use_cache] = engine.prefill_tokens - before
                elapsed = time.perf_counter() - start
                seconds[use_cache] = min(seconds.get(use_cache, elapsed), elapsed)
        # Continuations: each candidate's text followed by a nudge (wait_continuation style).
        follows = [f"{prompt}{c.text}\nWait, let me check that." for c in candidates]
        continued: dict[bool, tuple[float, int]] = {}
        for use_cache in (False, True):
            if use_cache:  # the candidates' own KV, as left behind by generating them
                await runtime.flush_cache()
                await runtime.generate(GenerateRequest(prompt, SamplingParams(
                    max_tokens=48, temperature=1.0, seed=4), n=8))
            before, start = engine.prefill_tokens, time.perf_counter()
            for follow in follows:
                if not use_cache:
                    await runtime.flush_cache()
                await runtime.generate(GenerateRequest(follow, SamplingParams(max_tokens=1)))
            continued[use_cache] = (time.perf_counter() - start, engine.prefill_tokens - before)
        return {"computed": tokens[True], "total": tokens[False], "cold": seconds[False],
                "warm": seconds[True], "continue_cold": continued[False][0],
                "continue_warm": continued[True][0], "continue_total": continued[False][1],
                "continue_computed": continued[True][1]}

    return asyncio.run(main())


def drift() -> dict[str, float]:
    """Largest |Δ logprob| of a sampled continuation under each approximate mode."""
    from ttc.plugins.runtimes.local import LocalRuntime
    from ttc.runtime import GenerateRequest, SamplingParams, ScoreRequest

    exact = LocalRuntime.create("", LocalRuntime.Options())

    async def main() -> dict[str, float]:
        prompt = await exact.render([{"role": "user", "content": QUESTION}])
        [sample] = await exact.generate(GenerateRequest(prompt, SamplingParams(
            max_tokens=TOKENS, temperature=1.0, seed=3)))
        request = [ScoreRequest(prompt, sample.text)]
        [reference] = await exact.score(request)
        out = {}
        for name, options in MODES.items():
            other = LocalRuntime.create("", LocalRuntime.Options(**options))
            [scored] = await other.score(request)
            out[name] = max(abs(a - b) for a, b in zip(reference.logprobs, scored.logprobs,
                                                         strict=True))
        return out

    return asyncio.run(main())


WARM_START = """
import asyncio, time
t = time.perf_counter()
from ttc.plugins.runtimes.local import LocalRuntime
from ttc.runtime import GenerateRequest, SamplingParams
runtime = LocalRuntime.create("", LocalRuntime.Options())
asyncio.run(runtime.generate(GenerateRequest("Hi", SamplingParams(max_tokens=1))))
print(time.perf_counter() - t)
"""

MODES = {"torch kernel": {"linear": "torch"}, "bfloat16": {"dtype": "bfloat16"},
         "int8": {"quantize": "int8"}}
WORKERS: dict[str, Callable[[], dict]] = {
    "ours": lambda: ours({}),
    "transformers": transformers_generate,
    "prefix": prefix_cache,
    "drift": drift,
    **{f"ours {name}": (lambda options=options: ours(options)) for name, options in MODES.items()},
}


def worker(name: str) -> dict:
    output = subprocess.run([sys.executable, __file__, "--worker", name], capture_output=True,
                            text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def report() -> None:
    import torch
    from rich.console import Console
    from rich.table import Table

    # Alternate the two sides twice and keep each one's best: the machine's speed drifts
    # by ±20 % over minutes, and alternating spreads that drift over both.
    runs = [worker(name) for name in ("ours", "transformers", "ours", "transformers")]
    mine = {key: max(runs[0][key], runs[2][key]) for key in runs[0]}
    theirs = {key: max(runs[1][key], runs[3][key]) for key in runs[1]}
    modes = {name: worker(f"ours {name}") for name in MODES}
    prefix, deltas = worker("prefix"), worker("drift")
    warm = min(float(subprocess.run([sys.executable, "-c", WARM_START], capture_output=True,
                                    text=True, check=True).stdout) for _ in range(2))
    rows = [
        ("8×64 sampled, exact stats (ours)", f"{mine['8']:.1f} tok/s", ""),
        ("generate 8×64 + output_logits", f"{theirs['8_logits']:.1f} tok/s",
         f"ours ×{mine['8'] / theirs['8_logits']:.2f} (target ≥ 2.5)"),
        ("generate 8×64, no logits", f"{theirs['8']:.1f} tok/s",
         f"ours ×{mine['8'] / theirs['8']:.2f} (target ≥ 1.3)"),
        ("32×64 sampled (ours)", f"{mine['32']:.1f} tok/s",
         f"×{mine['32'] / mine['8']:.2f} vs 8 samples (target ≥ 2.5)"),
        ("1×64 greedy (ours)", f"{mine['1']:.1f} tok/s",
         f"×{mine['1'] / theirs['1']:.2f} vs generate (target ≥ 1)"),
        ("generate 1×64 greedy", f"{theirs['1']:.1f} tok/s", ""),
    ]
    for name in MODES:
        rows.append((f"8×64 sampled, {name}", f"{modes[name]['8']:.1f} tok/s",
                     f"×{modes[name]['8'] / mine['8']:.2f} vs default; 32×64 "
                     f"{modes[name]['32']:.0f} tok/s; max |Δlogprob| {deltas[name]:.4f}"))
    rows += [
        ("critic prefill, 8 prompts sharing the question",
         f"{prefix['computed']}/{prefix['total']} tokens computed",
         f"{1 - prefix['computed'] / prefix['total']:.0%} saved; "
         f"{prefix['cold']:.2f}s → {prefix['warm']:.2f}s"),
        ("continuing 8 finished candidates (+ a nudge)",
         f"{prefix['continue_computed']}/{prefix['continue_total']} tokens computed",
         f"{1 - prefix['continue_computed'] / prefix['continue_total']:.0%} saved; "
         f"{prefix['continue_cold']:.2f}s → {prefix['continue_warm']:.2f}s"),
        ("warm start to first token (new process)", f"{warm:.2f} s", "target ≤ 3 s"),
    ]
    table = Table(title=f"local engine, {torch.get_num_threads()} threads, best of "
                        f"{REPEATS} (ours and generate: of 2 × {REPEATS})")
    for column in ("measurement", "value", "comparison"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=sorted(WORKERS))
    arguments = parser.parse_args()
    if arguments.worker:
        print(json.dumps(WORKERS[arguments.worker]()))
    else:
        report()
