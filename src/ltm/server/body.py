"""The request-body guard: bodies over the limit are 413, JSON bodies that are not UTF-8 (or
hold a lone UTF-16 surrogate) are 400, before the app reads them; an unexpected exception
becomes a 500 on the same connection."""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

log = logging.getLogger(__name__)


class BodyGuard:
    """Refuse request bodies over ``limit`` bytes (413) and JSON bodies that are not UTF-8
    (400) before the app reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not _utf8_url(scope):
            resp = error_response(400, "bad_encoding", "the URL is not valid UTF-8 once its "
                                  "%-escapes are decoded (e.g. %FF, or %ED%A0%80)")
            await resp(scope, receive, send)
            return
        too_big = False
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
        if not too_big:
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                chunk = msg.get("body", b"")
                size += len(chunk)
                if size > self.limit:
                    too_big = True
                    break
                chunks.append(chunk)
                more = msg.get("more_body", False)
        if too_big:
            resp = error_response(413, "too_large", f"request body is larger than {self.limit} bytes")
            await resp(scope, receive, send)
            return
        body = b"".join(chunks)
        ctype = next((v for k, v in scope.get("headers", []) if k == b"content-type"), b"")
        if body and b"json" in ctype.lower():
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                resp = error_response(400, "bad_encoding", f"the request body is not valid UTF-8 "
                              f"(byte {exc.start})")
                await resp(scope, receive, send)
                return
            if _SURROGATE.search(body):  # rare: only then pay for a second parse
                try:
                    bad = _has_lone_surrogate(json.loads(body))
                except (ValueError, RecursionError):
                    bad = False  # malformed JSON: the app reports it
                if bad:
                    resp = error_response(400, "bad_encoding", "the request body holds a lone UTF-16 "
                                  "surrogate (\\ud800-\\udfff), which is not text")
                    await resp(scope, receive, send)
                    return
        sent = False
        started = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, replay, watch)
        except Exception:
            # answer 500 on the same keep-alive connection instead of letting the server drop it
            log.exception("unexpected error while serving %s %s", scope.get("method"),
                          scope.get("path"))
            if started:
                raise
            resp = error_response(500, "internal", "internal error (logged on the server)")
            await resp(scope, receive, send)


def _utf8_url(scope: Scope) -> bool:
    """Whether the path and query decode to UTF-8 (the server would read a bad escape as
    U+FFFD, so '/v1/users/%FF' and '/v1/users/%FE' would name one user '\ufffd')."""
    try:
        unquote_to_bytes(scope.get("raw_path") or b"").decode("utf-8")
        unquote_to_bytes(scope.get("query_string") or b"").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_SURROGATE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _has_lone_surrogate(data: Any) -> bool:
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(data, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_has_lone_surrogate(v) for v in data)
    return False
