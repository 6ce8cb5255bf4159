"""The REST API (``/v1``), the web page (``/``) and MCP over streamable HTTP (``/mcp``).

Handlers are thin: check the key, call ``MemoryStore``, map typed errors to statuses. Every
route under ``/v1/users/{user}`` acts for that one user; a key that does not cover the user gets
403 whatever exists, and an id that belongs to someone else is simply not found (404).

``create_app`` assembles the parts: ``access`` (API keys), ``routes`` (one module per resource),
``errors`` (typed errors to statuses), ``body`` (the request-body guard), ``export_stream``
(streamed exports), ``schema`` (OpenAPI: operation ids, security schemes, offline docs) and
``mcp_server``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from .. import __version__
from ..errors import StoreError
from ..store import MemoryStore
from ..store import open as open_store
from . import models as M
from .access import Access
from .auth import ApiKey, KeyStore
from .body import BodyGuard
from .errors import ApiError, install_handlers
from .routes import install as install_routes
from .routes import known_query
from .schema import OPENAPI_PATH as OPENAPI_PATH  # re-exported
from .schema import offline_docs, openapi_text, openapi_with_security, operation_id

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": M.ErrorOut, "description": text} for code, text in [
        (400, "Malformed body (not JSON, not UTF-8)"), (401, "No valid API key"),
        (403, "The key does not reach this user or lacks the right"),
        (404, "No such memory for this user"), (413, "Request body too large"),
        (415, "The body is not sent as JSON (Content-Type: application/json)"),
        (422, "Invalid input"), (503, "Store busy, retry")]}


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

    loopback = host in ("127.0.0.1", "localhost", "::1")
    access = Access(keystore, require_keys, loopback)

    mcp_server = None
    mcp_app = None
    if mcp:
        from mcp.server.mcpserver.exceptions import ToolError
        from mcp.server.transport_security import TransportSecuritySettings

        from .mcp_server import build_mcp

        def resolve(headers: Mapping[str, str] | None) -> ApiKey:
            try:
                return access.principal_of(headers)
            except ApiError as exc:
                raise ToolError(exc.message) from None

        mcp_server = build_mcp(mem, resolve)
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
                  generate_unique_id_function=operation_id,
                  dependencies=[Depends(known_query)])
    app.openapi = lambda: openapi_with_security(app)  # type: ignore[method-assign]
    offline_docs(app)
    app.state.store = mem
    app.state.keys = keystore
    app.add_middleware(BodyGuard, limit=max_body_bytes)

    install_handlers(app)
    install_routes(app, mem, access)
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


def write_openapi(path: str | os.PathLike[str] = OPENAPI_PATH) -> None:
    """Regenerate the committed schema: ``python -m ltm.server.app``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, open_store(tmp, embedder="hash") as store:
        Path(path).write_text(openapi_text(create_app(store)), encoding="utf-8")


if __name__ == "__main__":
    write_openapi()
