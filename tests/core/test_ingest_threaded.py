"""A large ``add_many`` runs its INSERTs on a thread of their own (``sqlite.backend._Statements``)
while the caller's thread builds the next rows' values, and numbers the episodes of every
session it continues with one read (``_last_seqs``). One transaction either way: a failure in
its last statement writes nothing, and the store takes the next batch; numbering continues
each session where the store left it, as a batch written statement by statement does."""

from __future__ import annotations

import sqlite3

import pytest

import ltm
from ltm.backends.sqlite import backend as sqlite_backend
from ltm.errors import InvalidInput


def _items(n: int, start: int = 0) -> list[dict[str, object]]:
    return [{"text": f"note {start + i} about topic {(start + i) % 17}",
             "user": f"u{(start + i) % 5}", "session": f"s{(start + i) % 7}"}
            for i in range(n)]


def _stored(path: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"{path}/memories.db") as c:
        return c.execute("SELECT user, session, seq, text FROM memories ORDER BY n").fetchall()


def test_failure_in_the_last_statement_writes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ltm.open(tmp_path / "s", embedder="hash")
    first = store.add_many(_items(300))
    before = _stored(tmp_path / "s")
    batch = _items(1000, start=300)
    assert len(batch) > sqlite_backend._THREADED_ROWS
    batch[-1]["id"] = first[0].id  # taken: the last INSERT statement fails
    with pytest.raises(InvalidInput):
        store.add_many(batch)
    assert _stored(tmp_path / "s") == before
    batch[-1].pop("id")
    added = store.add_many(batch)  # the connection is out of the failed transaction
    assert len(added) == 1000
    assert len(_stored(tmp_path / "s")) == 1300
    store.close()


def test_sessions_continue_across_batches(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ltm.open(tmp_path / "s", embedder="hash")
    got: dict[tuple[str, str], list[int | None]] = {}
    for start in (0, 700, 1400):  # threaded batches, each continuing all 35 sessions
        for m in store.add_many(_items(700, start=start)):
            assert m.session is not None
            got.setdefault((m.user, m.session), []).append(m.seq)
    for key, seqs in got.items():
        assert seqs == list(range(len(seqs))), key
    # what was returned is what was stored
    stored = {(u, s, q) for u, s, q, _ in _stored(tmp_path / "s")}
    assert stored == {(u, s, q) for (u, s), seqs in got.items() for q in seqs}
    store.close()
