"""The ``prm_endpoint`` runtime: a process reward model behind an HTTP server, as a model
of the recipe's ``models:`` — so its calls go through the one call gateway (budget,
retries, ledger, recording, replay) like any other.

It only scores. The ``prm`` step scorer sends one ``ScoreRequest`` per partial solution,
``prompt`` the question and ``continuation`` the steps as a JSON list; the answer's
``logprobs`` are log P(step k is correct), one per step (what a PRM computes: the
probability of its "correct" label at each step's tag). Three server APIs:

- ``sglang``: SGLang's native ``/classify`` for reward models (``--is-embedding``): one
  text per prefix (the question and the first k steps), the reward ``embedding[0]``, a
  logit squashed by a sigmoid unless ``sigmoid: false``;
- ``openai``: the OpenAI-style ``/v1/classify`` of vLLM and SGLang: one text per prefix,
  the reward ``probs[label]``;
- ``pooling``: vLLM's ``/pooling`` with a step-tag PRM (e.g. Math-Shepherd,
  Qwen2.5-Math-PRM): one text per solution with ``step_tag`` after every step, one row of
  probabilities per step, the reward ``row[label]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from ttc.plugin_system import hookimpl
from ttc.plugins.runtimes.sglang.transport import JsonTransport
from ttc.registry import RegisterRuntime
from ttc.runtime import (
    RETRIES_MOVED,
    Capability,
    Completion,
    GenerateRequest,
    Message,
    RequestError,
    RuntimeCallError,
    RuntimeOptions,
    ScoreRequest,
    ScoreResult,
)

FLOOR = 1e-12
"""A reward of 0 is stored as log(1e-12)."""


class PRMEndpointOptions(RuntimeOptions):
    url: str = "http://127.0.0.1:30000"
    """The reward model's server."""
    api: Literal["sglang", "openai", "pooling"] = "sglang"
    """``sglang``: native ``/classify``; ``openai``: ``/v1/classify``; ``pooling``: vLLM's
    ``/pooling`` with per-step rows (see docs/search.md)."""
    template: str = "{question}\n\n{steps}"
    """The text the reward model reads; ``{question}`` and ``{steps}`` are filled in."""
    step_join: str = "\n\n"
    """Put between two steps."""
    step_tag: str = ""
    """Appended after every step: a PRM's step token (``pooling`` needs one per step)."""
    label: int = Field(1, ge=0)
    """``openai``/``pooling``: the probability column that means "correct"."""
    sigmoid: bool = True
    """``sglang``: the reward is a logit; map it to (0, 1) with a sigmoid."""
    timeout_s: float = Field(60.0, gt=0)
    """Longest wait for one HTTP answer."""
    api_key: SecretStr | None = None
    """Sent as a bearer token; never logged or stored."""

    retired = MappingProxyType({"retries": RETRIES_MOVED})


def prm_text(options: PRMEndpointOptions, question: str, steps: Sequence[str]) -> str:
    body = options.step_join.join(step + options.step_tag for step in steps)
    return options.template.replace("{question}", question).replace("{steps}", body)


def decode_steps(request: ScoreRequest) -> list[str]:
    """The steps a ``prm`` scorer put in the continuation."""
    try:
        steps = json.loads(request.continuation)
    except json.JSONDecodeError:
        steps = None
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise RequestError("prm_endpoint scores partial solutions: the continuation must be "
                           "a JSON list of steps (use the 'prm' step scorer)")
    return steps


