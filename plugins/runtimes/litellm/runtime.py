"""The ``litellm`` runtime: one ``litellm.acompletion`` per request (or per sample, for
providers that cannot return n choices), chat messages across the text boundary as the
``openai`` runtime's chat mode carries them.

What a provider cannot do stays absent: no ``score``, no token-id logprobs, no constrained
decoding; logprobs only where the provider returns them. LiteLLM is imported on first use
(it takes seconds) with its model price list read from the package, never fetched.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Sequence
from functools import cache
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from ttc.extras import missing
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

from ..openai import chat_prompt
from ..openai.runtime import shared_prompt
from ..sglang.native_protocol import sample_seed
from ..sglang.tokenizer_files import LocalTokenizer, local_folder
from .keys import provider_of, resolve_key

CAPABILITIES = frozenset({Capability.SAMPLES, Capability.CANCEL})
"""What every provider offers. Logprobs and seeds depend on the provider, which the options
do not name, so components that need them are refused here (use the ``openai`` runtime for
an OpenAI-compatible endpoint that returns them)."""
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
RETRY_ARGUMENTS = frozenset({"num_retries", "max_retries"})
"""LiteLLM's own retry arguments: always 0 (the call gateway is the one retry layer)."""
NO_KEY = "EMPTY"
"""The key sent to a server at ``api_base`` when the model has none."""


