"""A compaction that could not finish leaves the erasure pending instead of reporting it done.
``compact`` read neither of two failures: the WAL checkpoint that another connection kept busy
(a reader on an older snapshot, such as a backup or replication tool, or a writer past the
busy timeout; SQLite answers it as a result row, not an error), after which a full forget
returned while the erased text was still in memories.db and its -wal (read as raw bytes), and
an index generation that could not be written (a full disk, the write lock taken meanwhile:
``flush`` logs that and goes on), after which the erasure was marked done while the previous
generation's vectors.npy still held the erased vector. Both are now StoreError from
``compact``: forget says the store could not be compacted, the erasure stays pending, and the
next forget, gc or close compacts it. A gc's own erasures (erase="full") were compacted
without that mark: they are now marked pending first too, and compacted by ``MemoryStore.gc``
as a fast forget's are."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

import ltm
from ltm.errors import StoreError

SECRET = b"quokkavault93"


def _files_holding(folder: Path, *needles: bytes) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and any(n in p.read_bytes() for n in needles))


def _store(path: Path) -> str:
    with ltm.open(path, embedder="hash") as mem:
        mem.add_many([{"text": f"filler memory number {i} about the harbour", "user": "bob"}
                      for i in range(100)])
        return mem.add("the vault code is quokkavault93", user="alice").id


def test_a_reader_on_an_older_snapshot_leaves_the_forget_pending(tmp_path: Path) -> None:
    path = tmp_path / "s"
    mid = _store(path)
    reader = sqlite3.connect(path / "memories.db", isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM memories").fetchone()[0] == 101
        with ltm.open(path, embedder="hash", busy_timeout_ms=200) as mem:
            try:
                mem.forget(mid, user="alice")
            except StoreError as exc:
                assert "could not be compacted" in str(exc)
                assert mem.backend.get_meta("erase_pending") == "1"
            else:  # (before: returned while the text was still in a file)
                assert _files_holding(path, SECRET) == []
            assert mem.search("vault code", user="alice") == []
            reader.execute("COMMIT")
    finally:
        reader.close()
    assert _files_holding(path, SECRET) == []  # the close compacted what was pending
    with ltm.open(path, embedder="hash") as mem:
        assert mem.backend.get_meta("erase_pending") is None


def test_an_index_not_written_leaves_the_forget_pending(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s"
    mid = _store(path)
    with ltm.open(path, embedder="hash", erase="fast") as mem:
        backend = mem.backend
        n = backend.conn.execute("SELECT n FROM memories WHERE id = ?",  # type: ignore[attr-defined]
                                 (mid,)).fetchone()[0]
        vector = np.asarray(backend._vector_index().vectors_of(  # type: ignore[attr-defined]
            np.array([n])), np.float32)[0].tobytes()
        assert _files_holding(path, vector) == ["index/gen-1/vectors.npy", "memories.db"]
        mem.forget(mid, user="alice")  # fast: compacted later

        def full_disk() -> None:
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as m:
            m.setattr(backend, "_save_index", full_disk)
            with pytest.raises(StoreError, match="erased vectors"):
                mem.gc()  # (compacts what the fast forget left)
            assert backend.get_meta("erase_pending") == "1"  # before: None, vector on disk
        assert _files_holding(path, vector) != []
    assert _files_holding(path, vector, SECRET) == []  # the close compacted it


def test_a_reader_on_an_older_snapshot_leaves_a_gc_pending(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _store(path)
    with ltm.open(path, embedder="hash") as mem:
        mem.update(mem.search("vault code", user="alice")[0].memory.id, user="alice",
                   expires_at="2020-01-01")
    reader = sqlite3.connect(path / "memories.db", isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM memories").fetchone()[0] == 101
        with ltm.open(path, embedder="hash", busy_timeout_ms=200) as mem:
            with pytest.raises(StoreError):
                mem.gc()  # (expires the memory; its compaction cannot finish)
            assert mem.backend.get_meta("erase_pending") == "1"  # before: None
            assert mem.user_stats("alice").memories == 0
            reader.execute("COMMIT")
    finally:
        reader.close()
    assert _files_holding(path, SECRET) == []
