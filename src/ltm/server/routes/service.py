"""Service routes: health, the key sent, the users, store-wide stats and export."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Query
from fastapi.responses import Response, StreamingResponse

from ... import __version__
from .. import models as M
from ..auth import ALL_USERS, ApiKey
from ..errors import ApiError, retry
from ..export_stream import stream_export
from . import Routes


def install(app: FastAPI, r: Routes) -> None:
    @app.get("/v1/health", response_model=M.HealthOut, tags=["service"])
    def health() -> M.HealthOut:
        """Liveness: no key needed."""
        return M.HealthOut(status="ok", version=__version__,
                           auth="keys" if r.access.keys_required() else "open")

    @app.head("/v1/health", include_in_schema=False)
    def health_head() -> Response:
        """Liveness for probes that send HEAD (load balancers, ``curl -I``): 200, no body.
        Left out of the schema: the GET above is the documented operation."""
        return Response(status_code=200)

    @app.get("/v1/me", response_model=M.MeOut, tags=["service"])
    def me(key: ApiKey = Depends(r.principal)) -> M.MeOut:
        """The users and rights of the key sent (the web page uses it to offer users)."""
        return M.MeOut(key_id=key.key_id, users=list(key.users), rights=sorted(key.rights),
                       auth="keys" if r.access.keys_required() else "open")

    @app.get("/v1/users", response_model=M.UsersOut, tags=["service"])
    def list_users(key: ApiKey = Depends(r.principal)) -> M.UsersOut:
        """Users that have memories, limited to those the key reaches."""
        users = retry(r.mem.users)
        return M.UsersOut(users=[u for u in users if key.covers(u)])

    @app.get("/v1/stats", response_model=M.StoreStatsOut, tags=["service"])
    def store_stats(key: ApiKey = Depends(r.principal)) -> M.StoreStatsOut:
        """Whole-store counts: needs an admin key for every user ('*')."""
        if not key.allows(ALL_USERS, "admin") or ALL_USERS not in key.users:
            raise ApiError(403, "forbidden", "store-wide stats need an admin key for '*'")
        s = retry(r.mem.stats)
        return M.StoreStatsOut(memories=s["memories"], users=s["users"], by_kind=s["by_kind"],
                               deleted_total=s["deleted_total"],
                               bytes_on_disk=s["bytes_on_disk"], embedder=s["embedder"],
                               dim=s.get("dim"))

    @app.get("/v1/export", tags=["service"], response_class=StreamingResponse,
             responses={200: {"content": {"application/x-ndjson": {}},
                              "description": "JSON Lines: a header, then one memory a line"}})
    def export_all(key: ApiKey = Depends(r.principal),
                   embeddings: bool = Query(False, description="Include vectors.")
                   ) -> StreamingResponse:
        """Export the whole store (admin key for '*')."""
        if ALL_USERS not in key.users or "admin" not in key.rights:
            raise ApiError(403, "forbidden", "a store-wide export needs an admin key for '*'")
        return StreamingResponse(stream_export(r.mem, None, embeddings),
                                 media_type="application/x-ndjson")
