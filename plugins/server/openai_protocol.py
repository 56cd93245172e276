"""The OpenAI-compatible ``/v1`` API: requests, their translation, the responses.

Shapes follow OpenAI's API and SGLang's implementation of it
(``python/sglang/srt/entrypoints/openai/protocol.py``, ``serving_chat.py``,
``serving_completions.py``, ``usage_processor.py``): choices ordered prompt-major (index =
prompt * n + sample), ``matched_stop`` on each choice, and usage counting each prompt once,
cached prompt tokens included, in ``prompt_tokens_details.cached_tokens``. SGLang's extra
sampling fields ``top_k`` and ``min_p`` are accepted too.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ttc.plugins.server.errors import ApiError, from_validation_error
from ttc.plugins.server.generation import (
    GenerationItem,
    ItemResult,
    check_context,
    check_prompt_chars,
    check_token_ids,
    matched_stop,
    remaining_context,
)
from ttc.plugins.server.openai_logprobs import chat_logprobs, echo_logprobs, legacy_logprobs
from ttc.plugins.server.sampling_controls import NEUTRAL as CONTROLS
from ttc.plugins.server.sampling_controls import check_grammar, token_controls
from ttc.plugins.server.served_runtime import ServedRuntime
from ttc.runtime import Capability
from ttc.token_controls import TokenControls


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    include_usage: bool | None = False
    continuous_usage_stats: bool | None = False


class SamplingFields(BaseModel):
    """What chat and completions requests share. Strict types: a number is never read from a
    string, nor an integer from a boolean (``n: "5"`` and ``n: true`` are errors)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    model: str | None = None
    n: int | None = 1
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    presence_penalty: float | None = 0.0
    frequency_penalty: float | None = 0.0
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    # SGLang's extra sampling fields (``sampling_controls``).
    ignore_eos: bool | None = False
    min_tokens: int | None = 0
    stop_token_ids: list[int] | None = None
    repetition_penalty: float | None = 1.0
    no_stop_trim: bool | None = False
    skip_special_tokens: bool | None = True
    # Extras other servers take that ttc has not: refused, never ignored.
    regex: str | None = None
    ebnf: str | None = None
    json_schema: str | None = None
    stop_regex: str | list[str] | None = None
    structural_tag: str | None = None
    guided_json: Any = None
    guided_regex: str | None = None
    guided_choice: list[str] | None = None
    guided_grammar: str | None = None
    lora_path: Any = None


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = 16
    logprobs: int | None = None
    echo: bool | None = False
    best_of: int | None = None
    suffix: str | None = None


