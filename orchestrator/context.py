"""The run's context and the one gateway every model call goes through.

Going through one gateway is what lets the ledger, the budget, retries, the concurrency
limit, lifecycle hooks and recorded-call replay apply to every component alike.

The gateway is the only retry layer: runtimes make one attempt per call and say whether a
failure is worth retrying (``RuntimeCallError.retryable``); the gateway retries those up to
``limits.retries`` times with exponential backoff and jitter (``retry_wait``), never retries
a ``RequestError``, and reports every attempt to ``ttc_model_called``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ttc.calls import ModelCall, fingerprint
from ttc.candidate import Candidate, Origin, TokenStats, candidate_id
from ttc.component import Selection
from ttc.errors import BudgetExhausted, ModelCallFailed, RecordingFailed
from ttc.events import RunInfo
from ttc.recipe.plan import Limits
from ttc.runtime import (
    Completion,
    GenerateRequest,
    Message,
    RequestError,
    Runtime,
    RuntimeCallError,
    ScoreRequest,
    ScoreResult,
)
from ttc.state import Ledger, RunWarning, StageUsage
from ttc.task_format import TaskFormat

logger = logging.getLogger(__name__)

MAX_RETRY_WAIT_S = 30.0
"""The longest wait between two attempts of a call (``retry_wait``)."""


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from the run seed and a path: stable across processes and Pythons."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass
class RunContext:
    """Shared by every component of one run."""

    run: RunInfo
    runtimes: Mapping[str, Runtime]
    task_format: TaskFormat
    hook: Any
    limits: Limits
    semaphore: asyncio.Semaphore
    ledger: Ledger = field(default_factory=Ledger)
    candidates: dict[str, Candidate] = field(default_factory=dict)
    selection: Selection | None = None
    task_key: str = ""
    calls_started: int = 0

    def __post_init__(self) -> None:
        if not self.task_key:
            self.task_key = hashlib.blake2b(
                repr(self.run.task.to_dict()).encode(), digest_size=6
            ).hexdigest()

    def reserve_call(self) -> None:
        """Claim one call of the budget before it starts, or stop the run.

        Calls are claimed up front so concurrent components cannot overshoot ``max_calls``;
        tokens can only be checked against what is spent, so calls already in flight when the
        token budget runs out still finish (the overshoot is at most one call per slot).
        """
        limits = self.limits
        if limits.max_calls is not None and self.calls_started >= limits.max_calls:
            raise BudgetExhausted(f"the call budget ({limits.max_calls}) is spent")
        if limits.max_tokens is not None:
            spent = self.ledger.total.completion_tokens
            if spent >= limits.max_tokens:
                raise BudgetExhausted(f"the token budget ({limits.max_tokens}) is spent")
        self.calls_started += 1

    def fire(self, hook_name: str, **kwargs: Any) -> None:
        """Call a lifecycle hook; an observer that raises is logged, never fatal, except a
        recording that failed (``RecordingFailed``), which stops the run."""
        try:
            getattr(self.hook, hook_name)(run=self.run, **kwargs)
        except RecordingFailed:
            raise
        except Exception:
            logger.exception("a %s hook failed", hook_name)


@dataclass
class ComponentContext:
    """What one component sees while it runs: its model, seeds, and the call gateway."""

    run_ctx: RunContext
    stage: str
    component: str
    index: int
    model: str | None
    round: int = 0

    # --- identity and seeds ---------------------------------------------------------------

    def seed(self, *keys: object) -> int:
        """A seed for this component's call ``keys``: same run seed, same path → same seed."""
        return derive_seed(
            self.run_ctx.run.seed, self.run_ctx.task_key, self.stage, self.index, self.round,
            *keys,
        )

    @property
    def task(self) -> Any:
        return self.run_ctx.run.task

    @property
    def task_format(self) -> TaskFormat:
        return self.run_ctx.task_format

    def extract(self, text: str) -> str | None:
        try:
            return self.run_ctx.task_format.extract(text)
        except Exception:  # an extractor must never crash a run
            logger.exception("answer extraction failed")
            return None

    def runtime(self, model: str | None = None) -> Runtime:
        alias = model or self.model
        if alias is None:
            raise RuntimeError(f"component {self.component!r} has no model")
        return self.run_ctx.runtimes[alias]

    def candidate(
        self,
        text: str,
        completion: Completion | None = None,
        *,
        parents: Sequence[str] = (),
        sample_index: int = 0,
        seed: int | None = None,
        model: str | None = None,
        key: object = None,
    ) -> Candidate:
        """A new candidate with a stable id and full origin; registered with the run."""
        runtime = self.runtime(model) if (model or self.model) else None
        cid = candidate_id(
            self.run_ctx.run.seed, self.run_ctx.task_key, self.stage, self.index, self.round,
            sample_index, key,
        )
        tokens = None
        if completion is not None:
            tokens = TokenStats(
                ids=completion.token_ids,
                logprobs=completion.logprobs,
                top_logprobs=completion.top_logprobs,
                entropy=completion.entropy,
                kl_uniform=completion.kl_uniform,
                exact=completion.kl_uniform is not None,
                runtime=runtime.name if runtime is not None else "",
            )
        candidate = Candidate(
            id=cid,
            text=text,
            answer=self.extract(text),
            parents=tuple(parents),
            origin=Origin(
                stage=self.stage,
                component=self.component,
                model=(model or self.model or ""),
                seed=seed,
                sample_index=sample_index,
                round=self.round,
            ),
            tokens=tokens,
            finish_reason=None if completion is None else completion.finish_reason,
        )
        return candidate

    def remember(self, candidates: Iterable[Candidate]) -> None:
        """Record candidates (e.g. scored ones a filter drops) in the run's lineage."""
        for candidate in candidates:
            self.run_ctx.candidates[candidate.id] = candidate

    def record_selection(self, selection: Selection) -> None:
        self.run_ctx.selection = selection

    # --- model calls ----------------------------------------------------------------------

    async def render(self, messages: Sequence[Message], *, model: str | None = None,
                     add_generation_prompt: bool = True) -> str:
        return await self.runtime(model).render(
            messages, add_generation_prompt=add_generation_prompt
        )

    async def generate(self, request: GenerateRequest, *, model: str | None = None
                       ) -> list[Completion]:
        completions = await self._call("generate", model, request)
        return list(completions)

    async def score(self, requests: Sequence[ScoreRequest], *, model: str | None = None
                    ) -> list[ScoreResult]:
        return list(await self._call("score", model, tuple(requests)))

    def warn(self, kind: str, message: str, *, candidate: str | None = None) -> RunWarning:
        """Record a degradation of this component's work (e.g. a reply that never parsed):
        the run goes on, and the warning is kept on the ledger, counted for this stage and
        shown wherever the run is shown."""
        warning = RunWarning(kind=kind, message=message, stage=self.stage,
                             component=self.component, round=self.round, candidate=candidate)
        self.run_ctx.ledger.warn(warning)
        return warning

    async def _call(self, kind: str, model: str | None, request: Any) -> Any:
        alias = model or self.model
        runtime = self.runtime(alias)
        ctx = self.run_ctx
        fp = fingerprint(kind, runtime.name, runtime.model, request)
        usage = ctx.ledger.meter(self.stage, self.round)
        recorded = ctx.hook.ttc_recorded_response(run=ctx.run, fingerprint=fp, kind=kind)
        if recorded is not None:
            ctx.reserve_call()  # a replay spends the budget as the recording did, and stops there
            response = tuple(recorded)
            self._account(usage, kind, response)
            usage.served_calls += 1
            self._emit(kind, alias or "", runtime, fp, request, response, None, 0.0, 1, True)
            return response
        attempts = ctx.limits.retries + 1
        async with ctx.semaphore:
            for attempt in range(1, attempts + 1):
                ctx.reserve_call()
                started = time.perf_counter()
                try:
                    call = runtime.generate(request) if kind == "generate" else runtime.score(
                        request
                    )
                    response = tuple(await asyncio.wait_for(call, ctx.limits.call_timeout_s))
                except asyncio.CancelledError:
                    raise
                except RequestError as exc:
                    self._failed(usage, kind, alias, runtime, fp, request, exc, started, attempt)
                    raise ModelCallFailed(
                        f"{self.component} in stage {self.stage}: the model refused the "
                        f"request: {exc}"
                    ) from exc
                except (RuntimeCallError, TimeoutError, OSError) as exc:
                    self._failed(usage, kind, alias, runtime, fp, request, exc, started, attempt)
                    retryable = not isinstance(exc, RuntimeCallError) or exc.retryable
                    if not retryable or attempt == attempts:
                        raise ModelCallFailed(
                            f"{self.component} in stage {self.stage}: model call failed after "
                            f"{attempt} attempt(s): {_describe(exc)}"
                        ) from exc
                    await asyncio.sleep(retry_wait(ctx.limits, attempt, exc))
                    continue
                latency = time.perf_counter() - started
                self._account(usage, kind, response)
                self._emit(kind, alias or "", runtime, fp, request, response, None, latency,
                           attempt, False)
                return response
        raise AssertionError("unreachable")

    def _account(self, usage: StageUsage, kind: str, response: tuple) -> None:
        usage.calls += 1
        prompt, cached = _prompt_usage(kind, response)
        usage.prompt_tokens += prompt
        usage.cached_tokens += cached
        usage.prefilled_tokens += _prefilled(response)
        if kind == "generate":
            usage.completion_tokens += sum(len(item.token_ids) for item in response)

    def _failed(self, usage: StageUsage, kind: str, alias: str | None, runtime: Runtime,
                fp: str, request: Any, exc: BaseException, started: float, attempt: int) -> None:
        usage.failed_calls += 1
        self._emit(kind, alias or "", runtime, fp, request, None, _describe(exc),
                   time.perf_counter() - started, attempt, False)

    def _emit(self, kind: str, alias: str, runtime: Runtime, fp: str, request: Any,
              response: tuple | None, error: str | None, latency: float, attempt: int,
              replayed: bool) -> None:
        items = response or ()
        call = ModelCall(
            id=uuid.uuid4().hex,
            run_id=self.run_ctx.run.run_id,
            stage=self.stage,
            component=self.component,
            model_alias=alias,
            runtime=runtime.name,
            model=runtime.model,
            kind=kind,
            fingerprint=fp,
            request=request,
            response=response,
            error=error,
            latency=latency,
            attempt=attempt,
            prompt_tokens=_prompt_usage(kind, items)[0],
            cached_tokens=_prompt_usage(kind, items)[1],
            completion_tokens=sum(len(i.token_ids) for i in items) if kind == "generate" else 0,
            replayed=replayed,
        )
        self.run_ctx.fire("ttc_model_called", call=call)

