"""The ``sglang`` runtime: SGLang's native HTTP API (a server, or ``sglang-router`` over many).

Works against SGLang itself and against ``ttc serve`` (which speaks the same protocol over
any ttc runtime); see docs/runtimes.md. Statistics: SGLang returns sampled and top-k
logprobs, never the full distribution, so ``entropy`` and ``kl_uniform`` stay ``None`` and
self-certainty is either the top-k lower bound or an exact re-score through a runtime that
has full distributions (docs/runtimes.md, "Self-certainty on SGLang").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import httpx
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

from . import native_protocol as protocol
from .tokenizer_files import LocalTokenizer, config_vocab_size, local_folder
from .transport import JsonTransport

logger = logging.getLogger(__name__)

CAPABILITIES = frozenset({
    Capability.SAMPLES, Capability.LOGPROBS, Capability.TOP_LOGPROBS, Capability.SCORE,
    Capability.TOKEN_IDS_LOGPROB, Capability.PREFIX_CACHE, Capability.CONSTRAINED,
    Capability.CANCEL, Capability.SEED,
})
"""No FULL_DISTRIBUTION: the protocol carries top-k logprobs only. CANCEL: closing the
connection makes SGLang (and ``ttc serve``) abort the request."""
FIRST_TOKEN_KEY = "ttc_first_token_latency"
"""Where a streamed output carries its time to first token until it becomes a Completion."""


class SGLangOptions(RuntimeOptions):
    url: str = "http://127.0.0.1:30000"
    """The server, or the router in front of many servers."""
    tokenizer: str | None = None
    """A local folder with the model's tokenizer (for ``render``); default: the server's
    ``tokenizer_path`` when that folder exists on this machine."""
    samples: Literal["auto", "batch", "n"] = "auto"
    """How the n samples of a prompt travel. ``batch``: n repeated texts in one request,
    sample i seeded from (seed, i) (SGLang's preference; its ``n > 1`` copies share one
    seed). ``n``: one text with ``n``, for servers that derive per-sample seeds themselves
    (``ttc serve``: samples then equal the in-process local runtime's). ``auto``: ``n`` when
    the server says it is ``ttc serve``, else ``batch``."""
    timeout_s: float = Field(600.0, gt=0)
    """Longest wait for one HTTP answer."""
    connect_timeout_s: float = Field(10.0, gt=0)
    max_connections: int = Field(64, ge=1)
    one_text_per_request: bool | None = None
    """Send each text as its own request (concurrently) instead of one batch request.
    None: only when the URL is an ``sglang-router``, whose ``/generate`` takes one text."""
    api_key: SecretStr | None = None
    """Sent as a bearer token (SGLang's and the router's ``--api-key``); never logged or
    stored."""
    vocab_size: int | None = Field(None, ge=2)
    """The logits' width, for the self-certainty lower bound; default: from the server's
    ``/model_info`` or the tokenizer folder's config.json."""
    stream: bool = False
    """Ask for generations as a stream (``stream: true``) and record each sample's time to
    its first token (``Completion.first_token_latency``, kept in the run store). The
    samples are the same as without it."""

    retired = MappingProxyType({
        "retries": RETRIES_MOVED, "retry_backoff_s": RETRIES_MOVED})


class SGLangRuntime:
    """SGLang's ``/generate`` over HTTP, with the n samples of a prompt in one request."""

    name: ClassVar[str] = "sglang"
    Options: ClassVar[type[RuntimeOptions]] = SGLangOptions

    def __init__(self, model: str, options: SGLangOptions, info: dict[str, Any],
                 is_router: bool = False) -> None:
        self.options = options
        self.info = info
        self.is_router = is_router
        self.one_text_per_request = (
            is_router if options.one_text_per_request is None else options.one_text_per_request)
        self.model = model or str(info.get("served_model_name") or info.get("model_path") or "")
        self.model_path = str(info.get("model_path") or self.model)
        self.tokenizer_path = options.tokenizer or str(info.get("tokenizer_path") or "")
        reported = info.get("capabilities")
        self.capabilities = (
            CAPABILITIES & frozenset(Capability(c) for c in reported if c in set(Capability))
            | {Capability.CANCEL, Capability.SAMPLES}
            if isinstance(reported, list) else CAPABILITIES
        )
        self.is_ttc_server = "runtime" in info
        self.samples_layout = options.samples
        if self.samples_layout == "auto":
            self.samples_layout = "n" if self.is_ttc_server else "batch"
        folder = local_folder(options.tokenizer) or local_folder(info.get("tokenizer_path"))
        if options.tokenizer and folder is None:
            raise RequestError(f"sglang runtime: tokenizer {options.tokenizer!r} is not a "
                               "local folder")
        self.tokenizer = LocalTokenizer(folder)
        vocab = options.vocab_size or info.get("vocab_size") or config_vocab_size(folder)
        self.vocab_size: int | None = int(vocab) if vocab else None
        context = info.get("context_length")
        self.context_length: int | None = int(context) if context else None
        headers = {}
        if options.api_key is not None:
            headers["Authorization"] = f"Bearer {options.api_key.get_secret_value()}"
        self.transport = JsonTransport(
            options.url, timeout_s=options.timeout_s,
            connect_timeout_s=options.connect_timeout_s,
            max_connections=options.max_connections,
            headers=headers,
        )

    @classmethod
    def static_capabilities(cls, options: RuntimeOptions) -> frozenset[Capability]:
        return CAPABILITIES

    @classmethod
    def create(cls, model: str, options: RuntimeOptions) -> SGLangRuntime:
        """Asks the server what it serves (``/model_info``), once, before the run starts."""
        sglang = options if isinstance(options, SGLangOptions) else SGLangOptions.model_validate(
            options.model_dump())
        info, is_router = probe_server(sglang)
        return cls(model, sglang, info, is_router)

    # --- Runtime protocol ----------------------------------------------------------------

    async def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True
                     ) -> str:
        return await asyncio.to_thread(
            self.tokenizer.render, [dict(m) for m in messages], add_generation_prompt)

    async def tokenize(self, text: str) -> list[int]:
        return await asyncio.to_thread(self.tokenizer.encode, text)

    async def generate(self, request: GenerateRequest) -> list[Completion]:
        if request.n < 1:
            raise RequestError(f"n must be at least 1, got {request.n}")
        if self.samples_layout == "n":
            body = protocol.n_body(request)
        else:
            body = protocol.batch_body(request)
        answer = await self._post_generate(body, stream=self.options.stream)
        outs = protocol.outputs(answer, request.n)
        completions = [protocol.completion(o) for o in outs]
        if not self.options.stream:
            return completions
        return [dataclasses.replace(c, first_token_latency=o.get(FIRST_TOKEN_KEY))
                for c, o in zip(completions, outs, strict=True)]

    async def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        """One prefill-only batch; prompt lengths from the local tokenizer when there is
        one, else from a prefill of the prompts alone (which also warms the prefix cache)."""
        if not requests:
            return []
        if any(not r.prompt for r in requests):
            raise RequestError("score: the prompt is empty (it needs at least one token)")
        lengths = await self._prompt_lengths([r.prompt for r in requests])
        answer = await self._post_generate(protocol.score_body(requests, lengths))
        outs = protocol.outputs(answer, len(requests))
        return [protocol.score_result(o, r) for o, r in zip(outs, requests, strict=True)]

    async def flush_cache(self) -> None:
        """Empty the server's prefix cache (between benchmark arms)."""
        client = httpx.AsyncClient(timeout=self.options.connect_timeout_s + 30)
        async with client:
            response = await client.post(self.options.url.rstrip("/") + "/flush_cache")
            if response.status_code >= 400:
                raise RuntimeCallError(f"flush_cache answered {response.status_code}")

    async def aclose(self) -> None:
        await self.transport.aclose()

    # --- helpers -------------------------------------------------------------------------

    async def _post_generate(self, body: dict[str, Any], *, stream: bool = False) -> Any:
        """One request, or one per text sent together (the first failure cancels the rest,
        so a failed call costs no more than its slowest text)."""
        post = self._post_streamed if stream else self.transport.post
        if not self.one_text_per_request or isinstance(body["text"], str):
            return await post("/generate", body)
        bodies = protocol.split_texts(body)
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(post("/generate", b)) for b in bodies]
        except ExceptionGroup as errors:
            raise errors.exceptions[0] from None
        return [task.result() for task in tasks]

    async def _post_streamed(self, path: str, body: dict[str, Any]) -> Any:
        """A streamed ``/generate``: the last chunk of every output (SGLang's chunks are
        cumulative), in index order, each with its time to first token."""
        started = time.perf_counter()
        last: dict[int, dict[str, Any]] = {}
        first: dict[int, float] = {}

        def on_event(event: Any) -> None:
            if not isinstance(event, dict):
                raise RuntimeCallError(f"/generate streamed {type(event).__name__}, not an "
                                       "output", retryable=True)
            index = int(event.get("index", 0))
            last[index] = event
            if index not in first and event.get("output_ids"):
                first[index] = time.perf_counter() - started

        await self.transport.post_stream(path, {**body, "stream": True}, on_event)
        outputs = [{**last[index], FIRST_TOKEN_KEY: first.get(index)} for index in sorted(last)]
        if isinstance(body["text"], str) and len(outputs) == 1:
            return outputs[0]  # the shape of a plain answer: one object for one output
        return outputs

    async def _prompt_lengths(self, prompts: list[str]) -> list[int]:
        if self.tokenizer.available:
            return [len(await self.tokenize(p)) for p in prompts]
        body = {"text": prompts, "sampling_params": [{"max_new_tokens": 0}] * len(prompts)}
        answer = await self._post_generate(body)
        return [int(o["meta_info"]["prompt_tokens"])
                for o in protocol.outputs(answer, len(prompts))]