class LiteLLMOptions(RuntimeOptions):
    api_base: str | None = None
    """The provider's address when it is not the default (a self-hosted server, a gateway),
    e.g. ``http://127.0.0.1:30000/v1`` with model ``openai/NAME``."""
    api_key_env: str | None = Field(None, pattern=ENV_NAME)
    """The environment variable holding this model's key; default: the provider's usual one
    (``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``, ``TOGETHERAI_API_KEY``, ``GROQ_API_KEY``, …).
    Bedrock and Vertex use AWS and Google credentials instead."""
    api_key: SecretStr | None = None
    """The key itself; prefer ``api_key_env`` (keys in recipes end up in files)."""
    timeout_s: float = Field(600.0, gt=0)
    """Per request."""
    mock_response: str | None = None
    """Answer every request with this text and call no provider (LiteLLM's mock): dry runs
    and tests."""
    extra: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Provider arguments passed to ``litellm.acompletion`` as they are (e.g.
    ``aws_region_name`` for Bedrock); not retries (``limits.retries`` sets those)."""
    tokenizer: str | None = None
    """A local model folder, for token ids and ``tokenize`` (e.g. a fuser's
    ``length_control``); without one token ids are unknown (-1)."""

    retired = MappingProxyType({"max_retries": RETRIES_MOVED})

    @field_validator("extra")
    @classmethod
    def _no_retries(cls, extra: dict[str, Any]) -> dict[str, Any]:
        found = sorted(RETRY_ARGUMENTS & set(extra))
        if found:
            raise ValueError(f"extra may not set {', '.join(found)}: {RETRIES_MOVED}")
        return extra


class LiteLLMRuntime:
    """A model behind LiteLLM (``anthropic/…``, ``gemini/…``, ``bedrock/…``, ``groq/…``)."""

    name: ClassVar[str] = "litellm"
    Options: ClassVar[type[RuntimeOptions]] = LiteLLMOptions

    def __init__(self, model: str, options: LiteLLMOptions) -> None:
        self.model = model
        self.options = options
        self.capabilities = self.static_capabilities(options)
        self.vocab_size: int | None = None
        self.provider = provider_of(model)
        folder = local_folder(options.tokenizer)
        if options.tokenizer and folder is None:
            raise RequestError(f"litellm runtime: tokenizer {options.tokenizer!r} is not a "
                               "local folder")
        self.tokenizer = LocalTokenizer(folder)
        secret = options.api_key
        self._key = secret.get_secret_value() if secret else (
            None if options.mock_response is not None
            else resolve_key(model, options.api_key_env))

    @classmethod
    def static_capabilities(cls, options: RuntimeOptions) -> frozenset[Capability]:
        return CAPABILITIES

    @classmethod
    def tokenizes(cls, options: RuntimeOptions) -> bool:
        """Only with a local ``tokenizer`` folder (providers have no tokenize)."""
        return getattr(options, "tokenizer", None) is not None

    @classmethod
    def create(cls, model: str, options: RuntimeOptions) -> LiteLLMRuntime:
        """No network here: the first call finds out whether the provider answers."""
        opts = options if isinstance(options, LiteLLMOptions) else (
            LiteLLMOptions.model_validate(options.model_dump()))
        if not model:
            raise RequestError("the litellm runtime needs a model (models: {alias: {runtime: "
                               "litellm, model: anthropic/claude-3-5-sonnet-20240620}})")
        return cls(model, opts)

    # --- Runtime protocol ----------------------------------------------------------------

    async def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True
                     ) -> str:
        return chat_prompt.encode(messages)

    async def tokenize(self, text: str) -> list[int]:
        return await asyncio.to_thread(self.tokenizer.encode, text)

    async def generate(self, request: GenerateRequest) -> list[Completion]:
        if request.token_ids_logprob or request.regex or request.json_schema:
            raise RequestError("the litellm runtime cannot return token-id logprobs or "
                               "constrain decoding; use the sglang runtime")
        supported = self._supported()
        if request.top_logprobs and "top_logprobs" not in supported:
            raise RequestError(f"provider {self.provider!r} returns no top logprobs")
        args = self._arguments(request, supported)
        one_call = (request.n == 1 or ("n" in supported and "logprobs" in supported
                                       and self.options.mock_response is None))
        if one_call:
            seed = request.params.seed if "seed" in supported else None
            answers = [await self._call(args, request.n, seed)]
        else:  # n calls: the provider returns one choice per request
            seeds = [None if request.params.seed is None or "seed" not in supported
                     else sample_seed(request.params.seed, i) for i in range(request.n)]
            answers = await asyncio.gather(*(self._call(args, 1, s) for s in seeds))
        out = [c for answer in answers for c in self._completions(answer, request)]
        if len(out) != request.n:
            raise RuntimeCallError(f"{self.model} returned {len(out)} choices for "
                                   f"n={request.n}", retryable=True)
        return out

    async def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        raise RequestError("LiteLLM providers have no teacher-forced scoring; use the sglang "
                           "or local runtime for score-based components")

    async def aclose(self) -> None:
        return None

    # --- calls ---------------------------------------------------------------------------

    def _supported(self) -> frozenset[str]:
        return supported_params(self.model)

    def _arguments(self, request: GenerateRequest, supported: frozenset[str]
                   ) -> dict[str, Any]:
        params = request.params
        args: dict[str, Any] = {
            "model": self.model, "messages": chat_prompt.decode(request.prompt),
            "max_tokens": params.max_tokens, "temperature": params.temperature,
            "timeout": self.options.timeout_s, "drop_params": True, **self.options.extra,
            "num_retries": 0, "max_retries": 0,  # one attempt: the run's call gateway retries
        }
        if params.top_p < 1.0:
            args["top_p"] = params.top_p
        if params.stop:
            args["stop"] = list(params.stop)
        if "logprobs" in supported:
            args["logprobs"] = True
            if request.top_logprobs:
                args["top_logprobs"] = request.top_logprobs
        if self.options.api_base:
            args["api_base"] = self.options.api_base
        if self._key:
            args["api_key"] = self._key
        elif self.options.api_base:  # a self-hosted server wants some key (vLLM's convention)
            args["api_key"] = NO_KEY
        if self.options.mock_response is not None:
            args["mock_response"] = self.options.mock_response
        return args

    async def _call(self, args: dict[str, Any], n: int, seed: int | None) -> Any:
        litellm = import_litellm()
        call = dict(args)
        if n > 1:
            call["n"] = n
        if seed is not None:
            call["seed"] = seed
        try:
            return await litellm.acompletion(**call)
        except (RequestError, asyncio.CancelledError):
            raise
        except Exception as error:
            raise _mapped(error) from error

    def _completions(self, answer: Any, request: GenerateRequest) -> list[Completion]:
        usage = getattr(answer, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0) if details else 0
        choices = sorted(answer.choices, key=lambda c: c.index)
        out = []
        for i, choice in enumerate(choices):
            entries = getattr(getattr(choice, "logprobs", None), "content", None) or []
            if entries:
                ids = tuple(self._token_id(e.token) for e in entries)
                logprobs = tuple(float(e.logprob) for e in entries)
            else:  # no logprobs from this provider: the count from its usage, ids unknown
                count = int(getattr(usage, "completion_tokens", 0) or 0) if len(
                    choices) == 1 else 0
                ids, logprobs = (-1,) * count, ()
            top = None
            if request.top_logprobs and entries:
                top = tuple(tuple((self._token_id(t.token), float(t.logprob))
                                  for t in (e.top_logprobs or ())) for e in entries)
            out.append(Completion(
                text=choice.message.content or "", token_ids=ids, logprobs=logprobs,
                finish_reason=_finish(choice.finish_reason), prompt_tokens=prompt_tokens,
                cached_tokens=shared_prompt(i, prompt_tokens, cached), top_logprobs=top))
        return out

    def _token_id(self, token: str) -> int:
        if not self.tokenizer.available:
            return -1
        ids = self.tokenizer.encode(token)
        return ids[0] if len(ids) == 1 else -1


@cache
def import_litellm() -> Any:
    """LiteLLM, imported once, offline: its price list from the package, no telemetry."""
    problem = missing("litellm")
    if problem:
        raise RequestError(problem)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # its provider modules, imported on first use, make pydantic warn about their types
    warnings.filterwarnings("ignore", message=r".*`ReadOnly` qualifier", category=UserWarning)
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


@cache
def supported_params(model: str) -> frozenset[str]:
    """The OpenAI parameters LiteLLM can send to this model's provider (``n``, ``seed``,
    ``logprobs``, …); none known: the safe minimum (one sample per request)."""
    litellm = import_litellm()
    try:
        name, provider, _, _ = litellm.get_llm_provider(model)
        found = litellm.get_supported_openai_params(model=name, custom_llm_provider=provider)
    except Exception:
        return frozenset()
    return frozenset(found or ())


def _finish(reason: str | None) -> str:
    if reason in ("length", "max_tokens"):
        return "length"
    if reason == "content_filter":
        return "abort"
    return "stop"


def _mapped(error: Exception) -> RuntimeCallError:
    """LiteLLM's exceptions as the gateway's: a request the provider refuses is never
    retried; rate limits, timeouts, connection and server errors are."""
    status = getattr(error, "status_code", None)
    name = type(error).__name__
    message = f"{name}: {str(error).splitlines()[0][:300] if str(error) else name}"
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 429):
        return RequestError(message)
    if name in {"AuthenticationError", "BadRequestError", "NotFoundError",
                "PermissionDeniedError", "UnprocessableEntityError",
                "ContextWindowExceededError", "ContentPolicyViolationError"}:
        return RequestError(message)
    return RuntimeCallError(message, retryable=True)
