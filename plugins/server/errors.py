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
    body = {"error": {"message": _printable(message), "type": kind,
                      "param": None if param is None else _printable(param), "code": status}}
    return JSONResponse(body, status_code=status)


def _printable(text: str) -> str:
    """Text that UTF-8 can encode: a message may quote a lone surrogate from the request."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def from_runtime_error(error: RuntimeCallError) -> ApiError:
    """RequestError is the caller's fault (400); other failures are ours, 503 if retrying helps."""
    if isinstance(error, RequestError):
        return ApiError(str(error), 400)
    return ApiError(f"model call failed: {error}", 503 if error.retryable else 500)


def from_validation_error(error: ValidationError, prefix: str = "") -> ApiError:
    """One readable line per problem: ``sampling_params.n: Input should be a valid integer``.

    Pydantic names the member of a union it tried (``text.list[str].0``); the field path
    keeps only field names and list positions, and identical lines are said once.
    """
    problems: list[str] = []
    fields: list[str] = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"] if not _is_union_tag(part))
        where = f"{prefix}{where}" if where else prefix.rstrip(".") or "body"
        line = f"{where}: {item['msg']}"
        if line not in problems:
            problems.append(line)
            fields.append(where)
    shown = problems[:5] + ([f"and {len(problems) - 5} more"] if len(problems) > 5 else [])
    return ApiError("invalid request: " + "; ".join(shown), param=fields[0] if fields else None)


def _is_union_tag(part: str | int) -> bool:
    """``str``, ``list[int]``, ``function-after[...]``: pydantic's names for union members
    and validators, not fields of the request."""
    return isinstance(part, str) and (part in _TYPE_NAMES or "[" in part)


_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "function-after"})