def probe_server(options: SGLangOptions) -> tuple[dict[str, Any], bool]:
    """``/model_info`` (``/get_model_info`` on older servers and the router, which answers
    for its workers) and whether the URL is a router (its ``/get_server_info`` says
    ``router_manager``); a clear error naming the URL when nothing answers."""
    headers = {}
    if options.api_key is not None:
        headers["Authorization"] = f"Bearer {options.api_key.get_secret_value()}"
    base = options.url.rstrip("/")
    problems = []
    timeout = httpx.Timeout(min(options.timeout_s, 30.0), connect=options.connect_timeout_s)
    with httpx.Client(timeout=timeout, headers=headers) as client:
        for path in ("/model_info", "/get_model_info"):
            try:
                response = client.get(base + path)
            except httpx.HTTPError as error:
                problems.append(f"{path}: {type(error).__name__}: {error}")
                continue
            if response.status_code == 200:
                try:
                    info = response.json()
                except ValueError:
                    problems.append(f"{path}: not JSON")
                    continue
                if isinstance(info, dict):
                    return info, _is_router(client, base)
            problems.append(f"{path}: HTTP {response.status_code}")
    raise RuntimeCallError(
        f"sglang runtime: no SGLang server answers at {base} ({'; '.join(problems)}); start "
        "one (`ttc serve`, `python -m sglang.launch_server`) or fix options.url",
        retryable=True)


def _is_router(client: httpx.Client, base: str) -> bool:
    try:
        info = client.get(base + "/get_server_info").json()
    except (httpx.HTTPError, ValueError):
        return False
    return isinstance(info, dict) and ("router_manager" in info or "workers_count" in info)
