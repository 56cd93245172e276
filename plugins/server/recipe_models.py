"""Recipes served as models: ``ttc serve --recipe PATH`` answers ``/v1/chat/completions`` and
``/v1/completions`` for the model id ``name`` (the recipe's ``name:``) by running the recipe.

Each request is one run of the recipe (recorded in the run store like ``ttc run``'s; its id
is in the ``x-ttc-run-id`` header), its task the chat messages or the completion prompt, its
seed the request's ``seed``. The answer is the run's answer (the final selector's, else the
winner's text); ``usage`` counts every token the run spent, over every model call of every
stage (``Ledger.total``: prompt tokens once per call, cached ones among them, completion
tokens of every sample). The recipe sets its own sampling, so a request that sets a sampling
field (``temperature``, ``max_tokens``, ``n`` > 1, ``logprobs``, …) is refused with a 400
naming it, never ignored. ``stream: true`` sends the finished answer as chunks (the run is
done before the first one, so a failed run is still an HTTP error).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import Response

from ttc import Pipeline, RunResult, Task
from ttc.plugins.server import openai_protocol as openai
from ttc.plugins.server.errors import ApiError, error_response
from ttc.plugins.server.streaming import DONE, EventStream, json_text, sse

RUN_ID_HEADER = "x-ttc-run-id"
ALLOWED = frozenset({"model", "messages", "prompt", "stream", "stream_options", "seed", "user",
                     "n"})


class RecipeModels:
    """The served recipes by model id."""

    def __init__(self, pipelines: Sequence[Pipeline]) -> None:
        self.pipelines: dict[str, Pipeline] = {}
        for pipeline in pipelines:
            name = pipeline.plan.name
            if name in self.pipelines:
                raise ValueError(f"two served recipes are named {name!r}: model ids must "
                                 "differ (rename one recipe's name:)")
            self.pipelines[name] = pipeline

    def __contains__(self, name: object) -> bool:
        return name in self.pipelines

    def cards(self) -> list[dict[str, Any]]:
        return [{"id": name, "object": "model", "created": int(time.time()),
                 "owned_by": "ttc", "root": pipeline.plan.source or name,
                 "ttc_recipe": True} for name, pipeline in self.pipelines.items()]

    async def answer(self, name: str, body: dict[str, Any], *, chat: bool) -> Response:
        """Run the recipe for one request and answer in OpenAI's shape."""
        model = openai.ChatCompletionRequest if chat else openai.CompletionRequest
        request = openai.parse(model, body)
        _refuse_sampling(request, name)
        task = _task(request, chat)
        run_id = "r-" + uuid.uuid4().hex[:16]
        result = await self.pipelines[name].arun(task, seed=request.seed, run_id=run_id)
        headers = {RUN_ID_HEADER: result.run_id}
        if not result.ok:
            response = error_response(f"the run {result.run_id} of recipe {name!r} failed: "
                                      f"{result.error}", 500)
            response.headers[RUN_ID_HEADER] = result.run_id
            return response
        content = _answer_text(result)
        finish = "length" if result.status == "budget_exhausted" else "stop"
        usage = _usage(result)
        created, kind = int(time.time()), "chatcmpl" if chat else "cmpl"
        head = {"id": f"{kind}-{uuid.uuid4().hex}", "created": created, "model": name}
        if request.stream:
            options = request.stream_options
            include_usage = bool(options and options.include_usage)
            return EventStream(_chunks(head, content, finish, usage, chat, include_usage),
                               headers=headers)
        if chat:
            choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant",
                                                              "content": content}}
        else:
            choice = {"index": 0, "text": content}
        choice.update({"logprobs": None, "finish_reason": finish})
        out = {**head, "object": "chat.completion" if chat else "text_completion",
               "choices": [choice], "usage": usage}
        return Response(json_text(out), media_type="application/json", headers=headers)


def _refuse_sampling(request: openai.SamplingFields, name: str) -> None:
    defaults = type(request).model_fields
    for field in sorted(request.model_fields_set - ALLOWED):
        value = getattr(request, field)
        if value != defaults[field].default and value not in (None, [], {}):
            raise ApiError(f"{field} does not apply to the recipe model {name!r}: the recipe "
                           "sets its own sampling; leave it out", param=field)
    if request.n not in (None, 1):
        raise ApiError(f"the recipe model {name!r} answers n=1 (one run per request)",
                       param="n")


def _task(request: openai.SamplingFields, chat: bool) -> Task:
    if chat:
        assert isinstance(request, openai.ChatCompletionRequest)
        if not request.messages:
            raise ApiError("messages cannot be empty", param="messages")
        messages = [{"role": m.role, "content": openai.message_text(m)}
                    for m in request.messages]
        return Task.of({"messages": messages})
    assert isinstance(request, openai.CompletionRequest)
    prompt = request.prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise ApiError("a recipe model takes one text prompt", param="prompt")
    return Task(prompt=prompt)


def _answer_text(result: RunResult) -> str:
    if result.answer is not None:
        return result.answer
    return result.winner.text if result.winner is not None else ""


def _usage(result: RunResult) -> dict[str, Any]:
    total = result.ledger.total
    return {"prompt_tokens": total.prompt_tokens, "completion_tokens": total.completion_tokens,
            "total_tokens": total.total_tokens,
            "prompt_tokens_details": {"cached_tokens": total.cached_tokens}}


async def _chunks(head: dict[str, Any], content: str, finish: str, usage: dict[str, Any],
                  chat: bool, include_usage: bool) -> AsyncIterator[bytes]:
    kind = "chat.completion.chunk" if chat else "text_completion"
    extra = {"usage": None} if include_usage else {}

    def choice(text: str | None, reason: str | None) -> dict[str, Any]:
        if chat:
            delta: dict[str, Any] = {} if text is None else {"content": text}
            if text == "":
                delta["role"] = "assistant"
            part: dict[str, Any] = {"index": 0, "delta": delta}
        else:
            part = {"index": 0, "text": text or ""}
        return {**part, "logprobs": None, "finish_reason": reason}

    if chat:
        yield sse({**head, "object": kind, "choices": [choice("", None)], **extra})
    yield sse({**head, "object": kind, "choices": [choice(content, None)], **extra})
    yield sse({**head, "object": kind, "choices": [choice(None, finish)], **extra})
    if include_usage:
        yield sse({**head, "object": kind, "choices": [], "usage": usage})
    yield DONE
