"""A write lock held by another process past the busy timeout is a typed, retryable error."""

import sqlite3

import pytest

import ltm
from ltm.backends.sqlite import SqliteBackend


def test_held_write_lock_raises_store_busy(tmp_path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        mem.add("first", user="u")
        before = mem.search("first", user="u", k=5)
        backend = mem.backend
        assert isinstance(backend, SqliteBackend)
        backend.conn.execute("PRAGMA busy_timeout = 50")
        other = sqlite3.connect(tmp_path / "s" / "memories.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(ltm.StoreBusy) as info:
                mem.add("second", user="u")
            assert isinstance(info.value, ltm.StoreError)
        finally:
            other.execute("ROLLBACK")
            other.close()
        # nothing half-written, and the store works once the lock is gone
        assert [h.memory.text for h in mem.search("first", user="u", k=5)] == \
            [h.memory.text for h in before]
        mem.add("second", user="u")
        assert any(h.memory.text == "second" for h in mem.search("second", user="u", k=5))
