"""``erase="fast"`` as the setting promises it (QA of issue 2): a forget then skips the
compaction, which "defers that to the next gc / close". Neither did it: after the forget,
close() and a gc with nothing to do, the forgotten text was still in memories.db (read as raw
bytes). A forget now marks its erasure pending in the same transaction; close(), gc() and the
next full forget compact what is pending."""

from __future__ import annotations

from pathlib import Path

import ltm

SECRET = b"zanzibar42"


def _files_holding(folder: Path, needle: bytes = SECRET) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and needle in p.read_bytes())


def _store(path: Path) -> None:
    with ltm.open(path, embedder="hash") as mem:
        mem.add_many([{"text": f"filler memory number {i} " * 5, "user": "bob"}
                      for i in range(300)])
        mem.add("the secret code is zanzibar42", user="alice", session="s1")


def test_a_fast_forget_is_compacted_at_close(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _store(path)
    with ltm.open(path, erase="fast") as mem:
        assert mem.forget(user="alice", session="s1").count == 1
    assert _files_holding(path) == []
    with ltm.open(path, erase="fast") as mem:  # nothing left pending
        assert mem.backend.get_meta("erase_pending") is None
        assert mem.user_stats("bob").memories == 300


def test_a_fast_forget_is_compacted_by_the_next_gc(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _store(path)
    with ltm.open(path, erase="fast") as mem:
        mem.forget(user="alice")
        assert mem.gc().count == 0  # nothing of its own to do
        assert _files_holding(path) == []  # before the close
        assert mem.user_stats("bob").memories == 300


def test_a_full_forget_leaves_nothing_pending(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _store(path)
    with ltm.open(path) as mem:
        mem.forget(user="alice")
        assert mem.backend.get_meta("erase_pending") is None
        assert _files_holding(path) == []
