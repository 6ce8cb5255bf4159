"""The routes, one module per resource, each adding its handlers to the app: ``service``
(health, key, users, store stats, store export), ``memories`` (write, read, history, a user's
export), ``retrieval`` (search, context, user stats), ``forgetting`` and ``web`` (the page).
Handlers are thin: the key check is their dependency, the work is one ``MemoryStore`` call
(retried while the store is busy), errors become statuses in ``ltm.server.errors``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.routing import APIRoute

from ...store import MemoryStore
from ..access import Access
from ..auth import ApiKey
from ..errors import ApiError

U = "/v1/users/{user}"
MemoryId = PathParam(min_length=1, max_length=64, description="A memory id (ULID).")


def known_query(request: Request) -> None:
    """The app-wide dependency that refuses (422) a /v1 query parameter the route does not
    take, or one given twice, as unknown body fields are refused: ``?sesion=work`` would
    otherwise list every session, ``?kind=a&kind=b`` filter on b alone."""
    route = request.scope.get("route")
    path = request.url.path
    if not isinstance(route, APIRoute) or not path.startswith("/v1/") or path == "/v1/health":
        return  # health stays as permissive as probes expect
    known = {f.alias for f in route.dependant.query_params}
    names = [k for k, _ in request.query_params.multi_items()]
    for name in names:
        if name not in known:
            takes = f"it takes {', '.join(sorted(known))}" if known else "it takes none"
            raise ApiError(422, "invalid_input", f"unknown query parameter {name[:100]!r} "
                           f"({takes})", name[:100])
        if names.count(name) > 1:
            raise ApiError(422, "invalid_input", f"query parameter {name!r} is given more "
                           "than once", name)


@dataclass(frozen=True)
class Routes:
    """What every route module needs: the store, the key checks and their dependencies."""

    mem: MemoryStore
    access: Access
    principal: Callable[[Request], ApiKey]
    read: Callable[..., str]
    write: Callable[..., str]
    admin: Callable[..., str]


def install(app: FastAPI, mem: MemoryStore, access: Access) -> None:
    """Every route of the app, in the order they are matched."""
    from . import forgetting, memories, retrieval, service, web

    principal = access.principal()
    r = Routes(mem, access, principal, access.user_with("read", principal),
               access.user_with("write", principal), access.user_with("admin", principal))
    service.install(app, r)
    memories.install_writing(app, r)
    memories.install_reading(app, r)
    retrieval.install(app, r)
    memories.install_export(app, r)
    forgetting.install(app, r)
    web.install(app)
