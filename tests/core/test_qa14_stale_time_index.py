"""A large scope's time index is dropped when another process forgets the user whole (it names
the user); a process that used it before must not query it by name afterwards (SQLite raised a
raw OperationalError 'no such index' on list and search of that user, also once the user wrote
again)."""

from __future__ import annotations

from pathlib import Path

import ltm


def test_a_stale_process_reads_a_scope_whose_time_index_another_dropped(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with ltm.open(path, embedder="hash", hnsw_min_scope=40) as first, \
            ltm.open(path, embedder="hash", hnsw_min_scope=40) as other:
        first.add_many([{"text": f"note {i}", "user": "alice",
                         "time": f"2026-01-{i % 28 + 1:02d}"} for i in range(60)])
        assert len(first.list("alice", since="2026-01-02", limit=100).memories) == 57
        first.search("note", user="alice", since="2026-01-02")
        other.forget(user="alice")
        assert first.list("alice", since="2026-01-02").memories == []
        assert first.search("note", user="alice", since="2026-01-02") == []
        first.add_many([{"text": f"again {i}", "user": "alice", "time": "2026-02-01"}
                        for i in range(50)])
        assert len(first.list("alice", since="2026-01-02", limit=100).memories) == 50
        assert first.search("again", user="alice", since="2026-01-02")
