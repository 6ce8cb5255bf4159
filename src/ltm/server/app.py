"""The REST API (``/v1``), the web page (``/``) and MCP over streamable HTTP (``/mcp``).

Handlers are thin: check the key, call ``MemoryStore``, map typed errors to statuses. Every
route under ``/v1/users/{user}`` acts for that one user; a key that does not cover the user gets
403 whatever exists, and an id that belongs to someone else is simply not found (404).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import threading
import time as _time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..errors import InvalidInput, LtmError, NotFound, ScopeError, StoreBusy, StoreError
from ..store import MemoryStore
from ..store import open as open_store
from . import models as M
from .auth import ALL_USERS, OPEN_ACCESS, ApiKey, KeyStore
from .messages import plain_errors

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
T = TypeVar("T")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": M.ErrorOut, "description": text} for code, text in [
        (400, "Malformed body (not JSON, not UTF-8)"), (401, "No valid API key"),
        (403, "The key does not reach this user or lacks the right"),
        (404, "No such memory for this user"), (413, "Request body too large"),
        (415, "The body is not sent as JSON (Content-Type: application/json)"),
        (422, "Invalid input"), (503, "Store busy, retry")]}


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.field = status, error, message, field


def _error(status: int, error: str, message: str, field: str | None = None,
           headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = {"error": error, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


class BodyGuard:
    """Refuse request bodies over ``limit`` bytes (413) and JSON bodies that are not UTF-8
    (400) before the app reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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
            resp = _error(413, "too_large", f"request body is larger than {self.limit} bytes")
            await resp(scope, receive, send)
            return
        body = b"".join(chunks)
        ctype = next((v for k, v in scope.get("headers", []) if k == b"content-type"), b"")
        if body and b"json" in ctype.lower():
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                resp = _error(400, "bad_encoding", f"the request body is not valid UTF-8 "
                              f"(byte {exc.start})")
                await resp(scope, receive, send)
                return
            if _SURROGATE.search(body):  # rare: only then pay for a second parse
                try:
                    bad = _has_lone_surrogate(json.loads(body))
                except (ValueError, RecursionError):
                    bad = False  # malformed JSON: the app reports it
                if bad:
                    resp = _error(400, "bad_encoding", "the request body holds a lone UTF-16 "
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
            resp = _error(500, "internal", "internal error (logged on the server)")
            await resp(scope, receive, send)


def _retry(fn: Callable[[], T], attempts: int = 4) -> T:
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


def _time_us(value: str | float | None, field: str) -> int | None:
    return None if value is None else M.time_us(value, field)


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


def _browse(store: MemoryStore, user: str, *, kind: str | None, session: str | None,
            since: str | None, until: str | None, before: str | None,
            limit: int) -> M.MemoriesOut:
    """The page's timeline, newest first: ``MemoryStore.list`` (one indexed query)."""
    _time_us(since, "since"), _time_us(until, "until")  # the API's own range checks
    if before is not None:
        head, _, mid = before.partition(".")
        if not re.fullmatch(r"[0-9]{1,20}", head) or not mid:
            raise InvalidInput("before must be a cursor from next_before", field="before")
    try:
        page = store.list(user, kinds=None if kind is None else [kind], session=session,
                          since=since, until=until, limit=limit, cursor=before)
    except InvalidInput as exc:
        if exc.field == "cursor":
            raise InvalidInput("before must be a cursor from next_before",
                               field="before") from None
        raise
    return M.MemoriesOut(memories=[M.MemoryOut.of(m) for m in page.memories],
                         next_before=page.next_cursor)


def _user_stats(store: MemoryStore, user: str) -> M.UserStatsOut:
    st = store.user_stats(user)
    return M.UserStatsOut(
        user=user, memories=st.memories, by_kind=st.by_kind,
        sessions=[M.SessionOut(session=x.session, count=x.count, first=x.first, last=x.last)
                  for x in st.sessions],
        per_day=[M.DayCount(day=d, count=c) for d, c in st.per_day])


class _QueueWriter:
    """A file-like sink for ``MemoryStore.export`` that hands chunks to a streaming response."""

    def __init__(self) -> None:
        self.q: queue.Queue[str | None | BaseException] = queue.Queue(maxsize=64)
        self.buf: list[str] = []
        self.size = 0
        self.cancelled = False

    def write(self, s: str) -> int:
        self.buf.append(s)
        self.size += len(s)
        if self.size >= 64 * 1024:
            self.flush()
        return len(s)

    def flush(self) -> None:
        if self.buf:
            self._put("".join(self.buf))
            self.buf, self.size = [], 0

    def _put(self, item: str | None | BaseException) -> None:
        while True:
            if self.cancelled:
                raise _Cancelled
            try:
                self.q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue


class _Cancelled(Exception):
    pass


def _stream_export(store: MemoryStore, user: str | None, embeddings: bool) -> Iterator[bytes]:
    out = _QueueWriter()

    def work() -> None:
        try:
            store.export(out, user=user, embeddings=embeddings)  # type: ignore[arg-type]
            out.flush()
            out._put(None)
        except _Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the response
            with contextlib.suppress(_Cancelled):
                out._put(exc)

    threading.Thread(target=work, name="ltm-export", daemon=True).start()
    try:
        while True:
            item = out.q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                log.error("export failed: %s", item)
                return
            yield item.encode()
    finally:
        out.cancelled = True


def create_app(store: MemoryStore | str | os.PathLike[str], *, keys: KeyStore | None = None,
               require_keys: bool | None = None, mcp: bool = True, host: str = "127.0.0.1",
               max_body_bytes: int = M.MAX_BODY_BYTES, close_store: bool | None = None
               ) -> FastAPI:
    """The ASGI app over one store (an open ``MemoryStore`` or a store folder).

    ``require_keys``: True = every request needs a key; False = open (no keys checked);
    None (default) = keys are required once any key has been created in the store.
    ``host`` is where the server listens (for MCP's DNS-rebinding protection).
    """
    owns = not isinstance(store, MemoryStore)
    mem: MemoryStore = open_store(store) if not isinstance(store, MemoryStore) else store
    close_store = owns if close_store is None else close_store
    folder = getattr(mem.backend, "folder", None) or os.environ.get("LTM_KEYS_DIR")
    if keys is None and folder is None:
        raise StoreError("a PostgreSQL store keeps its API keys in a local folder: "
                         "set LTM_KEYS_DIR (or pass keys=)")
    keystore = keys if keys is not None else KeyStore(str(folder))

    def keys_required() -> bool:
        return require_keys if require_keys is not None else keystore.any_keys()

    def principal_of(headers: Mapping[str, str] | None) -> ApiKey:
        text = None
        if headers is not None:
            auth = headers.get("authorization") or ""
            if auth[:7].lower() == "bearer ":
                text = auth[7:].strip()
            text = text or headers.get("x-api-key")
        if text:
            if require_keys is False:
                return OPEN_ACCESS
            found = keystore.verify(text)
            if found is None:
                raise ApiError(401, "unauthorized", "the API key is not valid (or revoked)")
            return found
        if keys_required():
            raise ApiError(401, "unauthorized", "an API key is required: send "
                           "'Authorization: Bearer ltm_...' (create one with `ltm keys create`)")
        return OPEN_ACCESS

    mcp_server = None
    mcp_app = None
    if mcp:
        from mcp.server.mcpserver.exceptions import ToolError
        from mcp.server.transport_security import TransportSecuritySettings

        from .mcp_server import build_mcp

        def resolve(headers: Mapping[str, str] | None) -> ApiKey:
            try:
                return principal_of(headers)
            except ApiError as exc:
                raise ToolError(exc.message) from None

        mcp_server = build_mcp(mem, resolve)
        loopback = host in ("127.0.0.1", "localhost", "::1")
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=loopback,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"])
        mcp_app = mcp_server.streamable_http_app(streamable_http_path="/mcp",
                                                 transport_security=security, host=host,
                                                 stateless_http=True, json_response=True)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if mcp_server is not None:
                await stack.enter_async_context(mcp_server.session_manager.run())
            try:
                yield
            finally:
                if close_store:
                    mem.close()
                if keys is None:
                    keystore.close()

    app = FastAPI(title="ltm memory server", version=__version__, lifespan=lifespan,
                  description="Long-term memory for AI systems. Every route under "
                  "/v1/users/{user} acts for that user; send the API key as "
                  "'Authorization: Bearer ltm_...' (or in an X-API-Key header).",
                  responses=_ERRORS, docs_url=None, redoc_url=None,
                  generate_unique_id_function=_operation_id)
    app.openapi = lambda: _openapi_with_security(app)  # type: ignore[method-assign]
    _offline_docs(app)
    app.state.store = mem
    app.state.keys = keystore
    app.add_middleware(BodyGuard, limit=max_body_bytes)

    # -- errors -------------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return _error(exc.status, exc.error, exc.message, exc.field, headers)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return _error(422, "invalid_input", str(exc), exc.field)

    @app.exception_handler(ScopeError)
    async def _scope(_: Request, exc: ScopeError) -> JSONResponse:
        return _error(422, "invalid_input", str(exc), "user")

    @app.exception_handler(LtmError)
    async def _ltm(_: Request, exc: LtmError) -> JSONResponse:
        log.error("store error: %s", exc)
        return _error(503, "store_unavailable", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if errors and errors[0].get("type") == "json_invalid":
            ctx = errors[0].get("ctx") or {}
            pos = errors[0].get("loc", ("body", "?"))[-1]
            return _error(400, "invalid_json", f"the body is not valid JSON: "
                          f"{ctx.get('error', 'decode error')} at position {pos}")
        if isinstance(exc.body, bytes) and any(tuple(e.get("loc", ())) == ("body",)
                                               for e in errors):
            # FastAPI hands the raw bytes on when the content type is not JSON
            ctype = request.headers.get("content-type")
            return _error(415, "unsupported_media_type", "the body must be JSON, sent with "
                          "'Content-Type: application/json' "
                          + (f"(got {ctype!r})" if ctype else "(no Content-Type was sent)"))
        message, field = plain_errors(errors)
        return _error(422, "invalid_input", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                 413: "too_large"}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            methods: set[str] = set()
            for route in request.app.router.routes:
                if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE:
                    methods |= route.methods or set()
            if methods:
                headers["Allow"] = ", ".join(sorted(methods))
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"),
                      str(exc.detail), headers=headers)

    # -- auth -----------------------------------------------------------------------------
    def principal(request: Request) -> ApiKey:
        return principal_of(request.headers)

    def access(right: str) -> Callable[..., str]:
        def check(user: str = PathParam(min_length=1, max_length=M.MAX_NAME, pattern=r"\S",
                                        description="The user (memory scope) acted for."),
                  key: ApiKey = Depends(principal)) -> str:
            if "\x00" in user:
                raise ApiError(422, "invalid_input", "user must not contain NUL", "user")
            if user == ALL_USERS:
                raise ApiError(422, "invalid_input", "'*' is not a user name: it stands for "
                               "every user in API keys", "user")
            if not key.covers(user):
                raise ApiError(403, "forbidden", "this API key does not reach that user")
            if right not in key.rights:
                raise ApiError(403, "forbidden", f"this API key lacks the {right} right")
            return user
        return check

    read, write, admin = access("read"), access("write"), access("admin")
    U = "/v1/users/{user}"
    MemoryId = PathParam(min_length=1, max_length=64, description="A memory id (ULID).")

    # -- service ------------------------------------------------------------------------------
    @app.get("/v1/health", response_model=M.HealthOut, tags=["service"])
    def health() -> M.HealthOut:
        """Liveness: no key needed."""
        return M.HealthOut(status="ok", version=__version__,
                           auth="keys" if keys_required() else "open")

    @app.get("/v1/me", response_model=M.MeOut, tags=["service"])
    def me(key: ApiKey = Depends(principal)) -> M.MeOut:
        """The users and rights of the key sent (the web page uses it to offer users)."""
        return M.MeOut(key_id=key.key_id, users=list(key.users), rights=sorted(key.rights),
                       auth="keys" if keys_required() else "open")

    @app.get("/v1/users", response_model=M.UsersOut, tags=["service"])
    def list_users(key: ApiKey = Depends(principal)) -> M.UsersOut:
        """Users that have memories, limited to those the key reaches."""
        users = _retry(mem.users)
        return M.UsersOut(users=[u for u in users if key.covers(u)])

    @app.get("/v1/stats", response_model=M.StoreStatsOut, tags=["service"])
    def store_stats(key: ApiKey = Depends(principal)) -> M.StoreStatsOut:
        """Whole-store counts: needs an admin key for every user ('*')."""
        if not key.allows(ALL_USERS, "admin") or ALL_USERS not in key.users:
            raise ApiError(403, "forbidden", "store-wide stats need an admin key for '*'")
        s = _retry(mem.stats)
        return M.StoreStatsOut(memories=s["memories"], users=s["users"], by_kind=s["by_kind"],
                               deleted_total=s["deleted_total"],
                               bytes_on_disk=s["bytes_on_disk"], embedder=s["embedder"],
                               dim=s.get("dim"))

    @app.get("/v1/export", tags=["service"], response_class=StreamingResponse,
             responses={200: {"content": {"application/x-ndjson": {}},
                              "description": "JSON Lines: a header, then one memory a line"}})
    def export_all(key: ApiKey = Depends(principal),
                   embeddings: bool = Query(False, description="Include vectors.")
                   ) -> StreamingResponse:
        """Export the whole store (admin key for '*')."""
        if ALL_USERS not in key.users or "admin" not in key.rights:
            raise ApiError(403, "forbidden", "a store-wide export needs an admin key for '*'")
        return StreamingResponse(_stream_export(mem, None, embeddings),
                                 media_type="application/x-ndjson")

    # -- writing ------------------------------------------------------------------------------
    def by_id(ref: str) -> dict[str, Any]:
        """OpenAPI links from a created memory to the operations on it (fuzzers follow them)."""
        return {op: {"operationId": op, "parameters": {"user": "$request.path.user",
                                                       "memory_id": ref}}
                for op in ("get_memory", "update_memory", "memory_history", "forget_memory")}

    @app.post(U + "/memories", status_code=201, response_model=M.MemoryOut, tags=["memories"],
              responses={201: {"links": by_id("$response.body#/id")}})
    def create_memory(body: M.MemoryIn, user: str = Depends(write)) -> M.MemoryOut:
        """Store one memory."""
        fields = body.model_dump(exclude_none=True)
        text = fields.pop("text")
        return M.MemoryOut.of(_retry(lambda: mem.add(text, user=user, **fields)))

    @app.post(U + "/memories/batch", status_code=201, response_model=M.MemoriesOut,
              tags=["memories"],
              responses={201: {"links": by_id("$response.body#/memories/0/id")}})
    def create_memories(body: M.BatchIn, user: str = Depends(write)) -> M.MemoriesOut:
        """Store many memories in one transaction (one embedding batch)."""
        items = [{**i.model_dump(exclude_none=True), "user": user} for i in body.items]
        added = _retry(lambda: mem.add_many(items))
        return M.MemoriesOut(memories=[M.MemoryOut.of(m) for m in added], next_before=None)

    @app.post(U + "/conversations", status_code=201, response_model=M.MemoriesOut,
              tags=["memories"])
    def add_conversation(body: M.ConversationIn, user: str = Depends(write)) -> M.MemoriesOut:
        """Store each turn of a conversation as an episode of one session, in order."""
        msgs = [m.model_dump(exclude_none=True) for m in body.messages]
        added = _retry(lambda: mem.add_conversation(
            msgs, user=user, session=body.session, agent=body.agent, time=body.time,
            metadata=body.metadata))
        return M.MemoriesOut(memories=[M.MemoryOut.of(m) for m in added], next_before=None)

    @app.patch(U + "/memories/{memory_id}", response_model=M.MemoryOut, tags=["memories"],
               operation_id="updateMemory")
    def update_memory(body: M.UpdateIn, memory_id: str = MemoryId,
                      user: str = Depends(write)) -> M.MemoryOut:
        """Change a memory in place; its previous values go into its history."""
        fields = body.model_dump(exclude_none=True)
        return M.MemoryOut.of(_retry(lambda: mem.update(memory_id, user=user, **fields)))

    # -- reading ------------------------------------------------------------------------------
    @app.get(U + "/memories", response_model=M.MemoriesOut, tags=["memories"])
    def list_memories(user: str = Depends(read),
                      kind: str | None = Query(None, pattern=r"^[a-z][a-z0-9_\-]{0,31}$"),
                      session: str | None = Query(None, min_length=1, max_length=M.MAX_NAME),
                      since: str | None = Query(None, max_length=64),
                      until: str | None = Query(None, max_length=64),
                      before: str | None = Query(None, max_length=128,
                                                 description="Cursor from next_before."),
                      limit: int = Query(50, ge=1, le=M.MAX_LIST)) -> M.MemoriesOut:
        """The user's memories as a timeline, newest first, with optional filters."""
        return _retry(lambda: _browse(mem, user, kind=kind, session=session, since=since,
                                      until=until, before=before, limit=limit))

    @app.get(U + "/memories/{memory_id}", response_model=M.MemoryOut, tags=["memories"],
             operation_id="getMemory")
    def get_memory(memory_id: str = MemoryId, user: str = Depends(read)) -> M.MemoryOut:
        """One memory."""
        return M.MemoryOut.of(_retry(lambda: mem.get(memory_id, user=user)))

    @app.get(U + "/memories/{memory_id}/history", response_model=M.HistoryOut,
             tags=["memories"], operation_id="getMemoryHistory")
    def memory_history(memory_id: str = MemoryId, user: str = Depends(read)) -> M.HistoryOut:
        """Every change to the memory (a deleted memory keeps only a content-free event)."""
        events = _retry(lambda: mem.history(memory_id, user=user))
        return M.HistoryOut(events=[M.HistoryEventOut.of(e) for e in events])

    def _filters(body: M._Filters) -> dict[str, Any]:
        return {k: getattr(body, k) for k in ("agent", "session", "kinds", "since", "until",
                                              "as_of", "metadata", "now")}

    @app.post(U + "/search", response_model=M.SearchOut, tags=["retrieval"])
    def search(body: M.SearchIn, user: str = Depends(read)) -> M.SearchOut:
        """The k memories most relevant to the query, best first, with per-signal scores."""
        hits = _retry(lambda: mem.search(body.query, user=user, k=body.k,
                                         min_relevance=body.min_relevance, **_filters(body)))
        return M.SearchOut(hits=[M.HitOut.of(h) for h in hits])

    @app.post(U + "/context", response_model=M.ContextOut, tags=["retrieval"])
    def context(body: M.ContextIn, user: str = Depends(read)) -> M.ContextOut:
        """Relevant memories packed into a token budget, chronological, ready for a prompt."""
        text = _retry(lambda: mem.context(body.query, user=user, k=body.k,
                                          budget_tokens=body.budget_tokens,
                                          min_relevance=body.min_relevance, **_filters(body)))
        return M.ContextOut(context=text)

    @app.get(U + "/stats", response_model=M.UserStatsOut, tags=["retrieval"])
    def user_stats(user: str = Depends(read)) -> M.UserStatsOut:
        """Counts by kind, sessions, and memories per day (for the web page's chart)."""
        return _retry(lambda: _user_stats(mem, user))

    @app.get(U + "/export", tags=["memories"], response_class=StreamingResponse,
             responses={200: {"content": {"application/x-ndjson": {}},
                              "description": "JSON Lines: a header, then one memory a line"}})
    def export_user(user: str = Depends(read),
                    embeddings: bool = Query(False, description="Include vectors.")
                    ) -> StreamingResponse:
        """Export the user's memories as JSON Lines, streamed."""
        return StreamingResponse(_stream_export(mem, user, embeddings),
                                 media_type="application/x-ndjson")

    # -- forgetting ---------------------------------------------------------------------------
    @app.delete(U + "/memories/{memory_id}", response_model=M.ReceiptOut, tags=["forgetting"],
                operation_id="forgetMemory")
    def forget_memory(memory_id: str = MemoryId, user: str = Depends(write)) -> M.ReceiptOut:
        """Erase one memory (and derived memories whose every source is gone)."""
        return M.ReceiptOut.of(_retry(lambda: mem.forget(memory_id, user=user)))

    @app.post(U + "/forget", response_model=M.ReceiptOut, tags=["forgetting"])
    def forget_filter(body: M.ForgetIn, user: str = Depends(write)) -> M.ReceiptOut:
        """Erase a session and/or everything that happened before a time."""
        if body.session is None and body.before is None:
            raise ApiError(422, "invalid_input", "say what to forget: session and/or before "
                           "(DELETE /v1/users/{user} erases everything)")
        return M.ReceiptOut.of(_retry(lambda: mem.forget(user=user, session=body.session,
                                                         before=body.before)))

    @app.delete(U, response_model=M.ReceiptOut, tags=["forgetting"])
    def forget_user(user: str = Depends(admin)) -> M.ReceiptOut:
        """Erase every memory of the user (admin right)."""
        return M.ReceiptOut.of(_retry(lambda: mem.forget(user=user)))

    # -- web page and MCP ---------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if mcp_app is not None:
        app.router.routes.extend(mcp_app.routes)
    return app


def create_app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory`` and ``ltm serve --workers N`` (reads LTM_STORE,
    LTM_SERVER_REQUIRE_KEYS, LTM_SERVER_HOST, LTM_SERVER_NO_MCP)."""
    req = os.environ.get("LTM_SERVER_REQUIRE_KEYS", "auto")
    require = None if req == "auto" else req.lower() in ("1", "true", "yes")
    return create_app(os.environ.get("LTM_STORE", "ltm-data"), require_keys=require,
                      host=os.environ.get("LTM_SERVER_HOST", "127.0.0.1"),
                      mcp=os.environ.get("LTM_SERVER_NO_MCP", "") == "")


# readable operation ids for generated clients; other routes get their name in camelCase
_OPERATION_IDS = {"search": "searchMemories", "context": "buildContext",
                  "forget_filter": "forgetMemories", "user_stats": "getUserStats",
                  "store_stats": "getStoreStats", "health": "getHealth", "me": "getMe"}


def _operation_id(route: APIRoute) -> str:
    first, *rest = route.name.split("_")
    return _OPERATION_IDS.get(route.name, first + "".join(w.title() for w in rest))


_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "An API key from `ltm keys create`: Authorization: Bearer ltm_..."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "The same API key, in an X-API-Key header"},
}


def _openapi_with_security(app: FastAPI) -> dict[str, Any]:
    """The schema with its security schemes declared: every /v1 route but the health check
    takes a key (a keyless loopback server accepts calls without one)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = _SECURITY_SCHEMES
        for path, ops in schema.get("paths", {}).items():
            if path.startswith("/v1") and path != "/v1/health":
                for op in ops.values():
                    op["security"] = [{"bearer": []}, {"apiKey": []}]
        app.openapi_schema = schema
    return app.openapi_schema


def _offline_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) served from the swagger-ui-bundle package: no CDN, works
    offline. Skipped, with the schema still at /openapi.json, when the package is missing."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        log.info("swagger-ui-bundle is not installed: /docs is off (the schema is at "
                 "/openapi.json)")
        return
    from fastapi.openapi.docs import get_swagger_ui_html

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="ltm memory server",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")


OPENAPI_PATH = Path(__file__).with_name("openapi.json")


def openapi_text(app: FastAPI) -> str:
    """The schema as committed in ``openapi.json`` (sorted keys, stable across runs)."""
    return json.dumps(app.openapi(), sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_openapi(path: str | os.PathLike[str] = OPENAPI_PATH) -> None:
    """Regenerate the committed schema: ``python -m ltm.server.app``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, open_store(tmp, embedder="hash") as store:
        Path(path).write_text(openapi_text(create_app(store)), encoding="utf-8")


if __name__ == "__main__":
    write_openapi()