def _prompt_usage(kind: str, response: Sequence[Any]) -> tuple[int, int]:
    """Prompt and cached prompt tokens of one call. The n samples of a generate call share
    one prompt, read (and billed, by APIs that take ``n``) once: the first completion's
    counts; a score call's requests each have their own prompt."""
    if not response:
        return 0, 0
    if kind == "generate":
        return response[0].prompt_tokens, response[0].cached_tokens
    return (sum(i.prompt_tokens for i in response), sum(i.cached_tokens for i in response))


def _prefilled(response: Sequence[Any]) -> int:
    """Prompt tokens the engine computed for one call: each completion's (or scored
    request's) prompt minus what its prefix cache served. The samples of an n-sample call
    after the first report their shared prompt as cached, so one prefill counts once."""
    return sum(max(0, item.prompt_tokens - item.cached_tokens) for item in response)


def retry_wait(limits: Limits, attempt: int, error: BaseException) -> float:
    """Seconds to wait after failed attempt ``attempt`` (from 1): ``retry_backoff_s``
    doubled per attempt, at most ``MAX_RETRY_WAIT_S``, times a jitter factor in [0.5, 1.5);
    never shorter than a server's ``Retry-After`` (``RuntimeCallError.retry_after_s``,
    itself capped at ``MAX_RETRY_WAIT_S``)."""
    backoff = min(limits.retry_backoff_s * 2 ** (attempt - 1), MAX_RETRY_WAIT_S)
    wait = backoff * (0.5 + random.random())
    if isinstance(error, RuntimeCallError) and error.retry_after_s:
        wait = max(wait, min(error.retry_after_s, MAX_RETRY_WAIT_S))
    return wait


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
