"""One retry layer: the call gateway's policy (``limits.retries``, exponential backoff with
jitter and a cap, a server's Retry-After honoured, a refused request never retried)."""

from __future__ import annotations

import time

import pytest

from ttc.context import MAX_RETRY_WAIT_S, retry_wait
from ttc.pipeline import Pipeline
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.recipe.plan import Limits
from ttc.runtime import RequestError, RuntimeCallError


@pytest.mark.parametrize("attempt", [1, 2, 3, 4])
def test_the_wait_doubles_per_attempt_with_jitter(attempt: int) -> None:
    limits = Limits(retry_backoff_s=0.5)
    base = 0.5 * 2 ** (attempt - 1)
    waits = [retry_wait(limits, attempt, RuntimeCallError("x", retryable=True))
             for _ in range(200)]
    assert all(0.5 * base <= w < 1.5 * base for w in waits)
    assert max(waits) - min(waits) > 0.1 * base  # jittered, not a fixed step


def test_the_wait_is_capped() -> None:
    limits = Limits(retries=20, retry_backoff_s=10.0)
    assert retry_wait(limits, 20, TimeoutError()) < 1.5 * MAX_RETRY_WAIT_S


def test_a_servers_retry_after_is_the_shortest_wait() -> None:
    limits = Limits(retry_backoff_s=0.0)
    assert retry_wait(limits, 1, RuntimeCallError("429", retryable=True, retry_after_s=3.0)
                      ) == 3.0
    huge = RuntimeCallError("429", retryable=True, retry_after_s=10_000)
    assert retry_wait(limits, 1, huge) == MAX_RETRY_WAIT_S


class RateLimited(ScriptedRuntime):
    """Answers 429 with a Retry-After once, then answers."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("scripted", ScriptedOptions(responses=["4"]))
        self.retry_after_s = retry_after_s
        self.attempts = 0

    async def generate(self, request):
        self.attempts += 1
        if self.attempts == 1:
            raise RuntimeCallError("429 slow down", retryable=True,
                                   retry_after_s=self.retry_after_s)
        return await super().generate(request)


def run_with(runtime, limits: str):
    text = (f"name: r\nmodels: {{s: {{runtime: scripted}}}}\nlimits: {limits}\n"
            "stages:\n  - use: sample\n")
    return Pipeline.from_text(text, runtimes={"s": runtime}).run("q")


def test_the_gateway_waits_what_the_server_asked_before_retrying() -> None:
    runtime = RateLimited(retry_after_s=0.3)
    started = time.monotonic()
    result = run_with(runtime, "{retries: 1, retry_backoff_s: 0}")
    assert time.monotonic() - started >= 0.3
    assert result.status == "succeeded" and runtime.attempts == 2
    assert result.ledger.total.failed_calls == 1 and result.ledger.total.calls == 1


def test_no_retries_means_one_attempt() -> None:
    runtime = RateLimited(retry_after_s=0.0)
    result = run_with(runtime, "{retries: 0}")
    assert result.status == "failed" and "after 1 attempt(s)" in (result.error or "")
    assert runtime.attempts == 1


def test_a_refused_request_is_never_retried() -> None:
    class Refuses(ScriptedRuntime):
        def __init__(self) -> None:
            super().__init__("scripted", ScriptedOptions())

        async def generate(self, request):
            self.calls += 1
            raise RequestError("context too long")

    runtime = Refuses()
    result = run_with(runtime, "{retries: 5, retry_backoff_s: 0}")
    assert result.status == "failed" and runtime.calls == 1
