"""HTTP errors of ``ttc serve``, in the envelope SGLang and OpenAI clients both read.

SGLang's ``/generate`` answers a bad request with ``{"error": {"message": ...}}`` and status
400 (``python/sglang/srt/entrypoints/http_server.py``, ``_create_error_response``); OpenAI
adds ``type``, ``param`` and ``code`` inside the same ``error`` object. One envelope with all
four keys satisfies both kinds of client.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ttc.runtime import RequestError, RuntimeCallError


class ApiError(Exception):
    """A request the server answers with an error status instead of a result."""

    def __init__(self, message: str, status: int = 400, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param

    def response(self) -> JSONResponse:
        return error_response(self.message, self.status, param=self.param)


def error_response(message: str, status: int = 400, *, param: str | None = None) -> JSONResponse:
    kind = {400: "BadRequestError", 404: "NotFoundError", 503: "ServiceUnavailableError"}.get(
        status, "InternalServerError" if status >= 500 else HTTPStatus(status).phrase
    )
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return JSONResponse(body, status_code=status)


def from_runtime_error(error: RuntimeCallError) -> ApiError:
    """RequestError is the caller's fault (400); other failures are ours, 503 if retrying helps."""
    if isinstance(error, RequestError):
        return ApiError(str(error), 400)
    return ApiError(f"model call failed: {error}", 503 if error.retryable else 500)


def from_validation_error(error: ValidationError, prefix: str = "") -> ApiError:
    """One readable line per problem: ``sampling_params.temperature: Input should be ...``."""
    problems = []
    for item in error.errors(include_url=False)[:5]:
        where = ".".join(str(part) for part in item["loc"] if part not in ("function-after",))
        where = f"{prefix}{where}" if where else prefix.rstrip(".") or "body"
        problems.append(f"{where}: {item['msg']}")
    return ApiError("invalid request: " + "; ".join(problems))
