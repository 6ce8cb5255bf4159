"""A user's memories: store one, many or a conversation; change one; the timeline, one
memory, its history; the user's export."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Depends, FastAPI, Query
from fastapi.responses import StreamingResponse

from ...errors import InvalidInput
from ...store import MemoryStore
from .. import models as M
from ..errors import retry
from ..export_stream import stream_export
from . import MemoryId, Routes, U


def _time_us(value: str | float | None, field: str) -> int | None:
    return None if value is None else M.time_us(value, field)


# a time whose UTC offset's "+" a URL's query turned into a space (`?since=...T00:00+01:00`
# typed as written): a space can stand nowhere else before such digits in an ISO-8601 time
_PLUS_AS_SPACE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)")


def _query_time(value: str | None) -> str | None:
    found = None if value is None else _PLUS_AS_SPACE.fullmatch(value)
    return value if found is None else f"{found[1]}+{found[2]}"


def _browse(store: MemoryStore, user: str, *, kind: str | None, session: str | None,
            since: str | None, until: str | None, before: str | None,
            limit: int) -> M.MemoriesOut:
    """The page's timeline, newest first: ``MemoryStore.list`` (one indexed query)."""
    since, until = _query_time(since), _query_time(until)
    _time_us(since, "since"), _time_us(until, "until")  # the API's own range checks
    if before is not None:
        head, _, mid = before.partition(".")
        if not re.fullmatch(r"-?[0-9]{1,20}", head) or not mid:  # before 1970: < 0
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


def install_writing(app: FastAPI, r: Routes) -> None:
    def by_id(ref: str) -> dict[str, Any]:
        """OpenAPI links from a created memory to the operations on it (fuzzers follow them)."""
        return {op: {"operationId": op, "parameters": {"user": "$request.path.user",
                                                       "memory_id": ref}}
                for op in ("getMemory", "updateMemory", "getMemoryHistory", "forgetMemory")}

    @app.post(U + "/memories", status_code=201, response_model=M.MemoryOut, tags=["memories"],
              responses={201: {"links": by_id("$response.body#/id")}})
    def create_memory(body: M.MemoryCreateIn, user: str = Depends(r.write)) -> M.MemoryOut:
        """Store one memory (``supersedes``: the id of a current memory it replaces)."""
        fields = body.model_dump(exclude_none=True)
        text = fields.pop("text")
        return M.MemoryOut.of(retry(lambda: r.mem.add(text, user=user, **fields)))

    @app.post(U + "/memories/batch", status_code=201, response_model=M.MemoriesOut,
              tags=["memories"],
              responses={201: {"links": by_id("$response.body#/memories/0/id")}})
    def create_memories(body: M.BatchIn, user: str = Depends(r.write)) -> M.MemoriesOut:
        """Store many memories in one transaction (one embedding batch)."""
        items = [{**i.model_dump(exclude_none=True), "user": user} for i in body.items]
        added = retry(lambda: r.mem.add_many(items))
        return M.MemoriesOut(memories=[M.MemoryOut.of(m) for m in added], next_before=None)

    @app.post(U + "/conversations", status_code=201, response_model=M.MemoriesOut,
              tags=["memories"])
    def add_conversation(body: M.ConversationIn, user: str = Depends(r.write)) -> M.MemoriesOut:
        """Store each turn of a conversation as an episode of one session, in order."""
        msgs = [m.model_dump(exclude_none=True) for m in body.messages]
        added = retry(lambda: r.mem.add_conversation(
            msgs, user=user, session=body.session, agent=body.agent, time=body.time,
            metadata=body.metadata))
        return M.MemoriesOut(memories=[M.MemoryOut.of(m) for m in added], next_before=None)

    @app.patch(U + "/memories/{memory_id}", response_model=M.MemoryOut, tags=["memories"],
               operation_id="updateMemory")
    def update_memory(body: M.UpdateIn, memory_id: str = MemoryId,
                      user: str = Depends(r.write)) -> M.MemoryOut:
        """Change a memory in place; its previous values go into its history. A field left
        out keeps its value; `"expires_at": null` removes the expiry."""
        fields = body.model_dump(exclude_none=True)
        if "expires_at" in body.model_fields_set and body.expires_at is None:
            fields["clear_expiry"] = True
        return M.MemoryOut.of(retry(lambda: r.mem.update(memory_id, user=user, **fields)))


def install_reading(app: FastAPI, r: Routes) -> None:
    @app.get(U + "/memories", response_model=M.MemoriesOut, tags=["memories"])
    def list_memories(user: str = Depends(r.read),
                      kind: str | None = Query(None, pattern=r"^[a-z][a-z0-9_\-]{0,31}$"),
                      session: str | None = Query(None, min_length=1, max_length=M.MAX_NAME),
                      since: str | None = Query(None, max_length=64),
                      until: str | None = Query(None, max_length=64),
                      before: str | None = Query(None, max_length=128,
                                                 description="Cursor from next_before."),
                      limit: int = Query(50, ge=1, le=M.MAX_LIST)) -> M.MemoriesOut:
        """The user's memories as a timeline, newest first, with optional filters."""
        return retry(lambda: _browse(r.mem, user, kind=kind, session=session, since=since,
                                      until=until, before=before, limit=limit))

    @app.get(U + "/memories/{memory_id}", response_model=M.MemoryOut, tags=["memories"],
             operation_id="getMemory")
    def get_memory(memory_id: str = MemoryId, user: str = Depends(r.read)) -> M.MemoryOut:
        """One memory."""
        return M.MemoryOut.of(retry(lambda: r.mem.get(memory_id, user=user)))

    @app.get(U + "/memories/{memory_id}/history", response_model=M.HistoryOut,
             tags=["memories"], operation_id="getMemoryHistory")
    def memory_history(memory_id: str = MemoryId, user: str = Depends(r.read)) -> M.HistoryOut:
        """Every change to the memory (a deleted memory keeps only a content-free event)."""
        events = retry(lambda: r.mem.history(memory_id, user=user))
        return M.HistoryOut(events=[M.HistoryEventOut.of(e) for e in events])


def install_export(app: FastAPI, r: Routes) -> None:
    @app.get(U + "/export", tags=["memories"], response_class=StreamingResponse,
             responses={200: {"content": {"application/x-ndjson": {}},
                              "description": "JSON Lines: a header, then one memory a line"}})
    def export_user(user: str = Depends(r.read),
                    embeddings: bool = Query(False, description="Include vectors.")
                    ) -> StreamingResponse:
        """Export the user's memories as JSON Lines, streamed."""
        return StreamingResponse(stream_export(r.mem, user, embeddings),
                                 media_type="application/x-ndjson")
