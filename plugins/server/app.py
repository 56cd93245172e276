"""The FastAPI app of ``ttc serve``: SGLang's native endpoints and an OpenAI-compatible API.

Every model-calling endpoint reads the raw body itself (``json_body``: size, nesting and
lone surrogates are checked, so a malformed body is a clear 4xx, not a framework error),
runs the runtime calls as a task, and cancels that task when the client disconnects, which
aborts the runtime call wherever it is (the Runtime protocol's cancellation contract).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from importlib import metadata
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ttc.plugins.server import openai_protocol as openai
from ttc.plugins.server import openai_stream, sglang_stream
from ttc.plugins.server import sglang_protocol as sglang
from ttc.plugins.server.errors import ApiError, error_response, from_runtime_error
from ttc.plugins.server.generation import (
    GenerationItem,
    ItemResult,
    attach_token_texts,
    run_item,
    run_items,
)
from ttc.plugins.server.json_body import read_json
from ttc.plugins.server.recipe_models import RecipeModels
from ttc.plugins.server.served_runtime import ServedRuntime, ServerLimits
from ttc.plugins.server.streaming import EventStream, json_text, started_stream
from ttc.runtime import RuntimeCallError

if TYPE_CHECKING:
    from ttc import Pipeline

logger = logging.getLogger(__name__)

HEALTH_GENERATE_TIMEOUT_S = 20.0


def create_app(
    runtime: Any,
    *,
    served_model_name: str | None = None,
    limits: ServerLimits | None = None,
    server_args: dict[str, Any] | None = None,
    close_runtime: bool = False,
    recipes: Sequence[Pipeline] = (),
) -> FastAPI:
    """An app serving ``runtime`` (any ``ttc.Runtime``); ``server_args`` go to /server_info.

    ``close_runtime`` closes the runtime when the server shuts down (``ttc serve`` owns its
    runtime; a test that shares one across servers does not). ``recipes`` are served as
    models on ``/v1`` under their names (``recipe_models.py``).
    """
    served = ServedRuntime(runtime, served_model_name=served_model_name, limits=limits)
    recipe_models = RecipeModels(recipes)
    if served.served_model_name in recipe_models:
        raise ValueError(f"a served recipe is named {served.served_model_name!r}, as the "
                         "served model is: rename the recipe or pass served_model_name")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if close_runtime:
            await runtime.aclose()

    app = FastAPI(title="ttc serve", version=_version(), lifespan=lifespan)
    app.state.served = served
    args = dict(server_args or {})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(str(exc.detail), exc.status_code)

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.get("/health_generate")
    async def health_generate() -> Response:
        item = GenerationItem(prompt="Hello", max_new_tokens=1, temperature=0.0)
        try:
            await asyncio.wait_for(run_item(served, item), HEALTH_GENERATE_TIMEOUT_S)
        except Exception:
            logger.exception("health_generate failed")
            return Response(status_code=503)
        return Response(status_code=200)

    @app.get("/model_info")
    @app.get("/get_model_info")
    async def model_info() -> dict[str, Any]:
        return _model_info(served)

    @app.get("/server_info")
    @app.get("/get_server_info")
    async def server_info() -> dict[str, Any]:
        return _server_info(served, args)

    @app.api_route("/flush_cache", methods=["GET", "POST"])
    async def flush_cache() -> Response:
        flushed = await served.flush_cache()
        text = "Cache flushed.\n" if flushed else "This runtime has no prefix cache to flush.\n"
        return PlainTextResponse(text, status_code=200)

    @app.api_route("/generate", methods=["POST", "PUT"])
    async def generate(request: Request) -> Response:
        return await _handle(request, lambda body: _generate(served, body))

    def recipe_or(work: Callable[[Any], Awaitable[Any]], *, chat: bool
                  ) -> Callable[[Any], Awaitable[Any]]:
        """A request for a served recipe's model id runs the recipe; any other, ``work``."""
        def dispatch(body: Any) -> Awaitable[Any]:
            name = body.get("model") if isinstance(body, dict) else None
            if isinstance(name, str) and name in recipe_models:
                return recipe_models.answer(name, body, chat=chat)
            return work(body)

        return dispatch

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await _handle(request, recipe_or(lambda body: _completions(served, body),
                                                chat=False))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await _handle(request, recipe_or(lambda body: _chat(served, body), chat=True))

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return openai.models_response(served, recipe_models.cards())

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str) -> Response:
        for card in openai.models_response(served, recipe_models.cards())["data"]:
            if card["id"] == model_id:
                return _json(card)
        return error_response(f"The model {model_id!r} does not exist.", 404, param="model")

    return app


# --- request handling -----------------------------------------------------------------------


