"""Prefix-cache hit ratio of best-of-8 plus a critic per candidate, shaping rules on vs off.

Through the ``sglang`` runtime against ``ttc serve`` over the embedded model (its radix-tree
prefix cache stands in for RadixAttention). The same 10 questions and the same 8 candidates
each feed two critic workloads, one run after the other with the cache flushed between:

- **shaped** (docs/prefix-sharing.md): instructions and question first, the candidate last;
  the 8 critic prompts of a question sent together;
- **unshaped**: the candidate first, then instructions and question; critic prompts of all
  questions interleaved.

    python bench/bench_prefix_sharing.py [--inputs 10] [--samples 8] [--critic-tokens 4]

Reports cached / prompt tokens for the sampling stage and for each critic arm.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass

from ttc.plugins.runtimes.local import LocalRuntime
from ttc.plugins.runtimes.sglang import SGLangOptions, SGLangRuntime
from ttc.plugins.server.background import BackgroundServer
from ttc.runtime import Completion, GenerateRequest, SamplingParams

QUESTIONS = [f"What is {a} * {b}? Explain briefly, then give the number." for a, b in
             [(3, 7), (12, 4), (9, 9), (15, 3), (6, 8), (11, 11), (25, 4), (7, 13), (14, 6),
              (8, 19)]]
INSTRUCTIONS = ("You are a strict reviewer of arithmetic answers. Read the question and the "
                "proposed answer. List one strength and one weakness, then say CORRECT or "
                "WRONG.")


@dataclass
class Tally:
    prompt: int = 0
    cached: int = 0
    calls: int = 0

    def add(self, completions: list[Completion]) -> None:
        self.calls += 1
        for c in completions:
            self.prompt += c.prompt_tokens
            self.cached += c.cached_tokens

    @property
    def ratio(self) -> float:
        return self.cached / self.prompt if self.prompt else 0.0


async def critic_arm(runtime: SGLangRuntime, candidates: dict[str, list[str]], shaped: bool,
                     max_tokens: int, concurrency: int) -> tuple[Tally, float]:
    prompts: list[list[str]] = []
    for question, answers in candidates.items():
        group = []
        for answer in answers:
            if shaped:  # shared instructions + question first, the candidate last
                text = f"{INSTRUCTIONS}\n\nQuestion: {question}\n\nProposed answer: {answer}"
            else:  # the candidate first: nothing after it can be shared
                text = f"Proposed answer: {answer}\n\n{INSTRUCTIONS}\n\nQuestion: {question}"
            group.append(await runtime.render([{"role": "user", "content": text}]))
        prompts.append(group)
    if shaped:  # requests sharing a prefix go out together
        order = [p for group in prompts for p in group]
    else:
        order = [p for group in prompts for p in group]
        random.Random(0).shuffle(order)
    tally = Tally()
    gate = asyncio.Semaphore(concurrency)

    async def one(prompt: str) -> None:
        async with gate:
            tally.add(await runtime.generate(GenerateRequest(
                prompt=prompt, params=SamplingParams(max_tokens=max_tokens, temperature=0))))

    started = time.perf_counter()
    if shaped:
        for group_start in range(0, len(order), len(prompts[0])):
            group = order[group_start:group_start + len(prompts[0])]
            await asyncio.gather(*(one(p) for p in group))
    else:
        await asyncio.gather(*(one(p) for p in order))
    return tally, time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    local = LocalRuntime.create("", LocalRuntime.Options())
    with BackgroundServer(local) as server:
        runtime = SGLangRuntime.create("", SGLangOptions(url=server.url))
        questions = QUESTIONS[: args.inputs]
        sampling = Tally()
        candidates: dict[str, list[str]] = {}
        started = time.perf_counter()
        for i, question in enumerate(questions):
            prompt = await runtime.render([{"role": "user", "content": question}])
            completions = await runtime.generate(GenerateRequest(
                prompt=prompt, n=args.samples,
                params=SamplingParams(max_tokens=args.sample_tokens, temperature=0.8, seed=i)))
            sampling.add(completions)
            candidates[question] = [c.text for c in completions]
        sample_s = time.perf_counter() - started
        results = {}
        for shaped in (True, False):
            await runtime.flush_cache()
            results[shaped] = await critic_arm(runtime, candidates, shaped,
                                               args.critic_tokens, args.concurrency)
        await runtime.aclose()
    print(f"inputs={len(questions)} samples={args.samples} sample_tokens={args.sample_tokens} "
          f"critic_tokens={args.critic_tokens}")
    print(f"best-of-{args.samples} sampling: {sampling.calls} calls, prompt {sampling.prompt}, "
          f"cached {sampling.cached}, hit {sampling.ratio:.1%} ({sample_s:.1f}s)")
    for shaped, label in ((True, "shaped  (question first, grouped)"),
                          (False, "unshaped (candidate first, interleaved)")):
        tally, seconds = results[shaped]
        print(f"critic {label}: {tally.calls} calls, prompt {tally.prompt}, cached "
              f"{tally.cached}, hit {tally.ratio:.1%} ({seconds:.1f}s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--sample-tokens", type=int, default=16)
    parser.add_argument("--critic-tokens", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
