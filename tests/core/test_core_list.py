"""MemoryStore.list (paged, newest first), user_stats, and AsyncMemoryStore, on both backends."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import postgres_support
import pytest
import store_locations
from store_locations import Location

import ltm
from ltm.aio import ASYNC_METHODS

# the per-backend store fixtures (tests/store_locations.py): each test runs on SQLite and
# on PostgreSQL
postgres_url = postgres_support.postgres_url
backend_kind = store_locations.backend_kind
new_location = store_locations.new_location
location = store_locations.location
copen = store_locations.copen


def _fill(mem: ltm.MemoryStore) -> list[ltm.Memory]:
    base = datetime(2026, 1, 1, 9, tzinfo=UTC)
    items = []
    for i in range(23):
        items.append({"text": f"note number {i}", "user": "alice",
                      "session": f"s{i % 3}", "kind": "fact" if i % 5 == 0 else "episode",
                      # pairs of memories share a time: the page boundary must split ties
                      "time": base + timedelta(hours=i // 2)})
    items.append({"text": "bob's only note", "user": "bob", "time": base})
    items.append({"text": "expired note", "user": "alice", "time": base + timedelta(days=30),
                  "expires_at": datetime(2000, 1, 1, tzinfo=UTC)})
    return mem.add_many(items)


def _expected(mems: list[ltm.Memory], user: str, keep: Callable[[ltm.Memory], bool]
              ) -> list[str]:
    now = datetime.now(UTC)
    rows = [m for m in mems if m.user == user and keep(m)
            and (m.expires_at is None or m.expires_at > now)]
    rows.sort(key=lambda m: (m.time, m.id), reverse=True)
    return [m.id for m in rows]


def _walk(mem: ltm.MemoryStore, user: str, **kw: object) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        page = mem.list(user, cursor=cursor, **kw)  # type: ignore[arg-type]
        ids += [m.id for m in page]
        cursor = page.next_cursor
        if cursor is None:
            return ids
        assert len(page) == kw.get("limit", 50)
    raise AssertionError("paging did not end")


def test_list_pages_newest_first_with_filters(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    mems = _fill(mem)
    everything = _expected(mems, "alice", lambda m: True)
    assert len(everything) == 23
    assert [m.id for m in mem.list("alice")] == everything
    assert mem.list("alice").next_cursor is None
    for limit in (1, 2, 5, 7, 23):
        assert _walk(mem, "alice", limit=limit) == everything
    oldest = mem.list("alice", order="oldest", limit=1000)
    assert [m.id for m in oldest] == everything[::-1]
    assert _walk(mem, "alice", limit=4, session="s1") == \
        _expected(mems, "alice", lambda m: m.session == "s1")
    assert _walk(mem, "alice", limit=3, kinds=["fact"]) == \
        _expected(mems, "alice", lambda m: m.kind == "fact")
    since, until = "2026-01-01T11:00:00Z", "2026-01-01T15:00:00Z"
    lo, hi = datetime(2026, 1, 1, 11, tzinfo=UTC), datetime(2026, 1, 1, 15, tzinfo=UTC)
    assert _walk(mem, "alice", limit=2, since=since, until=until) == \
        _expected(mems, "alice", lambda m: lo <= m.time <= hi)
    assert [m.text for m in mem.list("bob")] == ["bob's only note"]
    assert len(mem.list("nobody")) == 0


def test_list_rejects_bad_input(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    _fill(mem)
    for bad in (0, 1001, True, "5"):
        with pytest.raises(ltm.InvalidInput):
            mem.list("alice", limit=bad)  # type: ignore[arg-type]
    for cursor in ("nonsense", "12.", "x.01J00000000000000000000000", 5):
        with pytest.raises(ltm.InvalidInput):
            mem.list("alice", cursor=cursor)  # type: ignore[arg-type]
    with pytest.raises(ltm.InvalidInput):
        mem.list("alice", order="sideways")
    with pytest.raises(ltm.ScopeError):
        mem.list("")


def test_user_stats_counts(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    mems = _fill(mem)
    live = [m for m in mems if m.user == "alice" and m.expires_at is None]
    st = mem.user_stats("alice")
    assert st.user == "alice" and st.memories == len(live) == 23
    assert st.by_kind == {"fact": sum(m.kind == "fact" for m in live),
                          "episode": sum(m.kind == "episode" for m in live)}
    by_session = {s.session: s for s in st.sessions}
    for name in ("s0", "s1", "s2"):
        rows = [m for m in live if m.session == name]
        assert by_session[name].count == len(rows)
        assert by_session[name].first == min(m.time for m in rows)
        assert by_session[name].last == max(m.time for m in rows)
    assert [s.last for s in st.sessions] == sorted((s.last for s in st.sessions), reverse=True)
    assert st.per_day == [("2026-01-01", 23)]
    assert st.first == min(m.time for m in live) and st.last == max(m.time for m in live)
    empty = mem.user_stats("nobody")
    assert empty.memories == 0 and empty.sessions == [] and empty.first is None


def test_async_store_wraps_every_public_call(location: Location) -> None:
    public = {n for n, f in inspect.getmembers(ltm.MemoryStore, inspect.isfunction)
              if not n.startswith("_") and n != "close"}
    assert public <= set(ASYNC_METHODS) and {"add", "search", "list"} <= public

    async def main() -> None:
        async with await ltm.open_async(location, embedder="hash") as mem:
            assert isinstance(mem, ltm.AsyncMemoryStore)
            for name in public:  # every public call of the store, awaitable
                assert inspect.iscoroutinefunction(getattr(mem, name)), name
            with pytest.raises(AttributeError):
                mem.no_such_call  # noqa: B018
            m = await mem.add("I moved to Lisbon in March", user="alice", session="s1")
            got = await mem.get(m.id, user="alice")
            assert got == m
            # calls run concurrently in threads and all land
            await asyncio.gather(*(mem.add(f"note {i}", user="alice") for i in range(8)))
            hits = await mem.search("where did I move", user="alice", k=3)
            assert hits[0].memory.id == m.id
            page = await mem.list("alice", limit=5)
            assert len(page) == 5 and page.next_cursor is not None
            assert (await mem.user_stats("alice")).memories == 9
            with pytest.raises(ltm.NotFound):
                await mem.get("01J00000000000000000000000", user="alice")
            receipt = await mem.forget(m.id, user="alice")
            assert receipt.ids == [m.id]

    asyncio.run(main())
