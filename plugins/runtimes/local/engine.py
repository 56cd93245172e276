"""The decode loop: continuous batching of seeded samples with exact statistics.

One engine thread owns the model. Requests arrive in an inbox; each turn of the loop the
engine prefills up to one chunk of prompt tokens (reusing cached prefixes; a long prompt
takes several turns, see ``prefill.py``), lets the samples of finished prefills join the
running batch (the n samples of a prompt share one prefill: its KV is copied, not
recomputed), runs one forward step for every row, picks each row's token with its own
generator, records exact statistics from the raw logits, and drops finished or cancelled
rows. Callers wait on ``concurrent.futures.Future`` objects; cancelling one drops its work
wherever it is: queued, between two prefill chunks, or decoding.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import torch

from ttc.runtime import Completion, GenerateRequest, RuntimeCallError, ScoreResult

from .batch_kv import BatchKV
from .decoder import Decoder
from .prefill import PrefillTask, ScoreInput, ScoreStats
from .prefix_cache import PrefixCache
from .sampling import RowSampler, choose_tokens, sample_seed
from .token_stats import chosen_logprobs, position_stats, top_logprobs

__all__ = ["Engine", "ScoreInput", "claim_cores"]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class _GenerateJob:
    request: GenerateRequest
    prompt_ids: tuple[int, ...]
    future: Future
    results: list[Completion | None]
    cached_tokens: int = 0
    prefill: BatchKV | None = None
    first_logits: torch.Tensor | None = None
    admitted: int = 0
    unfinished: int = 0
    task: PrefillTask | None = None
    """The prompt's prefill while it runs."""

    def __post_init__(self) -> None:
        self.task = PrefillTask(self.prompt_ids, logits_from=len(self.prompt_ids) - 1)

    def aborted(self) -> bool:
        return self.future.done()


@dataclass(eq=False)
class _ScoreJob:
    """Score inputs prefilled one after another (they often share a prompt: the second
    finds it in the prefix cache), each keeping only its statistics."""

    inputs: Sequence[ScoreInput]
    future: Future
    results: list[ScoreResult] = field(default_factory=list)
    stats: ScoreStats | None = None
    task: PrefillTask | None = None

    def __post_init__(self) -> None:
        self._next_input()

    def _next_input(self) -> None:
        if len(self.results) < len(self.inputs):
            item = self.inputs[len(self.results)]
            self.stats, self.task = ScoreStats(item), item.task()
        else:
            self.stats = self.task = None

    def aborted(self) -> bool:
        return self.future.done()


_PrefillJob = _GenerateJob | _ScoreJob


@dataclass(eq=False)
class _Row:
    """One sequence being decoded."""

    job: _GenerateJob
    index: int
    sampler: RowSampler
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    entropy: list[float] = field(default_factory=list)
    kl_uniform: list[float] = field(default_factory=list)
    top: list[tuple[tuple[int, float], ...]] = field(default_factory=list)
    chosen: list[tuple[tuple[int, float], ...]] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None
    matched_stop: str | None = None


_STOP = object()