class PRMEndpointRuntime:
    """A process reward model served over HTTP (SGLang, vLLM): scores steps, generates
    nothing."""

    name: ClassVar[str] = "prm_endpoint"
    Options: ClassVar[type[RuntimeOptions]] = PRMEndpointOptions
    capabilities = frozenset({Capability.SCORE})
    vocab_size = None
    step_rewards: ClassVar[bool] = True
    """Marks a runtime whose ``score`` answers with per-step rewards (see the module)."""

    def __init__(self, model: str, options: PRMEndpointOptions) -> None:
        self.model = model
        self.options = options
        headers = ({"Authorization": f"Bearer {options.api_key.get_secret_value()}"}
                   if options.api_key is not None else {})
        self.transport = JsonTransport(options.url, timeout_s=options.timeout_s,
                                       connect_timeout_s=min(options.timeout_s, 10.0),
                                       max_connections=16,
                                       headers=headers)

    @classmethod
    def static_capabilities(cls, options: RuntimeOptions) -> frozenset[Capability]:
        return cls.capabilities

    @classmethod
    def create(cls, model: str, options: RuntimeOptions) -> PRMEndpointRuntime:
        assert isinstance(options, PRMEndpointOptions)
        return cls(model, options)

    async def render(self, messages: Sequence[Message], *,
                     add_generation_prompt: bool = True) -> str:
        return "\n\n".join(m.get("content", "") for m in messages)

    async def tokenize(self, text: str) -> list[int]:
        raise RequestError("a reward endpoint has no tokenizer here")

    async def generate(self, request: GenerateRequest) -> list[Completion]:
        raise RequestError("prm_endpoint only scores steps; give generation another model")

    async def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        solutions = [decode_steps(r) for r in requests]
        questions = [r.prompt for r in requests]
        if self.options.api == "pooling":
            rewards, usage = await self._pooling(questions, solutions)
        else:
            rewards, usage = await self._classify(questions, solutions)
        prompt_tokens = usage // max(len(requests), 1)
        return [ScoreResult(token_ids=(), prompt_tokens=prompt_tokens,
                            logprobs=tuple(math.log(max(r, FLOOR)) for r in values))
                for values in rewards]

    async def _classify(self, questions: list[str], solutions: list[list[str]]
                        ) -> tuple[list[list[float]], int]:
        texts = [prm_text(self.options, q, steps[: k + 1])
                 for q, steps in zip(questions, solutions, strict=True)
                 for k in range(len(steps))]
        flat = await self._classify_texts(texts) if texts else ([], 0)
        out, i = [], 0
        for steps in solutions:
            out.append(flat[0][i:i + len(steps)])
            i += len(steps)
        return out, flat[1]

    async def _classify_texts(self, texts: list[str]) -> tuple[list[float], int]:
        options = self.options
        if options.api == "sglang":
            body: dict[str, Any] = {"text": texts}
            if self.model:
                body["model"] = self.model
            answer = await self.transport.post("/classify", body)
            items = _list(answer, "/classify", len(texts))
            values = [_number(_field(item, "embedding", "/classify")[0:1], "/classify")
                      for item in items]
            if options.sigmoid:
                values = [_sigmoid(v) for v in values]
            usage = sum(int((item.get("meta_info") or {}).get("prompt_tokens", 0))
                        for item in items)
            return values, usage
        answer = await self.transport.post("/v1/classify", {"model": self.model, "input": texts})
        items = _ordered(_field(answer, "data", "/v1/classify"), len(texts), "/v1/classify")
        values = [_probability(_field(item, "probs", "/v1/classify"), options.label)
                  for item in items]
        return values, int((answer.get("usage") or {}).get("prompt_tokens", 0))

    async def _pooling(self, questions: list[str], solutions: list[list[str]]
                       ) -> tuple[list[list[float]], int]:
        texts = [prm_text(self.options, q, steps)
                 for q, steps in zip(questions, solutions, strict=True)]
        answer = await self.transport.post("/pooling", {"model": self.model, "input": texts})
        items = _ordered(_field(answer, "data", "/pooling"), len(texts), "/pooling")
        out = []
        for item, steps in zip(items, solutions, strict=True):
            rows = _field(item, "data", "/pooling")
            if not isinstance(rows, list) or len(rows) != len(steps):
                raise RuntimeCallError(
                    f"/pooling returned {len(rows) if isinstance(rows, list) else rows!r} "
                    f"rows for {len(steps)} steps: does every step end with the PRM's step "
                    "token (step_tag) and is the server started with its step tag id?")
            out.append([_probability(row, self.options.label) for row in rows])
        return out, int((answer.get("usage") or {}).get("prompt_tokens", 0))

    async def aclose(self) -> None:
        await self.transport.aclose()


def _field(item: Any, key: str, where: str) -> Any:
    if not isinstance(item, dict) or key not in item:
        raise RuntimeCallError(f"{where} answered without {key!r}: {str(item)[:200]}")
    return item[key]


def _list(answer: Any, where: str, expected: int) -> list[dict]:
    if not isinstance(answer, list) or len(answer) != expected:
        raise RuntimeCallError(f"{where} answered {str(answer)[:200]} for {expected} texts")
    return answer


def _ordered(items: Any, expected: int, where: str) -> list[dict]:
    if not isinstance(items, list) or len(items) != expected:
        got = len(items) if isinstance(items, list) else repr(items)[:200]
        raise RuntimeCallError(f"{where} answered {got} results for {expected} inputs")
    return sorted(items, key=lambda item: item.get("index", 0) if isinstance(item, dict) else 0)


def _number(values: Any, where: str) -> float:
    if not isinstance(values, list) or not values or not isinstance(values[0], (int, float)):
        raise RuntimeCallError(f"{where} answered a reward that is not a number: {values!r}")
    return float(values[0])


def _probability(row: Any, label: int) -> float:
    if not isinstance(row, list) or len(row) <= label:
        raise RuntimeCallError(f"no probability at label {label} in {row!r}")
    value = float(row[label])
    if not 0.0 <= value <= 1.0:
        raise RuntimeCallError(f"label {label} holds {value}, not a probability")
    return value


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


@hookimpl
def ttc_register_runtimes(register: RegisterRuntime) -> None:
    register(PRMEndpointRuntime)
