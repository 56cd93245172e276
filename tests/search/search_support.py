"""Test support for step-level search: a scripted runtime that continues partial solutions
step by step, a step scorer that reads the value a step states, and a recipe runner."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import Field

import ttc
from ttc import hookimpl
from ttc.plugins.runtimes.scripted import (
    ScriptedOptions,
    ScriptedRuntime,
    logprob_of,
    position_stats,
    token_id,
)
from ttc.plugins.search import (
    IncrementalStepScorer,
    PartialSolution,
    Problem,
    StepScorerConfig,
)
from ttc.result import RunResult
from ttc.runtime import Completion, GenerateRequest

DELIMITER = "\n\n"


def _draw(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=4).digest(),
                          "big")


class TreeRuntime(ScriptedRuntime):
    """Step ``d`` of sample i reads ``d<d> v<k> m<marker>``, k in 0..9 and the marker drawn
    from (seed, i, text so far). It ends with the delimiter, or with the end of sequence
    (``… done``) when the delimiter is not a stop string, from depth ``ends_at`` on, or
    when k < ``ends_below``. Temperature 0 draws from the text so far alone (greedy)."""

    def __init__(self, ends_at: int | None = None, ends_below: int = 0) -> None:
        super().__init__("tree", ScriptedOptions())
        self.ends_at = ends_at
        self.ends_below = ends_below
        self.requests: list[GenerateRequest] = []

    async def generate(self, request: GenerateRequest) -> list[Completion]:
        await self._before_call()
        self.requests.append(request)
        partial = request.prompt.split("<assistant>", 1)[1]
        depth = partial.count(DELIMITER)
        out = []
        for i in range(request.n):
            draw = (("greedy", partial) if request.params.temperature == 0.0
                    else (request.params.seed, i, partial))
            k, marker = _draw(*draw) % 10, _draw("marker", *draw) % 100_000
            ends = (DELIMITER not in request.params.stop or k < self.ends_below
                    or (self.ends_at is not None and depth >= self.ends_at))
            words = [f"d{depth}", f"v{k}", f"m{marker}"] + (["done"] if ends else [])
            cut = len(words) > request.params.max_tokens
            words = words[: request.params.max_tokens]
            ids = tuple(token_id(w) for w in words)
            stats = [position_stats(t, request.top_logprobs, request.token_ids_logprob)
                     for t in ids]
            out.append(Completion(
                text=" ".join(words), token_ids=ids, logprobs=tuple(logprob_of(t) for t in ids),
                finish_reason="length" if cut else "stop",
                prompt_tokens=len(request.prompt.split()), cached_tokens=0,
                matched_stop=None if ends or cut else DELIMITER,
                entropy=tuple(s.entropy for s in stats),  # type: ignore[misc]
                kl_uniform=tuple(s.kl_uniform for s in stats),  # type: ignore[misc]
            ))
        return out


VALUE = re.compile(r"v(\d)")


class StatedValueConfig(StepScorerConfig):
    flip: list[str] = Field(default_factory=list)
    """Steps containing one of these texts score 1 − k/10 instead."""


class StatedValue(IncrementalStepScorer):
    """Test scorer: a step ``… v<k> …`` scores k/10 (or 1 − k/10 when flipped)."""

    name = "stated_value"
    Config = StatedValueConfig
    uses_model = False

    async def score_last(self, problem: Problem, solutions: Sequence[PartialSolution],
                         ctx: Any) -> list[float | None]:
        flip = self.config.flip  # type: ignore[attr-defined]
        out: list[float | None] = []
        for s in solutions:
            text = s.steps[-1].text
            m = VALUE.search(text)
            value = None if m is None else int(m.group(1)) / 10
            if value is not None and any(f in text for f in flip):
                value = 1.0 - value
            out.append(value)
        return out


class Constant(IncrementalStepScorer):
    """Test scorer: every step scores 0.5."""

    name = "constant"
    uses_model = False

    async def score_last(self, problem, solutions, ctx) -> list[float | None]:
        return [0.5 for _ in solutions]


class TestScorers:
    @hookimpl
    def ttc_register_step_scorers(self, register) -> None:
        register(StatedValue)
        register(Constant)


@contextmanager
def search_test_scorers() -> Iterator[None]:
    """The test scorers registered on the process-wide host (where scorer specs look)."""
    host = ttc.default_host()
    name = host.register(TestScorers(), name="search-test-scorers")
    try:
        yield
    finally:
        host.unregister(name)


def recipe(stage: dict, *, limits: dict | None = None, select: Any = None,
           task: str | None = None) -> dict:
    data: dict[str, Any] = {"name": "search-test", "models": {"m": {"runtime": "scripted"}},
                            "stages": [stage]}
    if limits:
        data["limits"] = limits
    if select is not None:
        data["select"] = select
    if task is not None:
        data["task"] = task
    return data


def run_search(stage: dict, runtime: ScriptedRuntime | None = None, *, seed: int = 0,
               question: str = "What is 6*7?", **kwargs: Any) -> RunResult:
    pipeline = ttc.Pipeline.from_dict(recipe(stage, **kwargs),
                                      runtimes={"m": runtime or TreeRuntime()}, store=False)
    return pipeline.run(question, seed=seed)


def record(result: RunResult) -> dict:
    """The search's ``search/<stage>`` record."""
    (key,) = [k for k in result.artifacts if k.startswith("search/")]
    return result.artifacts[key]