class TextPart(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    logprobs: bool | None = False
    top_logprobs: int | None = None
    tools: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None


def parse(model: type[SamplingFields], body: Any) -> Any:
    if not isinstance(body, dict):
        raise ApiError("the request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise from_validation_error(error) from None


UNSUPPORTED = ("stop_regex", "structural_tag", "guided_json", "guided_regex", "guided_choice",
               "guided_grammar", "lora_path")
CONTROL_NAMES = {**{name: name for name in CONTROLS}, "min_new_tokens": "min_tokens"}


def _sampling_item(
    request: SamplingFields, prompt: str, max_tokens: int, top_logprobs: int, served: ServedRuntime,
    *, prompt_ids: tuple[int, ...] | None = None, prompt_only_allowed: bool = False,
    prompt_logprobs: bool = False,
) -> GenerationItem:
    options = request.stream_options
    if options is not None and not request.stream:
        raise ApiError("stream_options needs stream: true", param="stream_options")
    if options is not None and options.continuous_usage_stats:
        raise ApiError("stream_options.continuous_usage_stats is not supported by this server; "
                       "include_usage gives the usage in the last chunk",
                       param="stream_options.continuous_usage_stats")
    for name in UNSUPPORTED:
        if getattr(request, name) not in (None, "", [], {}):
            raise ApiError(f"{name} is not supported by this server (runtime "
                           f"{served.runtime.name!r})", param=name)
    n = 1 if request.n is None else request.n
    limit = served.limits.max_n
    if not 1 <= n <= limit:
        raise ApiError(f"n must be between 1 and {limit}, got {n}", param="n")
    temperature = 1.0 if request.temperature is None else request.temperature
    if not math.isfinite(temperature) or not 0.0 <= temperature <= 2.0:
        raise ApiError(f"temperature must be in [0, 2], got {temperature}", param="temperature")
    top_p = 1.0 if request.top_p is None else request.top_p
    if not 0.0 < top_p <= 1.0:
        raise ApiError(f"top_p must be in (0, 1], got {top_p}", param="top_p")
    top_k = -1 if request.top_k is None else request.top_k
    if top_k < 1 and top_k != -1:
        raise ApiError(f"top_k must be -1 (disable) or at least 1, got {top_k}", param="top_k")
    min_p = 0.0 if request.min_p is None else request.min_p
    if not 0.0 <= min_p <= 1.0:
        raise ApiError(f"min_p must be in [0, 1], got {min_p}", param="min_p")
    if max_tokens < (0 if prompt_only_allowed else 1):
        raise ApiError(f"max_tokens must be at least {0 if prompt_only_allowed else 1}, got "
                       f"{max_tokens}", param="max_tokens")
    stops = (request.stop,) if isinstance(request.stop, str) else tuple(request.stop or ())
    if len(stops) > min(4, served.limits.max_stop):
        raise ApiError("stop holds at most 4 sequences", param="stop")
    if top_logprobs and Capability.TOP_LOGPROBS not in served.runtime.capabilities:
        raise ApiError(f"runtime {served.runtime.name!r} cannot return top logprobs",
                       param="logprobs")
    values = request.model_dump(include=set(CONTROLS) - {"min_new_tokens"})
    values["min_new_tokens"] = request.min_tokens
    controls = token_controls(served, values, max_new_tokens=max_tokens, names=CONTROL_NAMES)
    if prompt_ids is not None:
        controls = replace(controls or TokenControls(), prompt_ids=prompt_ids)
    grammar = {"regex": request.regex, "json_schema": request.json_schema,
               "ebnf": request.ebnf}
    names = {name: name for name in grammar}
    schema = _response_schema(request)
    if schema is not None:
        if grammar["json_schema"]:
            raise ApiError("response_format and json_schema both constrain the reply; send one",
                           param="response_format")
        grammar["json_schema"], names["json_schema"] = schema, "response_format"
    check_grammar(served, grammar, names)
    if grammar["ebnf"]:
        controls = replace(controls or TokenControls(), ebnf=grammar["ebnf"])
    return GenerationItem(
        prompt=prompt,
        n=n,
        max_new_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=0 if top_k == -1 else top_k,
        min_p=min_p,
        stop=tuple(s for s in stops if s),
        seed=request.seed,
        top_logprobs=top_logprobs,
        prompt_logprobs=prompt_logprobs,
        controls=controls,
        regex=grammar["regex"],
        json_schema=grammar["json_schema"],
    )


def _response_schema(request: SamplingFields) -> str | None:
    """OpenAI's ``response_format`` as a JSON schema: ``json_schema`` (its ``schema``),
    ``json_object`` (any object), ``text`` (None: no constraint)."""
    form: dict[str, Any] = getattr(request, "response_format", None) or {}
    kind = form.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return json.dumps({"type": "object"})
    if kind == "json_schema":
        spec = form.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise ApiError("response_format.json_schema.schema must be a JSON schema object",
                           param="response_format")
        return json.dumps(schema)
    raise ApiError(f"response_format type {kind!r} is not supported (text, json_object, "
                   "json_schema)", param="response_format")


# --- /v1/completions ------------------------------------------------------------------------


async def completion_items(
    request: CompletionRequest, served: ServedRuntime
) -> list[GenerationItem]:
    echo = bool(request.echo)
    if echo and request.logprobs is not None and Capability.SCORE not in (
            served.runtime.capabilities):
        raise ApiError(f"runtime {served.runtime.name!r} cannot score prompts, so echo cannot "
                       "return prompt logprobs", param="echo")
    if request.suffix:
        raise ApiError("suffix is not supported by this server", param="suffix")
    if request.best_of not in (None, 1, request.n):
        raise ApiError("best_of is not supported by this server", param="best_of")
    logprobs = request.logprobs or 0
    if not 0 <= logprobs <= min(20, served.limits.max_top_logprobs):
        raise ApiError(f"logprobs must be in [0, 20], got {logprobs}", param="logprobs")
    prompts = await _completion_prompts(request.prompt, served, echo)
    max_tokens = request.max_tokens
    if max_tokens is None:
        max_tokens = remaining_context(served, served.limits.default_max_new_tokens)
    return [_sampling_item(request, text, max_tokens, logprobs, served, prompt_ids=ids,
                           prompt_only_allowed=echo,
                           prompt_logprobs=echo and request.logprobs is not None)
            for text, ids in prompts]


async def _completion_prompts(prompt: Any, served: ServedRuntime, echo: bool
                              ) -> list[tuple[str, tuple[int, ...] | None]]:
    """Each prompt's text and the token ids to use exactly. Token-id prompts are checked
    as ``/generate`` checks ``input_ids`` (an id outside the vocabulary is an error, never
    dropped) and used as sent on a runtime with token controls (their text only for
    ``echo``); another runtime gets their text."""
    if isinstance(prompt, str):
        prompt = [prompt]
    if not prompt:
        raise ApiError("prompt cannot be empty", param="prompt")
    batch = [prompt] if isinstance(prompt[0], int) else prompt
    if len(batch) > served.limits.max_batch:
        raise ApiError(f"at most {served.limits.max_batch} prompts per request", param="prompt")
    if isinstance(prompt[0], str):
        for text in prompt:
            check_prompt_chars(served, len(text), "prompt")
        return [(text, None) for text in prompt]
    token_lists = batch
    if not served.can_detokenize and not served.can_control:
        raise ApiError(
            f"token-id prompts need a runtime with token controls or one that can "
            f"detokenize; runtime {served.runtime.name!r} has neither: send text",
            param="prompt",
        )
    for ids in token_lists:
        if not ids:
            raise ApiError("prompt cannot hold an empty token list", param="prompt")
        check_token_ids(served, ids, "prompt")
        check_context(served, len(ids), 0)
    out: list[tuple[str, tuple[int, ...] | None]] = []
    for ids in token_lists:
        exact = served.can_control
        text = await served.detokenize(ids) if served.can_detokenize and (
            echo or not exact) else ""
        out.append((text, tuple(ids) if exact else None))
    return out


def completion_response(
    request: CompletionRequest, results: Sequence[ItemResult], served: ServedRuntime
) -> dict[str, Any]:
    choices: list[dict[str, Any]] = []
    for result in results:
        for completion in result.completions:
            logprobs = None
            if request.logprobs is not None and request.echo:
                logprobs = echo_logprobs(result, completion, request.logprobs)
            elif request.logprobs is not None:
                logprobs = legacy_logprobs(completion, result.token_texts, request.logprobs)
            choices.append(
                {
                    "index": len(choices),
                    "text": (result.item.prompt if request.echo else "") + completion.text,
                    "logprobs": logprobs,
                    "finish_reason": completion.finish_reason,
                    "matched_stop": matched_stop(completion, served),
                }
            )
    return {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": request.model or served.served_model_name,
        "choices": choices,
        "usage": usage(results),
    }


# --- /v1/chat/completions -------------------------------------------------------------------


async def chat_item(request: ChatCompletionRequest, served: ServedRuntime) -> GenerationItem:
    if not request.messages:
        raise ApiError("messages cannot be empty", param="messages")
    if request.tools:
        raise ApiError("tools are not supported by this server", param="tools")
    top = request.top_logprobs or 0
    if not 0 <= top <= 20:
        raise ApiError(f"top_logprobs must be in [0, 20], got {top}", param="top_logprobs")
    if top and not request.logprobs:
        raise ApiError("top_logprobs needs logprobs: true", param="top_logprobs")
    messages = [{"role": m.role, "content": message_text(m)} for m in request.messages]
    # The rendered prompt holds every content: too much content is refused before rendering.
    check_prompt_chars(served, sum(len(m["content"]) for m in messages), "messages")
    prompt = await served.runtime.render(messages, add_generation_prompt=True)
    max_tokens = request.max_completion_tokens or request.max_tokens
    if max_tokens is None:
        max_tokens = remaining_context(served, served.limits.default_max_new_tokens)
    return _sampling_item(request, prompt, max_tokens, top, served)


def message_text(message: ChatMessage) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "".join(part.text for part in message.content)


def chat_response(
    request: ChatCompletionRequest, result: ItemResult, served: ServedRuntime
) -> dict[str, Any]:
    choices = []
    for index, completion in enumerate(result.completions):
        logprobs = None
        if request.logprobs:
            logprobs = {"content": chat_logprobs(completion, result.token_texts)}
        choices.append(
            {
                "index": index,
                "message": {"role": "assistant", "content": completion.text},
                "logprobs": logprobs,
                "finish_reason": completion.finish_reason,
                "matched_stop": matched_stop(completion, served),
            }
        )
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model or served.served_model_name,
        "choices": choices,
        "usage": usage([result]),
    }


# --- shared ---------------------------------------------------------------------------------


def usage(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Each prompt counted once (its first sample), as SGLang's ``UsageProcessor`` does."""
    prompt = sum(r.completions[0].prompt_tokens for r in results if r.completions)
    cached = sum(r.completions[0].cached_tokens for r in results if r.completions)
    completion = sum(c.completion_tokens for r in results for c in r.completions)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def models_response(served: ServedRuntime, extra: Sequence[dict[str, Any]] = ()
                    ) -> dict[str, Any]:
    """The served model's card, then ``extra`` cards (recipes served as models)."""
    card = {
        "id": served.served_model_name,
        "object": "model",
        "created": int(time.time()),
        "owned_by": "ttc",
        "root": served.model_path,
        "max_model_len": served.context_length,
    }
    return {"object": "list", "data": [card, *extra]}
