"""The decode loop: continuous batching of seeded samples with exact statistics.

One engine thread owns the model. Requests arrive in an inbox; each turn of the loop the
engine prefills up to one chunk of prompt tokens (reusing cached prefixes; a long prompt
takes several turns, see ``prefill_queue.py``), lets the samples of finished prefills join the
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

from ttc.runtime import Completion, GenerateRequest, RuntimeCallError
from ttc.token_controls import OnToken, TokenControls, TokenEvent

from .batch_kv import BatchKV
from .decoder import Decoder
from .grammar import GrammarCompiler, RowGrammar
from .logit_controls import shape_logits
from .prefill import PrefillTask, ScoreInput
from .prefill_queue import PrefillQueue, ScoreJob, resolve
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
    controls: TokenControls = field(default_factory=TokenControls)
    on_token: OnToken | None = None
    """Called on the engine thread with every token chosen (streaming)."""
    grammar: RowGrammar | None = None
    """The request's grammar at its start; each row decodes under a copy."""

    def __post_init__(self) -> None:
        self.task = PrefillTask(self.prompt_ids, logits_from=len(self.prompt_ids) - 1)

    def aborted(self) -> bool:
        return self.future.done()


@dataclass(eq=False)
class _Row:
    """One sequence being decoded."""

    job: _GenerateJob
    index: int
    sampler: RowSampler
    grammar: RowGrammar | None = None
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
        self.grammars = GrammarCompiler(tokenizer)
        """Compiles regex / JSON schema / EBNF grammars for constrained requests."""
        self.max_batch = max_batch
        self.prefix_cache = PrefixCache(prefix_cache_tokens)
        self.steps = 0
        """Decode steps run so far (for tests and the bench)."""
        self._prefill_chunk = prefill_chunk
        self._inbox: queue.Queue = queue.Queue()
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
        return len(self._prefills)

    @property
    def prefill_chunk(self) -> int:
        """Most prompt tokens prefilled per turn of the loop (between two decode steps)."""
        return self._prefills.chunk

    @prefill_chunk.setter
    def prefill_chunk(self, tokens: int) -> None:
        self._prefills.chunk = max(1, tokens)

    @property
    def prefill_tokens(self) -> int:
        """Prompt tokens actually computed (not served from the prefix cache)."""
        return self._prefills.tokens

    @property
    def prefill_chunks(self) -> int:
        """Prefill forward passes run so far (a prompt takes one per chunk)."""
        return self._prefills.chunks

    @property
    def prefills_cancelled(self) -> int:
        """Prefills dropped unfinished because their caller went away."""
        return self._prefills.cancelled

    # --- called from any thread ----------------------------------------------------------

    def submit_generate(self, request: GenerateRequest, prompt_ids: Sequence[int], *,
                        controls: TokenControls | None = None,
                        on_token: OnToken | None = None,
                        grammar: RowGrammar | None = None) -> Future:
        job = _GenerateJob(request, tuple(prompt_ids), Future(), [None] * request.n,
                           controls=controls or TokenControls(), on_token=on_token,
                           grammar=grammar)
        self._inbox.put(job)
        return job.future

    def submit_score(self, inputs: Sequence[ScoreInput]) -> Future:
        job = ScoreJob(tuple(inputs), Future())
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
        self._prefills = PrefillQueue(decoder, self.prefix_cache, self._prefill_chunk,
                                      self._prefilled)
        ready.set_result(None)
        with torch.inference_mode():
            while True:
                try:
                    idle = not self._rows and not self._waiting and not self._prefills
                    if not self._take_inbox(block=idle):
                        break
                    self._prefills.turn(decoding=bool(self._rows or self._waiting))
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
            if isinstance(item, _GenerateJob | ScoreJob):
                self._prefills.add(item)
            else:
                self.prefix_cache.flush()
                resolve(item, None)

    def _prefilled(self, job: _GenerateJob, task: PrefillTask, logits: torch.Tensor) -> None:
        """A prompt is prefilled: its samples may join the batch."""
        job.prefill, job.first_logits, job.cached_tokens = task.kv, logits[0], task.cached
        self._waiting.append(job)

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
                                                                               index)),
                             job.grammar.copy() if job.grammar is not None else None)
                        for index in range(job.admitted, job.admitted + count)]
            except Exception as error:  # this request's parameters: fail it, not the batch
                resolve(job.future, error=RuntimeCallError(f"local engine failed: {error}"))
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
        self._prefills.repay(time.perf_counter() - started)

    def _record(self, logits: torch.Tensor, rows: list[_Row]) -> None:
        """Choose each row's next token and append it with its statistics."""
        shaped = [i for i, row in enumerate(rows) if row.job.controls.shapes_logits]
        constrained = [i for i, row in enumerate(rows) if row.grammar is not None]
        sampled = logits
        if shaped or constrained:
            # Penalties, biases and grammar masks change the choice, never the statistics.
            sampled = logits.clone()
            for i in shaped:
                row = rows[i]
                shape_logits(sampled[i], row.job.controls, row.token_ids, self.eos_ids)
            for i in constrained:
                grammar = rows[i].grammar
                assert grammar is not None
                grammar.mask(sampled[i])
        chosen = choose_tokens(sampled, [row.sampler for row in rows])
        for i in constrained:
            grammar = rows[i].grammar
            assert grammar is not None
            if not grammar.consume(int(chosen[i])):
                logger.warning("a constrained row chose a token its grammar refuses")
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
            if row.job.on_token is not None:
                self._report_token(row)

    def _report_token(self, row: _Row) -> None:
        job = row.job
        assert job.on_token is not None
        text = row.text if row.finish_reason is not None and row.matched_stop is not None \
            else self._visible_text(row)
        event = TokenEvent(row.index, row.token_ids[-1], row.logprobs[-1], text,
                           row.top[-1] if job.request.top_logprobs else None,
                           row.chosen[-1] if job.request.token_ids_logprob else None,
                           row.finish_reason, row.matched_stop)
        try:
            job.on_token(event)
        except Exception:  # a listener that went away must not stop the engine
            logger.debug("token listener failed", exc_info=True)

    def _check_finished(self, row: _Row) -> None:
        params = row.job.request.params
        controls = row.job.controls
        token = row.token_ids[-1]
        early = len(row.token_ids) < controls.min_new_tokens  # only the length limit applies
        if not early and ((token in self.eos_ids and not controls.ignore_eos)
                          or token in controls.stop_token_ids):
            row.finish_reason = "stop"
            return
        if params.stop and not early:
            row.text = self._decode(row, row.token_ids)
            found = [(row.text.find(stop), stop) for stop in params.stop if stop in row.text]
            if found:
                at, stop = min(found)
                if not controls.no_stop_trim:
                    row.text = row.text[:at]
                row.finish_reason, row.matched_stop = "stop", stop
                return
        total = len(row.job.prompt_ids) + len(row.token_ids)
        if len(row.token_ids) >= params.max_tokens or total >= self.decoder.context_length:
            row.finish_reason = "length"

    def _decode(self, row: _Row, ids: Sequence[int]) -> str:
        if row.job.controls.skip_special_tokens:
            return self.tokenizer.decode(ids, skip_special_tokens=True)
        return self.tokenizer.decode(ids)

    def _visible_text(self, row: _Row) -> str:
        """The text of a row that ended here without a stop string: an EOS or stop token
        is left out (kept with ``no_stop_trim``)."""
        ids = row.token_ids
        if row.finish_reason == "stop" and not row.job.controls.no_stop_trim:
            ids = ids[:-1]
        return self._decode(row, ids)

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
        kv = self._batch.token_major(index, end - len(ids) + known, end)
        self.prefix_cache.insert(ids, kv, offset=known)

    def _finish(self, row: _Row) -> None:
        job = row.job
        job.unfinished -= 1
        if job.aborted():
            return
        ids = row.token_ids
        if row.matched_stop is None:
            row.text = self._visible_text(row)
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
            resolve(job.future, list(job.results))

    def _fail_all(self, error: Exception) -> None:
        jobs = {id(row.job): row.job for row in self._rows}
        jobs.update({id(job): job for job in self._waiting})
        for job in jobs.values():
            resolve(job.future, error=error)
        self._prefills.fail_all(error)
        self._rows, self._waiting = [], deque()
        self._batch = self.decoder.new_batch()


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
