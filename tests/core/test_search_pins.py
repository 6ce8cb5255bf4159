"""One search reads what the SQLite backend's per-user caches are keyed on once
(``SqliteBackend.pinned``): the user's row of ``user_versions`` and the write mark, not once per
backend call. Inside a pin, a write of this connection (any thread) is still seen at once; a
write of another connection is seen by the next search. And ``memory_from_columns``, which
sets a Memory's fields directly, makes the Memory its constructor makes."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timezone
from pathlib import Path

import ltm
from ltm.backends.common import memory_from_columns
from ltm.backends.sqlite import SqliteBackend
from ltm.model import Memory


def _backend(store: ltm.MemoryStore) -> SqliteBackend:
    backend = store.backend
    assert isinstance(backend, SqliteBackend)
    return backend


def _fill(store: ltm.MemoryStore) -> None:
    store.add_many([{"text": f"turn {i}: we talked about boats and Lisbon", "user": "alice",
                     "session": "s1", "metadata": {"speaker": "Maria" if i % 2 else "Bob"}}
                    for i in range(8)] + [{"text": "Lisbon is sunny", "user": "bob"}])


def test_a_search_reads_the_user_version_once(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        _fill(store)
        store.search("what did Maria say about Lisbon", user="alice", k=5)  # warm
        seen: list[str] = []
        conn = _backend(store).conn
        conn.set_trace_callback(seen.append)
        try:
            # words not read before: each is read cold (the write mark once for all of them)
            hits = store.search("boats sunny harbour ferry", user="alice", k=5)
        finally:
            conn.set_trace_callback(None)
        assert hits
        assert sum("FROM user_versions" in s for s in seen) == 1  # (5 before)
        assert sum(s.startswith("PRAGMA data_version") for s in seen) <= 2  # (the vector
        # index's check and the write mark; one a cold word before)


def test_own_writes_inside_a_pin_are_seen(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        _fill(store)
        backend = _backend(store)
        with backend.pinned("alice"):
            before = backend.scope_view("alice")
            assert before is not None
            store.add("Lisbon in the rain", user="alice", session="s1")  # this thread
            grown = backend.scope_view("alice")
            assert grown is not None and len(grown) == len(before) + 1

            def write() -> None:
                store.add("Lisbon at night", user="alice", session="s1")

            other = threading.Thread(target=write)  # another thread, same connection
            other.start()
            other.join()
            again = backend.scope_view("alice")
            assert again is not None and len(again) == len(before) + 2
            assert backend.scope_count("alice") == len(before) + 2
        assert not backend._pins.__dict__  # (the pin is gone with its block)


def test_another_connections_write_reaches_the_next_search(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    with ltm.open(folder, embedder="hash") as store:
        _fill(store)
        backend = _backend(store)
        assert all("zebrafish" not in h.memory.text
                   for h in store.search("zebrafish", user="alice", k=20))
        with backend.pinned("alice"):
            n = backend.scope_count("alice")
            with ltm.open(folder, embedder="hash") as other:
                other.add("the zebrafish tank", user="alice")
            assert backend.scope_count("alice") == n  # as of the pin's read
        hits = store.search("zebrafish", user="alice", k=3)
        assert hits[0].memory.text == "the zebrafish tank"
        assert backend.scope_count("alice") == n + 1


def test_memory_from_columns_is_the_constructors_memory() -> None:
    at = [datetime(2026, 1, d, tzinfo=timezone.utc) for d in range(1, 7)]
    us = [int(t.timestamp()) * 1_000_000 for t in at]
    made = memory_from_columns("u", "m1", "agent", "s", "fact", "text", {"k": 1}, 0.7, us[0],
                               us[1], us[2], us[3], "m2", ["m0"], 4, us[4], 1, us[5], 3)
    want = Memory(id="m1", user="u", text="text", kind="fact", time=at[0], recorded_at=at[1],
                  agent="agent", session="s", metadata={"k": 1}, importance=0.7,
                  valid_from=at[2], valid_to=at[3], superseded_by="m2", sources=("m0",),
                  access_count=4, last_accessed=at[4], pinned=True, expires_at=at[5], seq=3)
    assert made == want
    assert dataclasses.asdict(made) == dataclasses.asdict(want)
    assert [f.name for f in dataclasses.fields(made)] == [f.name for f in
                                                          dataclasses.fields(Memory)]
    bare = memory_from_columns("u", "m1", None, None, "episode", "t", None, None, us[0],
                               us[0], None, None, None, None, 0, None, 0, None, None)
    assert bare == Memory(id="m1", user="u", text="t", kind="episode", time=at[0],
                          recorded_at=at[0])