class Engine:
    """Owns the model on one thread; thread-safe ``submit_*`` methods."""

    def __init__(self, load_decoder: Callable[[], Decoder], tokenizer: Any, *,
                 extra_eos_ids: frozenset[int] = frozenset(), max_batch: int,
                 prefix_cache_tokens: int, threads: int = 0, prefill_chunk: int = 256) -> None:
        """Start the engine thread, which loads the decoder itself (see ``claim_cores``);
        load errors are raised here."""
        self.tokenizer = tokenizer
        self.max_batch = max_batch
        self.prefill_chunk = max(1, prefill_chunk)
        """Most prompt tokens prefilled per turn of the loop (between two decode steps)."""
        self.prefix_cache = PrefixCache(prefix_cache_tokens)
        self.steps = 0
        """Decode steps run so far (for tests and the bench)."""
        self.prefill_tokens = 0
        """Prompt tokens actually computed (not served from the prefix cache)."""
        self.prefill_chunks = 0
        """Prefill forward passes run so far (a prompt takes one per chunk)."""
        self.prefills_cancelled = 0
        """Prefills dropped unfinished because their caller went away."""
        self._inbox: queue.Queue = queue.Queue()
        self._prefilling: deque[_PrefillJob] = deque()
        self._partial: _PrefillJob | None = None
        """The request whose prompt is half prefilled (at most one at a time)."""
        self._prefill_debt = 0.0
        """Seconds of decode steps the running rows are owed for the last cut chunk."""
        self._waiting: deque[_GenerateJob] = deque()
        self._rows: list[_Row] = []
        self._extra_eos_ids = extra_eos_ids
        ready: Future = Future()
        self._thread = threading.Thread(target=self._run, args=(load_decoder, threads, ready),
                                        name="ttc-local-engine", daemon=True)
        self._thread.start()
        ready.result()

    @property
    def active_rows(self) -> int:
        """Sequences in the running batch right now."""
        return len(self._rows)

    @property
    def pending_prefills(self) -> int:
        """Requests whose prompt is queued or partly prefilled."""
        return len(self._prefilling)

    # --- called from any thread ----------------------------------------------------------

    def submit_generate(self, request: GenerateRequest, prompt_ids: Sequence[int]) -> Future:
        job = _GenerateJob(request, tuple(prompt_ids), Future(), [None] * request.n)
        self._inbox.put(job)
        return job.future

    def submit_score(self, inputs: Sequence[ScoreInput]) -> Future:
        job = _ScoreJob(tuple(inputs), Future())
        self._inbox.put(job)
        return job.future

    def submit_flush(self) -> Future:
        future: Future = Future()
        self._inbox.put(future)
        return future

    def close(self) -> None:
        self._inbox.put(_STOP)
        self._thread.join(timeout=30)

    # --- engine thread -------------------------------------------------------------------

    def _run(self, load_decoder: Callable[[], Decoder], threads: int, ready: Future) -> None:
        try:
            claim_cores(threads)
            with torch.inference_mode():
                decoder = load_decoder()
        except BaseException as error:  # handed to the constructor
            ready.set_exception(error)
            return
        self.decoder: Decoder = decoder
        self.eos_ids = decoder.config.eos_token_ids | self._extra_eos_ids
        self._batch = decoder.new_batch()
        ready.set_result(None)
        with torch.inference_mode():
            while True:
                try:
                    idle = not self._rows and not self._waiting and not self._prefilling
                    if not self._take_inbox(block=idle):
                        break
                    self._prefill_some()
                    self._admit_rows()
                    self._drop_rows(lambda row: row.job.aborted())
                    if self._rows:
                        self._step()
                except Exception as error:  # keep serving; fail only what was in flight
                    logger.exception("local engine step failed")
                    self._fail_all(error)

    def _take_inbox(self, *, block: bool) -> bool:
        """Handle queued work; False once asked to stop."""
        while True:
            try:
                item = self._inbox.get(block=block)
            except queue.Empty:
                return True
            block = False
            if item is _STOP:
                self._fail_all(RuntimeCallError("the local engine was closed"))
                return False
            if isinstance(item, _GenerateJob | _ScoreJob):
                if not item.aborted() and item.task is not None:
                    self._prefilling.append(item)
                elif isinstance(item, _ScoreJob):
                    _resolve(item.future, [])
            else:
                self.prefix_cache.flush()
                _resolve(item, None)

    # --- prefill, a chunk at a time ----------------------------------------------------------

    def _prefill_some(self) -> None:
        """Prefill up to one chunk of prompt tokens: whole prompts first, then a cut.

        First every prompt that fits in what is left of the chunk is prefilled whole, in
        queue order (a short prompt never waits behind a long one for more than the chunk
        already in flight). Then one longer prompt gets a chunk (what is left, at least a
        quarter chunk, so a stream of short prompts cannot starve it): the half-done one if
        there is one (one partial KV at a time bounds the memory of queued long prompts),
        else the oldest. While rows decode, or are about to, that chunk waits until they
        have had as much time for decode steps as the previous chunk took: a long prompt
        takes at most half of the engine from the others.
        """
        budget = self.prefill_chunk
        for job in list(self._prefilling):
            if job.aborted():
                self._drop_prefill(job)
            elif budget > 0:
                before = budget
                budget = self._prefill_job(job, budget)
                self._requeue(job, progressed=budget < before)
        if (self._rows or self._waiting) and self._prefill_debt > 0:
            return
        job = self._partial or next((j for j in self._prefilling if self._remaining(j) > (
            self.prefill_chunk)), None)
        if job is None:
            return
        started = time.perf_counter()
        self._prefill_job(job, 0, cut=max(budget, self.prefill_chunk // 4))
        self._prefill_debt = time.perf_counter() - started
        self._requeue(job, progressed=True)

    def _remaining(self, job: _PrefillJob) -> int:
        """Positions left to compute in ``job``'s current prompt (after its cached prefix)."""
        task = job.task
        if task is None:
            return 0
        if task.started:
            return task.remaining
        return len(task.ids) - self.prefix_cache.match(task.ids[:task.logits_from]).length

    def _requeue(self, job: _PrefillJob, *, progressed: bool) -> None:
        """Drop a finished, failed or cancelled job; one that progressed goes to the back."""
        if job.task is None or job.aborted():
            self._drop_prefill(job)
        elif progressed:
            self._prefilling.remove(job)
            self._prefilling.append(job)

    def _drop_prefill(self, job: _PrefillJob) -> None:
        """Out of the queue: finished, failed, or cancelled by its caller (counted)."""
        self._prefilling.remove(job)
        if self._partial is job:
            self._partial = None
        if job.task is not None and job.future.cancelled():
            self.prefills_cancelled += 1

    def _prefill_job(self, job: _PrefillJob, budget: int, cut: int = 0) -> int:
        """Prefill ``job``'s prompts that fit in ``budget`` tokens, then ``cut`` tokens of the
        next one; returns what is left of the budget. A failure fails only this job."""
        try:
            while (task := job.task) is not None:
                remaining = self._remaining(job)
                if remaining > budget and not cut:
                    break
                if not task.started:  # KV is allocated only for a prompt being computed
                    self._start_prefill(task)
                tokens = min(task.remaining, budget) if remaining <= budget else min(
                    task.remaining, cut)
                logits = self._prefill_chunk(task, tokens)
                if remaining <= budget:
                    budget -= tokens
                else:
                    cut = 0
                if task.remaining:
                    self._partial = job
                elif self._partial is job:
                    self._partial = None
                if isinstance(job, _ScoreJob):
                    self._score_chunk(job, task, logits, tokens)
                elif task.remaining == 0:
                    job.prefill, job.first_logits = task.kv, logits[0]
                    job.cached_tokens, job.task = task.cached, None
                    self._waiting.append(job)
        except Exception as error:
            logger.exception("local engine prefill failed")
            _resolve(job.future, error=RuntimeCallError(f"local engine failed: {error}"))
        return budget

    def _start_prefill(self, task: PrefillTask) -> None:
        """Take the longest cached prefix (never past ``logits_from``) into a KV sized for
        the whole prompt, so later chunks never reallocate it."""
        layers = len(self.decoder.layers)
        match = self.prefix_cache.match(task.ids[:task.logits_from])
        if match.length:
            stacked = torch.cat(match.segments, dim=0)  # [tokens, layers, 2, heads, dim]
            keys = [stacked[:, layer, 0].transpose(0, 1)[None] for layer in range(layers)]
            values = [stacked[:, layer, 1].transpose(0, 1)[None] for layer in range(layers)]
        else:
            empty = torch.empty(1, self.decoder.kv_heads, 0, self.decoder.head_dim,
                                dtype=self.decoder.dtype)
            keys = values = [empty] * layers
        task.kv = BatchKV.single(keys, values, extra=len(task.ids) - match.length)
        task.done = task.cached = match.length

    def _prefill_chunk(self, task: PrefillTask, tokens: int) -> torch.Tensor:
        """Compute the next ``tokens`` positions; returns the logits of those at or after
        ``logits_from`` (``[1, t, vocab]``, t possibly 0). The new KV enters the prefix
        cache now, so a prompt started later reuses even a half-finished prefill."""
        kv, start = task.kv, task.done
        assert kv is not None
        end = start + tokens
        logits = self.decoder.forward(torch.tensor([task.ids[start:end]]), kv,
                                      logits_from=min(max(task.logits_from - start, 0), tokens))
        task.done = end
        self.prefill_tokens += tokens
        self.prefill_chunks += 1
        if self.prefix_cache.max_tokens > 0:
            ids = task.ids[:end]
            known = self.prefix_cache.match(ids).length
            if known < end:
                self.prefix_cache.insert(ids, _token_major(kv, 0, known, end), offset=known)
        return logits

    def _score_chunk(self, job: _ScoreJob, task: PrefillTask, logits: torch.Tensor,
                     tokens: int) -> None:
        assert job.stats is not None
        first = max(task.logits_from, task.done - tokens)
        job.stats.add(logits[0], first, task.ids)
        if task.remaining == 0:
            job.results.append(job.stats.result(task.cached))
            job._next_input()
            if job.task is None:
                _resolve(job.future, job.results)

    def _admit_rows(self) -> None:
        """Let waiting samples join the batch while there is room, oldest request first."""
        while self._waiting and len(self._rows) < self.max_batch:
            job = self._waiting[0]
            if job.aborted():
                self._waiting.popleft()
                continue
            count = min(job.request.n - job.admitted, self.max_batch - len(self._rows))
            params = job.request.params
            try:
                rows = [_Row(job, index, RowSampler.create(params, sample_seed(params.seed,
                                                                               index)))
                        for index in range(job.admitted, job.admitted + count)]
            except Exception as error:  # this request's parameters: fail it, not the batch
                _resolve(job.future, error=RuntimeCallError(f"local engine failed: {error}"))
                continue
            job.admitted += count
            job.unfinished += count
            assert job.first_logits is not None and job.prefill is not None
            logits = job.first_logits.expand(count, -1)
            self._record(logits, rows)
            for row in rows:
                if row.finish_reason is not None:
                    self._finish(row)
            live = [row for row in rows if row.finish_reason is None]
            if live:
                self._batch.merge(job.prefill, len(live))
                self._rows.extend(live)
            if job.admitted == job.request.n:
                self._waiting.popleft()
                job.prefill = job.first_logits = None

    def _step(self) -> None:
        started = time.perf_counter()
        tokens = torch.tensor([[row.token_ids[-1]] for row in self._rows])
        logits = self.decoder.forward(tokens, self._batch)
        self.steps += 1
        self._record(logits, self._rows)
        self._drop_rows(lambda row: row.finish_reason is not None)
        self._prefill_debt = max(0.0, self._prefill_debt - (time.perf_counter() - started))

    def _record(self, logits: torch.Tensor, rows: list[_Row]) -> None:
        """Choose each row's next token and append it with its statistics."""
        chosen = choose_tokens(logits, [row.sampler for row in rows])
        stats = position_stats(logits, chosen)
        k = max(row.job.request.top_logprobs for row in rows)
        top_ids = top_values = None
        if k:
            ids, values = top_logprobs(logits, stats.log_norm, k)
            top_ids, top_values = ids.tolist(), values.tolist()
        columns = zip(chosen.tolist(), stats.logprob.tolist(), stats.entropy.tolist(),
                      stats.kl_uniform.tolist(), strict=True)
        for position, (row, (token, logprob, entropy, kl)) in enumerate(
                zip(rows, columns, strict=True)):
            request = row.job.request
            row.token_ids.append(token)
            row.logprobs.append(logprob)
            row.entropy.append(entropy)
            row.kl_uniform.append(kl)
            if request.top_logprobs and top_ids is not None and top_values is not None:
                pairs = zip(top_ids[position][: request.top_logprobs],
                            top_values[position][: request.top_logprobs], strict=True)
                row.top.append(tuple(pairs))
            if request.token_ids_logprob:
                row.chosen.append(chosen_logprobs(logits, stats.log_norm, position,
                                                  request.token_ids_logprob))
            self._check_finished(row)

    def _check_finished(self, row: _Row) -> None:
        params = row.job.request.params
        if row.token_ids[-1] in self.eos_ids:
            row.finish_reason = "stop"
            return
        if params.stop:
            row.text = self.tokenizer.decode(row.token_ids)
            found = [(row.text.find(stop), stop) for stop in params.stop if stop in row.text]
            if found:
                at, stop = min(found)
                row.text, row.finish_reason, row.matched_stop = row.text[:at], "stop", stop
                return
        total = len(row.job.prompt_ids) + len(row.token_ids)
        if len(row.token_ids) >= params.max_tokens or total >= self.decoder.context_length:
            row.finish_reason = "length"

    def _drop_rows(self, leaving: Any) -> None:
        keep = [i for i, row in enumerate(self._rows) if not leaving(row)]
        if len(keep) == len(self._rows):
            return
        for index, row in enumerate(self._rows):
            if leaving(row):
                if not row.job.aborted():
                    self._cache_sequence(index, row)
                self._finish(row)
        self._rows = [self._rows[i] for i in keep]
        if keep:
            self._batch.keep(keep)
        else:
            self._batch = self.decoder.new_batch()

    def _cache_sequence(self, index: int, row: _Row) -> None:
        """Put a finished row's prompt + generated tokens into the prefix cache (what SGLang's
        radix cache does), so a continuation of it (``wait_continuation``, chunked
        confidence pruning, multi-turn) reuses the KV instead of prefilling it again. Only the
        part the cache does not hold yet is copied out of the batch."""
        if self.prefix_cache.max_tokens <= 0:
            return
        # The last token was chosen but never fed through the model: it has no KV yet.
        ids = list(row.job.prompt_ids) + row.token_ids[:-1]
        known = self.prefix_cache.match(ids).length
        if known == len(ids):
            return
        end = self._batch.length  # a row's tokens are the last columns of the batch
        kv = _token_major(self._batch, index, end - len(ids) + known, end)
        self.prefix_cache.insert(ids, kv, offset=known)

    def _finish(self, row: _Row) -> None:
        job = row.job
        job.unfinished -= 1
        if job.aborted():
            return
        ids = row.token_ids
        if row.matched_stop is None:
            shown = ids[:-1] if row.finish_reason == "stop" else ids
            row.text = self.tokenizer.decode(shown)
        request = job.request
        job.results[row.index] = Completion(
            text=row.text,
            token_ids=tuple(ids),
            logprobs=tuple(row.logprobs),
            finish_reason=row.finish_reason or "abort",
            prompt_tokens=len(job.prompt_ids),
            cached_tokens=job.cached_tokens if row.index == 0 else len(job.prompt_ids),
            top_logprobs=tuple(row.top) if request.top_logprobs else None,
            token_ids_logprobs=tuple(row.chosen) if request.token_ids_logprob else None,
            entropy=tuple(row.entropy),
            kl_uniform=tuple(row.kl_uniform),
            matched_stop=row.matched_stop,
        )
        if job.unfinished == 0 and job.admitted == request.n:
            _resolve(job.future, list(job.results))

    def _fail_all(self, error: Exception) -> None:
        jobs: dict[int, _PrefillJob] = {id(row.job): row.job for row in self._rows}
        jobs.update({id(job): job for job in (*self._waiting, *self._prefilling)})
        for job in jobs.values():
            _resolve(job.future, error=error)
        self._rows, self._waiting, self._prefilling = [], deque(), deque()
        self._partial = None
        self._batch = self.decoder.new_batch()


def _token_major(kv: BatchKV, row: int, start: int, end: int) -> torch.Tensor:
    """One row's KV columns ``start:end`` as ``[tokens, layers, 2, heads, dim]`` (a copy):
    the prefix cache's layout, where the token axis comes first so edges split by slicing."""
    stacked = torch.stack([torch.stack(pair) for pair in kv.segment(row, start, end)])
    return stacked.permute(3, 0, 1, 2, 4)


THREADS_ENV = "TTC_LOCAL_THREADS"


def claim_cores(threads: int) -> None:
    """Make the calling thread the only one in the process that runs torch multi-threaded.

    torch's OpenMP keeps a team of worker threads per calling thread. Once two threads have
    teams, GNU OpenMP sees more threads than cores and stops its workers spinning between
    parallel regions, and every one of the ~250 regions in a decode step waits for a wake-up:
    on 2 cores a step took ~37 ms instead of ~24 ms. So the engine thread takes
    ``threads`` (0: ``TTC_LOCAL_THREADS`` if set, else every core) and every thread that has
    not used torch yet gets one.
    """
    count = threads or default_threads()
    torch.get_num_threads()  # settles this thread's lazy thread-count init first
    torch.set_num_threads(count)
    others = threading.Thread(target=torch.set_num_threads, args=(1,), name="ttc-threads")
    others.start()
    others.join()


def default_threads() -> int:
    """The engine's threads when a recipe leaves ``threads`` at 0: ``TTC_LOCAL_THREADS``, for
    a machine whose cores other busy processes share (an OpenMP team that cannot have its
    cores runs many times slower than a smaller one that can), else every core. Results do
    not depend on it, so neither do recipes or their recorded runs."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            count = int(value)
        except ValueError:
            raise ValueError(f"{THREADS_ENV}={value!r} is not a whole number of threads"
                             ) from None
        if count >= 1:
            return count
    return os.cpu_count() or 1


def _resolve(future: Future, value: Any = None, *, error: Exception | None = None) -> None:
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
