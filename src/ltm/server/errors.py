"""Errors to HTTP statuses: ``ApiError`` (a status the handlers choose), the JSON error body
(``{"error", "message", "field"?}``), the store-busy retry that ends in 503, and the exception
handlers that map ``ltm.errors`` types, validation errors and Starlette's own errors.

    NotFound 404 | InvalidInput, ScopeError 422 | EmbedderError 503 (embedder failed)
    other LtmError 503 (store unavailable)
    StoreBusy past the retries 503 (Retry-After: 1) | body not JSON 400, not sent as JSON 415
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable, Mapping
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..errors import EmbedderError, InvalidInput, LtmError, NotFound, ScopeError, StoreBusy
from .messages import plain_errors

log = logging.getLogger(__name__)

T = TypeVar("T")


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.field = status, error, message, field


def error_response(status: int, error: str, message: str, field: str | None = None,
           headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = {"error": error, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def retry(fn: Callable[[], T], attempts: int = 4) -> T:
    """Run a store call, retrying when another process holds the SQLite write lock past the
    busy timeout; a persistent lock becomes 503."""
    for n in range(attempts):
        try:
            return fn()
        except StoreBusy:
            if n == attempts - 1:
                raise ApiError(503, "busy", "the store is busy, retry shortly") from None
            _time.sleep(0.05 * 2 ** n)
    raise AssertionError("unreachable")


def install_handlers(app: FastAPI) -> None:
    """Answer every error as the JSON error body with its status."""
    @app.exception_handler(ApiError)
    async def _apierror_response(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return error_response(exc.status, exc.error, exc.message, exc.field, headers)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return error_response(404, "not_found", str(exc))

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return error_response(422, "invalid_input", str(exc), exc.field)

    @app.exception_handler(ScopeError)
    async def _scope(_: Request, exc: ScopeError) -> JSONResponse:
        return error_response(422, "invalid_input", str(exc), "user")

    @app.exception_handler(EmbedderError)
    async def _embedder(_: Request, exc: EmbedderError) -> JSONResponse:
        # the server's embedder, not the request: a custom one's own error, a remote one down
        log.error("embedder error: %s", exc)
        return error_response(503, "embedder_failed", str(exc))

    @app.exception_handler(LtmError)
    async def _ltm(_: Request, exc: LtmError) -> JSONResponse:
        log.error("store error: %s", exc)
        return error_response(503, "store_unavailable", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if errors and errors[0].get("type") == "json_invalid":
            ctx = errors[0].get("ctx") or {}
            pos = errors[0].get("loc", ("body", "?"))[-1]
            return error_response(400, "invalid_json", f"the body is not valid JSON: "
                          f"{ctx.get('error', 'decode error')} at position {pos}")
        if isinstance(exc.body, bytes) and any(tuple(e.get("loc", ())) == ("body",)
                                               for e in errors):
            # FastAPI hands the raw bytes on when the content type is not JSON
            ctype = request.headers.get("content-type")
            return error_response(415, "unsupported_media_type", "the body must be JSON, sent with "
                          "'Content-Type: application/json' "
                          + (f"(got {ctype!r})" if ctype else "(no Content-Type was sent)"))
        message, field = plain_errors(errors)
        return error_response(422, "invalid_input", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                 413: "too_large"}
        headers = dict(exc.headers or {})
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer when json.loads fails other than by a syntax error: recursion
            # (nested thousands deep) or a number past Python's 4,300-digit limit
            return error_response(400, "invalid_json", "the body is not JSON this server reads: "
                                  "nested too deep, or a number of thousands of digits")
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            methods: set[str] = set()
            for route in request.app.router.routes:
                if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE:
                    methods |= route.methods or set()
            if methods:
                headers["Allow"] = ", ".join(sorted(methods))
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"),
                      str(exc.detail), headers=headers)
