"""The ``openai`` runtime: vLLM, llama.cpp, SGLang's ``/v1``, ``ttc serve``, hosted APIs.

Through the official ``openai`` async client, in ``chat`` or ``completions`` mode. What the
protocol cannot give stays absent: no ``score`` (no prompt logprobs), no full distribution,
and token ids only where the server names them (``token_id:N``, vLLM's convention) or a
local tokenizer can map token strings back to ids (else ``-1``).

The API key comes from the recipe option ``api_key``, else from the environment variable
the model names in ``api_key_env`` (``OPENAI_API_KEY`` by default), so two models of one
recipe can use two providers' keys; it is a ``SecretStr`` (masked in reprs, dumps and
fingerprints) and never logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Sequence
from types import MappingProxyType, SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, SecretStr

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

from ..sglang.tokenizer_files import LocalTokenizer, local_folder
from ..sglang.transport import retry_after_seconds
from . import chat_prompt

if TYPE_CHECKING:  # the client library takes ~0.5 s to import: only when a runtime is used
    import openai

CAPABILITIES = frozenset({
    Capability.SAMPLES, Capability.LOGPROBS, Capability.TOP_LOGPROBS, Capability.SEED,
    Capability.CANCEL,
})
MAX_TOP_LOGPROBS = 20
NO_KEY = "EMPTY"
"""The key sent to a self-hosted server when none is configured (vLLM's convention)."""


class OpenAIOptions(RuntimeOptions):
    base_url: str | None = None
    """e.g. ``http://127.0.0.1:30000/v1``; default ``OPENAI_BASE_URL``, else OpenAI's."""
    api_key: SecretStr | None = None
    """Default: the variable ``api_key_env`` names; prefer the environment over writing a
    key in a recipe."""
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The environment variable that holds this model's key (e.g. ``TOGETHER_API_KEY``);
    default ``OPENAI_API_KEY``. Each model names its own, so one recipe can mix providers."""
    mode: Literal["chat", "completions"] = "chat"
    """``chat``: /chat/completions, the server applies its chat template. ``completions``:
    /completions on text rendered here with ``tokenizer`` (literal shared prefixes)."""
    tokenizer: str | None = None
    """A local model folder: the chat template for ``completions`` mode, and token ids."""
    timeout_s: float = Field(600.0, gt=0)
    """Longest wait for one answer."""
    vocab_size: int | None = Field(None, ge=2)
    """The logits' width, for the self-certainty lower bound."""
    stream: bool = False
    """Stream each answer (``stream: true`` with ``stream_options.include_usage``) and record
    each sample's time to its first token (``Completion.first_token_latency``, kept in the
    run store). The server must send usage in the stream's last chunk for token counts."""

    retired = MappingProxyType({"max_retries": RETRIES_MOVED})


class OpenAIRuntime:
    """An OpenAI-compatible endpoint."""

    name: ClassVar[str] = "openai"
    Options: ClassVar[type[RuntimeOptions]] = OpenAIOptions

    def __init__(self, model: str, options: OpenAIOptions) -> None:
        self.model = model
        self.options = options
        self.capabilities = CAPABILITIES
        self.vocab_size: int | None = options.vocab_size
        self.base_url = options.base_url or os.environ.get("OPENAI_BASE_URL") or None
        folder = local_folder(options.tokenizer)
        if options.tokenizer and folder is None:
            raise RequestError(f"openai runtime: tokenizer {options.tokenizer!r} is not a "
                               "local folder")
        self.tokenizer = LocalTokenizer(folder)
        self._clients: dict[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = {}
        self._key = api_key(options)

    @classmethod
    def static_capabilities(cls, options: RuntimeOptions) -> frozenset[Capability]:
        return CAPABILITIES

    @classmethod
    def tokenizes(cls, options: RuntimeOptions) -> bool:
        """Token counts need the model's tokenizer here (the API has no tokenize): only
        with ``options.tokenizer``, so ``ttc validate`` refuses a fuser's
        ``length_control`` without one instead of the run failing."""
        return getattr(options, "tokenizer", None) is not None

    @classmethod
    def create(cls, model: str, options: RuntimeOptions) -> OpenAIRuntime:
        """No network here: the first call finds out whether the endpoint answers."""
        opts = options if isinstance(options, OpenAIOptions) else OpenAIOptions.model_validate(
            options.model_dump())
        if not model:
            raise RequestError("the openai runtime needs a model name (models: {alias: "
                               "{runtime: openai, model: NAME}})")
        return cls(model, opts)

    def _client(self) -> openai.AsyncOpenAI:
        """One client per event loop: its connection pool belongs to that loop."""
        import openai

        loop = asyncio.get_running_loop()
        for stale in [other for other in self._clients if other.is_closed()]:
            del self._clients[stale]
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = openai.AsyncOpenAI(
                api_key=self._key or NO_KEY, base_url=self.base_url,
                timeout=self.options.timeout_s,
                max_retries=0)  # one attempt: the run's call gateway retries
        return client

    # --- Runtime protocol ----------------------------------------------------------------

    async def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True
                     ) -> str:
        if self.options.mode == "chat":
            return chat_prompt.encode(messages)
        return await asyncio.to_thread(
            self.tokenizer.render, [dict(m) for m in messages], add_generation_prompt)

    async def tokenize(self, text: str) -> list[int]:
        return await asyncio.to_thread(self.tokenizer.encode, text)

    async def generate(self, request: GenerateRequest) -> list[Completion]:
        if not 0 <= request.top_logprobs <= MAX_TOP_LOGPROBS:
            raise RequestError(f"top_logprobs must be in [0, {MAX_TOP_LOGPROBS}] for the "
                               f"OpenAI API, got {request.top_logprobs}")
        if request.token_ids_logprob or request.regex or request.json_schema:
            raise RequestError("the openai runtime cannot return token-id logprobs or "
                               "constrain decoding; use the sglang runtime")
        import openai

        try:
            if self.options.mode == "chat":
                return await self._chat(request)
            return await self._completions(request)
        except openai.APIStatusError as error:
            raise _status_error(error) from error
        except (openai.APITimeoutError, openai.APIConnectionError) as error:
            raise RuntimeCallError(f"{self.options.mode} call failed: {type(error).__name__}",
                                   retryable=True) from error
        except (openai.APIError, ValueError, TypeError, AttributeError) as error:
            raise RuntimeCallError(f"{self.options.mode} call returned a malformed answer: "
                                   f"{type(error).__name__}: {error}", retryable=True) from error

    async def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        raise RequestError("the OpenAI API has no teacher-forced scoring; use the sglang or "
                           "local runtime for score-based components")

    async def aclose(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.close()

    # --- the two modes -------------------------------------------------------------------

    def _sampling(self, request: GenerateRequest) -> dict[str, Any]:
        params = request.params
        args: dict[str, Any] = {
            "model": self.model, "n": request.n, "max_tokens": params.max_tokens,
            "temperature": params.temperature, "top_p": params.top_p,
        }
        if params.stop:
            args["stop"] = list(params.stop)
        if params.seed is not None:
            args["seed"] = params.seed
        extra: dict[str, float] = {}
        if params.top_k > 0:
            extra["top_k"] = params.top_k
        if params.min_p > 0:
            extra["min_p"] = params.min_p
        if extra:  # vLLM, SGLang and ttc serve read these; OpenAI itself does not have them
            args["extra_body"] = extra
        return args

    async def _chat(self, request: GenerateRequest) -> list[Completion]:
        args = self._sampling(request)
        args["logprobs"] = True
        if request.top_logprobs:
            args["top_logprobs"] = request.top_logprobs
        create = self._client().chat.completions.create
        messages = chat_prompt.decode(request.prompt)
        if self.options.stream:
            answer, firsts = await _streamed(
                await create(messages=messages, stream=True,
                             stream_options={"include_usage": True}, **args), chat=True)
        else:
            answer, firsts = await create(messages=messages, **args), {}
        prompt_tokens, cached = _usage(answer.usage)
        out = []
        for i, choice in enumerate(sorted(answer.choices, key=lambda c: c.index)):
            entries = (choice.logprobs.content if choice.logprobs else None) or []
            top = None
            if request.top_logprobs:
                top = tuple(tuple((self._token_id(t.token), t.logprob) for t in e.top_logprobs)
                            for e in entries)
            out.append(Completion(
                text=choice.message.content or "",
                token_ids=tuple(self._token_id(e.token) for e in entries),
                logprobs=tuple(e.logprob for e in entries),
                finish_reason=_finish(choice.finish_reason),
                prompt_tokens=prompt_tokens, cached_tokens=shared_prompt(i, prompt_tokens, cached),
                top_logprobs=top, matched_stop=_matched(choice),
                first_token_latency=firsts.get(choice.index),
            ))
        return _checked(out, request.n)

    async def _completions(self, request: GenerateRequest) -> list[Completion]:
        args = self._sampling(request)
        args["logprobs"] = request.top_logprobs  # 0 still returns the sampled tokens'
        create = self._client().completions.create
        if self.options.stream:
            answer, firsts = await _streamed(
                await create(prompt=request.prompt, stream=True,
                             stream_options={"include_usage": True}, **args), chat=False)
        else:
            answer, firsts = await create(prompt=request.prompt, **args), {}
        prompt_tokens, cached = _usage(answer.usage)
        out = []
        for i, choice in enumerate(sorted(answer.choices, key=lambda c: c.index)):
            lp = choice.logprobs
            tokens = list(lp.tokens or []) if lp else []
            values = list(lp.token_logprobs or []) if lp else []
            top = None
            if request.top_logprobs and lp and lp.top_logprobs is not None:
                top = tuple(
                    tuple(sorted(((self._token_id(t), v) for t, v in (pos or {}).items()),
                                 key=lambda pair: -pair[1]))
                    for pos in lp.top_logprobs)
            out.append(Completion(
                text=choice.text,
                token_ids=tuple(self._token_id(t) for t in tokens),
                logprobs=tuple(float("-inf") if v is None else v for v in values),
                finish_reason=_finish(choice.finish_reason),
                prompt_tokens=prompt_tokens, cached_tokens=shared_prompt(i, prompt_tokens, cached),
                top_logprobs=top, matched_stop=_matched(choice),
                first_token_latency=firsts.get(choice.index),
            ))
        return _checked(out, request.n)

    def _token_id(self, token: str) -> int:
        """``token_id:N`` when the server says it; else the local tokenizer's id; else −1
        (a token text that does not map back to exactly one id)."""
        if token.startswith("token_id:") and token[9:].isdigit():
            return int(token[9:])
        if not self.tokenizer.available:
            return -1
        tokenizer = self.tokenizer.get()
        token_id = tokenizer.convert_tokens_to_ids(token)  # a vocabulary entry ("ĠParis")
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            return token_id
        ids = self.tokenizer.encode(token)  # decoded text (" Paris"), as most servers send
        return ids[0] if len(ids) == 1 else -1


@dataclasses.dataclass
class _StreamedChoice:
    """One choice put back together from its chunks."""

    index: int
    text: str = ""
    entries: list[Any] = dataclasses.field(default_factory=list)
    tokens: list[str] = dataclasses.field(default_factory=list)
    token_logprobs: list[float | None] = dataclasses.field(default_factory=list)
    top_logprobs: list[Any] | None = None
    finish_reason: str | None = None
    model_extra: dict[str, Any] = dataclasses.field(default_factory=dict)


async def _streamed(stream: Any, *, chat: bool) -> tuple[Any, dict[int, float]]:
    """A streamed answer as the non-streamed answer's shape (``choices``, ``usage``), and
    each choice's seconds to its first token (from the start of the request)."""
    started = time.perf_counter()
    choices: dict[int, _StreamedChoice] = {}
    firsts: dict[int, float] = {}
    usage = None
    async for chunk in stream:
        if getattr(chunk, "usage", None) is not None:
            usage = chunk.usage
        for part in chunk.choices or ():
            choice = choices.setdefault(part.index, _StreamedChoice(part.index))
            logprobs = part.logprobs
            text = (part.delta.content if chat else part.text) or ""
            choice.text += text
            if chat and logprobs is not None:
                choice.entries.extend(logprobs.content or [])
            elif logprobs is not None:
                choice.tokens.extend(logprobs.tokens or [])
                choice.token_logprobs.extend(logprobs.token_logprobs or [])
                if logprobs.top_logprobs is not None:
                    choice.top_logprobs = (choice.top_logprobs or []) + list(
                        logprobs.top_logprobs)
            if part.index not in firsts and (text or choice.entries or choice.tokens):
                firsts[part.index] = time.perf_counter() - started
            if part.finish_reason:
                choice.finish_reason = part.finish_reason
                choice.model_extra = dict(part.model_extra or {})
    answer = SimpleNamespace(usage=usage, choices=[
        SimpleNamespace(
            index=c.index, finish_reason=c.finish_reason, model_extra=c.model_extra,
            message=SimpleNamespace(content=c.text), text=c.text,
            logprobs=SimpleNamespace(content=c.entries) if chat else SimpleNamespace(
                tokens=c.tokens, token_logprobs=c.token_logprobs, top_logprobs=c.top_logprobs))
        for c in choices.values()])
    return answer, firsts


def api_key(options: OpenAIOptions) -> str | None:
    """The model's key: the option, else its variable. A variable the recipe names that is
    not set is an error before any call (the default, ``OPENAI_API_KEY``, may be unset for
    a self-hosted server)."""
    if options.api_key is not None:
        return options.api_key.get_secret_value()
    if options.api_key_env is None:
        return os.environ.get("OPENAI_API_KEY")
    key = os.environ.get(options.api_key_env)
    if not key:
        raise RequestError(f"the openai runtime reads this model's key from "
                           f"{options.api_key_env}, which is not set: export it (keys are "
                           "never written into recipes)")
    return key


def shared_prompt(index: int, prompt_tokens: int, cached: int) -> int:
    """The cached prompt tokens of choice ``index`` of an n-choice answer whose usage counts
    the prompt once: the first choice carries the request's cached count, the others share
    its prefill (all cached), so a ledger summing what each choice computed counts the
    prefill once, as the server did."""
    return cached if index == 0 else prompt_tokens


def _usage(usage: Any) -> tuple[int, int]:
    if usage is None:
        return 0, 0
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return int(usage.prompt_tokens or 0), int(cached or 0)


def _finish(reason: str | None) -> str:
    if reason == "length":
        return "length"
    if reason == "content_filter":
        return "abort"
    return "stop"


def _matched(choice: Any) -> str | None:
    """SGLang and ``ttc serve`` add ``matched_stop`` (a string, or the EOS token id)."""
    matched = (choice.model_extra or {}).get("matched_stop")
    return matched if isinstance(matched, str) else None


def _checked(completions: list[Completion], n: int) -> list[Completion]:
    if len(completions) != n:
        raise RuntimeCallError(f"the endpoint returned {len(completions)} choices for n={n}",
                               retryable=True)
    return completions


def _status_error(error: openai.APIStatusError) -> RuntimeCallError:
    status = error.status_code
    message = f"the endpoint answered {status}: {error.message}"
    if status >= 500 or status in (408, 409, 429):  # what the client itself would retry
        wait = retry_after_seconds(error.response.headers.get("retry-after"))
        return RuntimeCallError(message, retryable=True, retry_after_s=wait)
    return RequestError(message)