async def _handle(request: Request, work: Callable[[Any], Awaitable[Any]]) -> Response:
    """Body → work → JSON, with every failure turned into one clear error response."""
    try:
        body = await read_json(request)
        result = await _cancel_on_disconnect(request, work(body))
    except ApiError as error:
        return error.response()
    except RuntimeCallError as error:
        api_error = from_runtime_error(error)
        if api_error.status >= 500:
            logger.error("runtime call failed: %s", error)
        return api_error.response()
    except Exception as error:  # a bug must cost one request, never the server
        logger.exception("internal error while serving %s", request.url.path)
        return error_response(f"internal server error: {type(error).__name__}: {error}", 500)
    return _json(result)


async def _cancel_on_disconnect(request: Request, work: Awaitable[Any]) -> Any:
    """Run ``work``; if the client goes away first, cancel it (aborting the runtime call)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            logger.info("client disconnected from %s; request cancelled", request.url.path)
    if task.cancelled():
        raise ApiError("the client disconnected; the request was cancelled")
    return task.result()


async def _wait_for_disconnect(request: Request) -> None:
    """The body is already read, so the next ASGI message is the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _json(content: Any) -> Response:
    """JSON as SGLang's orjson writes it: a non-finite float becomes null, not invalid JSON."""
    if isinstance(content, Response):  # a stream
        return content
    return Response(json_text(content), media_type="application/json")


# --- endpoints ------------------------------------------------------------------------------


async def _generate(served: ServedRuntime, body: Any) -> Any:
    started = time.perf_counter()
    request = sglang.parse_generate(body)
    normalized = await sglang.normalize(request, served)
    if request.stream:
        updates = await started_stream(served, normalized.items)
        return EventStream(sglang_stream.chunks(normalized, updates, served, started))
    results = await run_items(served, normalized.items)
    results = await _with_texts(served, results, any(o.return_text for o in normalized.logprobs))
    return sglang.build_response(normalized, results, served, started)


async def _completions(served: ServedRuntime, body: Any) -> Any:
    request = openai.parse(openai.CompletionRequest, body)
    items = await openai.completion_items(request, served)
    if request.stream:
        updates = await started_stream(served, items)
        echo = [item.prompt for item in items] if request.echo else None
        return EventStream(openai_stream.chunks(request, items, updates, served, chat=False,
                                                echo=echo))
    results = await run_items(served, items)
    results = await _with_texts(served, results, request.logprobs is not None)
    return openai.completion_response(request, results, served)


async def _chat(served: ServedRuntime, body: Any) -> Any:
    request = openai.parse(openai.ChatCompletionRequest, body)
    item = await openai.chat_item(request, served)
    if request.stream:
        updates = await started_stream(served, [item])
        return EventStream(openai_stream.chunks(request, [item], updates, served, chat=True))
    (result,) = await _with_texts(served, [await run_item(served, item)], bool(request.logprobs))
    return openai.chat_response(request, result, served)


async def _with_texts(
    served: ServedRuntime, results: list[ItemResult], wanted: bool
) -> list[ItemResult]:
    if not wanted or not served.can_detokenize:
        return results
    return [await attach_token_texts(served, result) for result in results]


def _model_info(served: ServedRuntime) -> dict[str, Any]:
    """SGLang's ``/model_info`` keys (``model_path``, ``tokenizer_path``, ``is_generation``)."""
    return {
        "model_path": served.model_path,
        "tokenizer_path": served.tokenizer_path,
        "is_generation": True,
        "preferred_sampling_params": None,
        "weight_version": "default",
        "served_model_name": served.served_model_name,
        "context_length": served.context_length,
        "vocab_size": served.vocab_size,
        "runtime": served.runtime.name,
        "capabilities": sorted(str(c) for c in served.runtime.capabilities),
    }


def _server_info(served: ServedRuntime, args: dict[str, Any]) -> dict[str, Any]:
    """What sglang-router reads at registration (``model_path``, ``dp_size``, ``max_*``)."""
    context = served.context_length
    limits = served.limits
    return {
        "model_path": served.model_path,
        "tokenizer_path": served.tokenizer_path,
        "served_model_name": served.served_model_name,
        "dp_size": 1,
        "tp_size": 1,
        "context_length": context,
        "max_total_tokens": context,
        "max_total_num_tokens": served.max_total_tokens,
        "max_prefill_tokens": context,
        "max_running_requests": limits.max_batch * limits.max_n,
        "max_req_input_len": context - 1 if context else None,
        "version": _version(),
        "runtime": served.runtime.name,
        "internal_states": [{"runtime": served.runtime.name}],
        **args,
    }


def _version() -> str:
    try:
        return metadata.version("ttc-orchestrator")
    except metadata.PackageNotFoundError:
        return "0+unknown"
