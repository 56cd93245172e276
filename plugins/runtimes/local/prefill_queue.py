"""The prompts waiting for their prefill, and which chunk the engine computes next.

Each turn of the engine's loop, ``PrefillQueue.turn`` prefills up to one chunk of prompt
tokens. First every queued prompt that fits in what is left of the chunk is prefilled
whole, in queue order: a short prompt never waits behind a long one for more than the chunk
in flight, and prompts are not cut needlessly (prompts sharing a prefix still find it
cached). Then one longer prompt gets a chunk (what is left, at least a quarter chunk, so a
stream of short prompts cannot starve it): the half-done one if there is one (one partial
KV at a time bounds the memory of queued long prompts), else the oldest. While rows decode,
that chunk waits until they have had as much time for decode steps as the previous chunk
took (``repay``): a long prompt takes at most half the engine from the others.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from ttc.runtime import RuntimeCallError, ScoreResult

from .batch_kv import BatchKV
from .decoder import Decoder
from .prefill import PrefillTask, ScoreInput, ScoreStats
from .prefix_cache import PrefixCache

logger = logging.getLogger(__name__)


class PrefillJob(Protocol):
    """A request with prompts to prefill: its current prompt is ``task`` (None when done)."""

    task: PrefillTask | None
    future: Future

    def aborted(self) -> bool: ...


@dataclass(eq=False)
class ScoreJob:
    """Score inputs prefilled one after another (they often share a prompt: the second
    finds it in the prefix cache), each keeping only its statistics."""

    inputs: Sequence[ScoreInput]
    future: Future
    results: list[ScoreResult] = field(default_factory=list)
    stats: ScoreStats | None = None
    task: PrefillTask | None = None

    def __post_init__(self) -> None:
        self.next_input()

    def next_input(self) -> None:
        if len(self.results) < len(self.inputs):
            item = self.inputs[len(self.results)]
            self.stats, self.task = ScoreStats(item), item.task()
        else:
            self.stats = self.task = None

    def aborted(self) -> bool:
        return self.future.done()


class PrefillQueue:
    """Queued and half-done prefills; runs on the engine thread only."""

    def __init__(self, decoder: Decoder, prefix_cache: PrefixCache, chunk: int,
                 on_prefilled: Callable[[Any, PrefillTask, torch.Tensor], None]) -> None:
        """``on_prefilled(job, task, logits)`` receives a generate job whose prompt is done,
        with the logits of its last position."""
        self.decoder = decoder
        self.prefix_cache = prefix_cache
        self.chunk = max(1, chunk)
        self.on_prefilled = on_prefilled
        self.tokens = 0
        """Prompt tokens computed (not served from the prefix cache)."""
        self.chunks = 0
        """Prefill forward passes run (a prompt takes one per chunk)."""
        self.cancelled = 0
        """Prefills dropped unfinished because their caller went away."""
        self._jobs: deque[PrefillJob] = deque()
        self._partial: PrefillJob | None = None
        self._debt = 0.0
        """Seconds of decode steps the running rows are owed for the last cut chunk."""

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: PrefillJob) -> None:
        if job.task is None:
            resolve(job.future, [])
        elif not job.aborted():
            self._jobs.append(job)

    def repay(self, seconds: float) -> None:
        """Decode steps ran for ``seconds``."""
        self._debt = max(0.0, self._debt - seconds)

    def fail_all(self, error: Exception) -> None:
        for job in self._jobs:
            resolve(job.future, error=error)
        self._jobs.clear()
        self._partial = None

    def turn(self, *, decoding: bool) -> None:
        """Prefill up to one chunk: whole prompts that fit first, then one cut (see the
        module docstring). ``decoding``: rows run or are about to join."""
        budget = self.chunk
        for job in list(self._jobs):
            if job.aborted():
                self._drop(job)
            elif budget > 0:
                before = budget
                budget = self._prefill(job, budget)
                self._requeue(job, progressed=budget < before)
        if decoding and self._debt > 0:
            return
        chunked = self._partial or next(
            (j for j in self._jobs if self._remaining(j) > self.chunk), None)
        if chunked is None:
            return
        started = time.perf_counter()
        self._prefill(chunked, 0, cut=max(budget, self.chunk // 4))
        self._debt = time.perf_counter() - started
        self._requeue(chunked, progressed=True)

    def _remaining(self, job: PrefillJob) -> int:
        """Positions left to compute in ``job``'s current prompt (after its cached prefix)."""
        task = job.task
        if task is None:
            return 0
        if task.started:
            return task.remaining
        return len(task.ids) - self.prefix_cache.match(task.ids[:task.logits_from]).length

    def _requeue(self, job: PrefillJob, *, progressed: bool) -> None:
        """Drop a finished, failed or cancelled job; one that progressed goes to the back."""
        if job.task is None or job.aborted():
            self._drop(job)
        elif progressed:
            self._jobs.remove(job)
            self._jobs.append(job)

    def _drop(self, job: PrefillJob) -> None:
        self._jobs.remove(job)
        if self._partial is job:
            self._partial = None
        if job.task is not None and job.future.cancelled():
            self.cancelled += 1

    def _prefill(self, job: PrefillJob, budget: int, cut: int = 0) -> int:
        """Prefill ``job``'s prompts that fit in ``budget`` tokens, then ``cut`` tokens of the
        next one; returns what is left of the budget. A failure fails only this job."""
        try:
            while (task := job.task) is not None:
                remaining = self._remaining(job)
                if remaining > budget and not cut:
                    break
                if not task.started:  # KV is allocated only for a prompt being computed
                    self._start(task)
                whole = remaining <= budget
                tokens = min(task.remaining, budget if whole else cut)
                logits = self._chunk(task, tokens)
                if whole:
                    budget -= tokens
                else:
                    cut = 0
                if task.remaining:
                    self._partial = job
                elif self._partial is job:
                    self._partial = None
                if isinstance(job, ScoreJob):
                    self._score(job, task, logits, tokens)
                elif task.remaining == 0:
                    job.task = None
                    self.on_prefilled(job, task, logits)
        except Exception as error:
            logger.exception("local engine prefill failed")
            resolve(job.future, error=RuntimeCallError(f"local engine failed: {error}"))
        return budget

    def _start(self, task: PrefillTask) -> None:
        """Take the longest cached prefix (never past ``logits_from``) into a KV sized for
        the whole prompt, so later chunks never reallocate it."""
        decoder = self.decoder
        layers = len(decoder.layers)
        match = self.prefix_cache.match(task.ids[:task.logits_from])
        if match.length:
            stacked = torch.cat(match.segments, dim=0)  # [tokens, layers, 2, heads, dim]
            keys = [stacked[:, layer, 0].transpose(0, 1)[None] for layer in range(layers)]
            values = [stacked[:, layer, 1].transpose(0, 1)[None] for layer in range(layers)]
        else:
            empty = torch.empty(1, decoder.kv_heads, 0, decoder.head_dim, dtype=decoder.dtype)
            keys = values = [empty] * layers
        task.kv = BatchKV.single(keys, values, extra=len(task.ids) - match.length)
        task.done = task.cached = match.length

    def _chunk(self, task: PrefillTask, tokens: int) -> torch.Tensor:
        """Compute the next ``tokens`` positions; returns the logits of those at or after
        ``logits_from`` (``[1, t, vocab]``, t possibly 0). The new KV enters the prefix
        cache now, so a prompt started later reuses even a half-finished prefill."""
        kv, start = task.kv, task.done
        assert kv is not None
        end = start + tokens
        logits = self.decoder.forward(torch.tensor([task.ids[start:end]]), kv,
                                      logits_from=min(max(task.logits_from - start, 0), tokens))
        task.done = end
        self.tokens += tokens
        self.chunks += 1
        if self.prefix_cache.max_tokens > 0:
            ids = task.ids[:end]
            known = self.prefix_cache.match(ids).length
            if known < end:
                self.prefix_cache.insert(ids, kv.token_major(0, known, end), offset=known)
        return logits

    def _score(self, job: ScoreJob, task: PrefillTask, logits: torch.Tensor,
               tokens: int) -> None:
        assert job.stats is not None
        job.stats.add(logits[0], max(task.logits_from, task.done - tokens), task.ids)
        if task.remaining == 0:
            job.results.append(job.stats.result(task.cached))
            job.next_input()
            if job.task is None:
                resolve(job.future, job.results)


def resolve(future: Future, value: Any = None, *, error: Exception | None = None) -> None:
    """Set a future's outcome unless its caller already cancelled it."""
    if future.done():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except Exception:  # cancelled concurrently: nobody is waiting
        logger.debug("result for a cancelled request dropped")
