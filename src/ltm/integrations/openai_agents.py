"""An OpenAI Agents SDK ``Session`` kept in ltm (extra ``ltm[openai-agents]``).

``LtmSession(session_id, store, user=...)`` stores each conversation item as an episode of
``user`` in session ``session_id``: its text is what the item says (a message's text, else the
item as JSON), its speaker the message's role, and the item itself is kept in the metadata
(key ``agents_item``) and given back unchanged, so an item's JSON must fit the store's
``max_metadata_bytes`` (65,536 by default; a larger item is refused with ``InvalidInput`` and
nothing of the call is written: open the store with a larger limit for big tool outputs). An
episode of the session that ltm wrote itself (an imported conversation) is read as a message
``{"role": <its speaker, else "user">, "content": <its text>}``. The conversation is
therefore also ordinary ltm memory: searchable, listed, exported and erased with the user. The
calls are those of the SDK's ``SQLiteSession`` (``get_items``, ``add_items``, ``pop_item``,
``clear_session``), with the same results; they await ``ltm.AsyncMemoryStore``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from . import require, searchable_text

require("agents.memory", "openai-agents")

from agents.memory import SessionABC  # noqa: E402
from agents.memory.session_settings import SessionSettings, resolve_session_limit  # noqa: E402

from ..aio import AsyncMemoryStore  # noqa: E402
from ..errors import InvalidInput  # noqa: E402
from ..model import Memory  # noqa: E402
from ..store import MemoryStore  # noqa: E402
from ..timeutil import from_us, now_us, to_us  # noqa: E402
from ..validate import opt_name  # noqa: E402

ITEM_KEY = "agents_item"
_PAGE = 1000


def _text(item: Any) -> str:
    """What an item says, for full-text and semantic search (else the item as JSON)."""
    if isinstance(item, dict):
        content = item.get("content")
        if isinstance(content, str) and searchable_text(content):
            return searchable_text(content)
        if isinstance(content, list):
            parts = [p.get("text") or p.get("refusal") for p in content if isinstance(p, dict)]
            text = searchable_text("\n".join(p for p in parts if isinstance(p, str) and p.strip()))
            if text:
                return text
    try:
        return searchable_text(json.dumps(item, ensure_ascii=False, sort_keys=True))
    except (TypeError, ValueError):  # not JSON (bytes, a set, keys of mixed types): the
        return searchable_text(repr(item))  # metadata check refuses it with InvalidInput


#: The roles an episode's speaker keeps when it becomes a message (other speakers: "user").
_ROLES = ("user", "assistant", "system", "developer")


def _item(mem: Memory) -> Any:
    """The item a memory holds; an episode ltm wrote itself (an imported conversation, an
    ``add``) is read as a message of its speaker's role."""
    if ITEM_KEY in mem.metadata:
        return mem.metadata[ITEM_KEY]
    speaker = mem.metadata.get("speaker")
    return {"role": speaker if speaker in _ROLES else "user", "content": mem.text}


class LtmSession(SessionABC):
    """An Agents SDK session whose items are ltm episodes of one user."""

    def __init__(self, session_id: str, store: MemoryStore | AsyncMemoryStore, *, user: str,
                 session_settings: SessionSettings | None = None) -> None:
        # a session of None would be every episode of the user (and clear_session a forget
        # of the whole user), so the id is checked here
        checked = opt_name(session_id, "session_id")
        if checked is None:
            raise InvalidInput("session_id must name the session", field="session_id")
        self.session_id: str = checked
        self.user = user
        self.store = store if isinstance(store, AsyncMemoryStore) else AsyncMemoryStore(store)
        self.session_settings = session_settings or SessionSettings()
        self._lock = asyncio.Lock()

    async def _newest(self, n: int | None) -> list[Memory]:
        """The newest ``n`` items (all for None), oldest first."""
        out: list[Memory] = []
        cursor = None
        while n is None or len(out) < n:
            size = _PAGE if n is None else min(_PAGE, n - len(out))
            page = await self.store.list(self.user, session=self.session_id, limit=size,
                                         cursor=cursor, kinds=["episode"])
            out += page.memories
            cursor = page.next_cursor
            if cursor is None:
                break
        return out[::-1]

    async def get_items(self, limit: int | None = None) -> list[Any]:
        """The conversation so far, oldest first; with ``limit``, its latest ``limit`` items
        (0: none; a negative limit: all, as in ``SQLiteSession``)."""
        n = resolve_session_limit(limit, self.session_settings)
        if n is not None and n < 0:
            n = None
        if n == 0:
            return []
        return [_item(m) for m in await self._newest(n)]

    async def add_items(self, items: list[Any]) -> None:
        if not items:
            return
        async with self._lock:
            newest = await self._newest(1)
            # one microsecond apart, after the newest item: the order they were given in
            start = max(now_us(), to_us(newest[0].time) + 1 if newest else 0)
            rows = []
            for i, item in enumerate(items):
                meta: dict[str, Any] = {ITEM_KEY: item}
                role = item.get("role") if isinstance(item, dict) else None
                if isinstance(role, str) and role:
                    meta["speaker"] = role
                rows.append({"text": _text(item), "user": self.user, "session": self.session_id,
                             "kind": "episode", "metadata": meta,
                             "time": from_us(start) + timedelta(microseconds=i)})
            await self.store.add_many(rows)

    async def pop_item(self) -> Any | None:
        """Remove the most recent item and return it (None when the session is empty)."""
        async with self._lock:
            newest = await self._newest(1)
            if not newest:
                return None
            await self.store.forget(newest[0].id, user=self.user)
            return _item(newest[0])

    async def clear_session(self) -> None:
        async with self._lock:
            await self.store.forget(user=self.user, session=self.session_id)
