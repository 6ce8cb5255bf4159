"""Scope snapshots (``scope_snap``): a writer leaves one per user it wrote, a reader in a new
process ranks from it exactly as from the rows, and every write that changes what a snapshot
holds removes it in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import ltm
from ltm.bench.corpus import Corpus
from ltm.index.scope import ScopeView


def _items(n: int, users: int) -> list[dict[str, Any]]:
    return [{"text": i.text, "user": i.user, "session": i.session, "time": i.time}
            for i in Corpus(n, users, 4).items()]


def _snapshots(store: ltm.MemoryStore) -> dict[str, bytes]:
    conn = store.backend.conn  # type: ignore[attr-defined]
    return {u: d for u, d in conn.execute("SELECT user, data FROM scope_snap")}


def _ranked(store: ltm.MemoryStore, queries: list[tuple[str, str]]) -> list[list[tuple[str, float]]]:
    return [[(h.memory.id, round(h.score, 9)) for h in store.search(q, user=u, k=10,
                                                                      now="2023-06-01")]
            for u, q in queries]


def test_round_trip_keeps_every_column() -> None:
    rows = [(7, "b", "s1", 2, True, 5.0, 0.9, False, 99), (3, "a", None, -1, False, 1.0, 0.5,
                                                            True, 2 ** 63 - 1),
            (5, "é-id", "s1", 1, True, 3.0, 0.2, False, 10)]
    view = ScopeView.from_rows("u", rows)
    back = ScopeView.from_bytes("u", view.to_bytes())
    assert back is not None
    assert back.ids == view.ids == ["a", "é-id", "b"]
    for name in ("rowids", "session", "seq", "has_seq", "time", "importance", "superseded",
                 "expires", "id_rank"):
        assert np.array_equal(getattr(back, name), getattr(view, name)), name
    empty = ScopeView.from_rows("u", [])
    back_empty = ScopeView.from_bytes("u", empty.to_bytes())
    assert back_empty is not None and len(back_empty) == 0
    assert ScopeView.from_bytes("u", b"something else") is None
    assert ScopeView.from_bytes("u", view.to_bytes()[:-20]) is None  # truncated


def test_writer_leaves_snapshots_and_reader_ranks_the_same(
        open_store: Callable[..., ltm.MemoryStore]) -> None:
    store = open_store(embedder="hash")
    store.add_many(_items(600, 3))
    store.add_many([{"text": "a note", "user": "small"}])  # under _SNAPSHOT_MIN rows
    queries = [(f"user-{i % 3:05d}", q) for i, (_, q) in
               enumerate(Corpus(600, 3, 4).queries(30, seed=9))]
    from_rows = _ranked(store, queries)
    store.close()
    reader = open_store(embedder="hash")
    snaps = _snapshots(reader)
    assert sorted(snaps) == ["user-00000", "user-00001", "user-00002"]
    view = reader.backend.scope_view("user-00001")  # type: ignore[attr-defined]
    assert view is not None and len(view) == 200
    assert not view.rowids.flags.writeable  # read from the blob, not rebuilt from rows
    assert _ranked(reader, queries) == from_rows


def test_writes_remove_snapshots_and_searches_never_see_stale_ones(
        open_store: Callable[..., ltm.MemoryStore]) -> None:
    store = open_store(embedder="hash")
    store.add_many(_items(400, 2))
    store.close()
    store = open_store(embedder="hash")
    assert len(_snapshots(store)) == 2
    first = store.search("where did I travel", user="user-00000", k=3)
    store.backend.touch([first[0].memory.id], 1, first[0].memory.user)  # type: ignore[attr-defined]
    assert len(_snapshots(store)) == 2  # access counts are not in a snapshot
    new = store.add("I travelled to Reykjavik by ferry", user="user-00000")
    assert sorted(_snapshots(store)) == ["user-00001"]  # in the insert's transaction
    hits = store.search("Reykjavik ferry", user="user-00000", k=3)
    assert hits[0].memory.id == new.id
    store.backend.flush()  # type: ignore[attr-defined]
    assert sorted(_snapshots(store)) == ["user-00000", "user-00001"]

    other = open_store(embedder="hash")  # another connection, as another process
    other.update(new.id, user="user-00000", importance=1.0)
    assert sorted(_snapshots(store)) == ["user-00001"]
    hit = store.search("Reykjavik ferry", user="user-00000", k=1)[0]
    assert hit.memory.importance == 1.0
    other.forget(user="user-00001")
    assert store.search("travel", user="user-00001", k=3) == []
    assert "user-00001" not in _snapshots(store)


def test_corrupt_snapshot_falls_back_to_rows(open_store: Callable[..., ltm.MemoryStore]) -> None:
    store = open_store(embedder="hash")
    store.add_many(_items(300, 1))
    expect = [h.memory.id for h in store.search("dinner with friends", user="user-00000")]
    store.close()
    store = open_store(embedder="hash")
    conn = store.backend.conn  # type: ignore[attr-defined]
    conn.execute("UPDATE scope_snap SET data = x'00010203'")
    assert [h.memory.id for h in store.search("dinner with friends", user="user-00000")] \
        == expect


def test_term_scores_equal_fts5_bm25(open_store: Callable[..., ltm.MemoryStore]) -> None:
    """The scope path's term-frequency part (highlight + docsize + averages) times the store
    IDF is FTS5's own bm25() for the same rows, including the weighted extra column."""
    from ltm.backends.sqlite import _phrase

    store = open_store(embedder="hash")
    items = _items(500, 2)
    items += [{"text": "Anna runs and runs and runs again", "user": "user-00000",
               "metadata": {"speaker": "Anna"}},
              {"text": "running shoes for the marathon", "user": "user-00000"}]
    store.add_many(items)
    backend: Any = store.backend
    scope = "u" + "user-00000".encode().hex()
    compared = 0
    for term in ["anna", "runs", "dinner", "friends", "week", "marathon"]:
        match = f'scope : "{scope}" AND {_phrase(term)}'
        rows = backend._term_rows(match)
        ours = {k: tf for k, tf, _ in rows}
        labelled = {r[0] for r in backend.conn.execute(
            "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?",
            (f'scope : "{scope}" AND extra : {_phrase(term)}',))}
        assert {k for k, _, lab in rows if lab} == labelled, term  # the labels' flag
        bm25 = dict(backend.conn.execute(
            "SELECT rowid, -bm25(memories_fts, 1.0, 0.0, 0.5) FROM memories_fts "
            "WHERE memories_fts MATCH ?", (match,)).fetchall())
        assert ours.keys() == bm25.keys(), term
        total = backend._total_count()
        hits = backend.conn.execute("SELECT count(*) FROM memories_fts WHERE memories_fts "
                                    "MATCH ?", (_phrase(term),)).fetchone()[0]
        from ltm.backends.sqlite import _idf
        for rowid, tf in ours.items():
            assert abs(tf * _idf(total, hits) - bm25[rowid]) < 1e-9 * max(1.0, bm25[rowid])
            compared += 1
    assert compared > 20


def test_store_from_before_external_content_is_migrated(
        open_store: Callable[..., ltm.MemoryStore], monkeypatch: Any) -> None:
    """A store written with the contentless full-text index (migrations up to 0004) opens
    with its index rebuilt from the table (0005), and ranks as before."""
    from ltm.backends.sqlite import schema

    # (0012 recreates the view and triggers that 0005 made: the store it stands for had its
    # rows' fts_text column, which this tree writes, and nothing else of it)
    earlier = [("0012_cjk_words", "ALTER TABLE memories ADD COLUMN fts_text TEXT;")
               if m[0] == "0012_cjk_words" else m
               for m in schema.MIGRATIONS if not m[0].startswith("0005")]
    assert len(earlier) == len(schema.MIGRATIONS) - 1
    monkeypatch.setattr(schema, "MIGRATIONS", earlier)
    old = open_store(embedder="hash")
    old.add_many(_items(300, 1))
    queries = ["dinner plans", "my sister's birthday", "the dentist appointment"]
    before = [[h.memory.id for h in old.search(q, user="user-00000")] for q in queries]
    assert all(before)
    conn: Any = old.backend.conn  # type: ignore[attr-defined]
    assert "content=''" in conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'memories_fts'").fetchone()[0]
    old.close()
    monkeypatch.undo()
    new = open_store(embedder="hash")
    conn = new.backend.conn  # type: ignore[attr-defined]
    assert "content='memories_fts_src'" in conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'memories_fts'").fetchone()[0]
    assert [[h.memory.id for h in new.search(q, user="user-00000")] for q in queries] \
        == before
    added = new.add("dinner plans with Priya on Friday", user="user-00000")
    assert added.id in [h.memory.id for h in new.search("dinner plans", user="user-00000")]


def test_highlight_and_bm25_term_scoring_rank_alike(
        open_store: Callable[..., ltm.MemoryStore], monkeypatch: Any) -> None:
    """The two ways of scoring a term within a scope (highlight() where the store dwarfs the
    scope, bm25() otherwise) give the same scores, in the scope path and the general one."""
    from ltm.backends.base import Filters
    from ltm.backends.sqlite import fulltext

    store = open_store(embedder="hash")
    store.add_many(_items(900, 3))
    queries = [(f"user-{i % 3:05d}", q) for i, (_, q) in
               enumerate(Corpus(900, 3, 4).queries(25, seed=11))]
    backend: Any = store.backend
    runs = []
    for ratio in (10**9, 0):  # bm25() always, highlight() always
        monkeypatch.setattr(fulltext, "_HIGHLIGHT_RATIO", ratio)
        scoped = [[(h.memory.id, round(h.score, 7)) for h in store.search(q, user=u, k=10)]
                  for u, q in queries]
        general = [[(mid, round(sc, 7)) for mid, sc in backend.text_search(
            q, Filters(user=u, kinds=("episode",)), 10)] for u, q in queries]
        runs.append((scoped, general))
    assert runs[0] == runs[1]
    assert sum(len(r) for r in runs[0][1]) > 100


def test_reader_searches_while_another_connection_holds_the_write_lock(
        open_store: Callable[..., ltm.MemoryStore]) -> None:
    """A reader that would write snapshots gives up at once when the store is locked by a
    writer, answers its searches from the rows, and writes them later."""
    from ltm.backends import sqlite as backend_sqlite

    store = open_store(embedder="hash")
    store.add_many(_items(40 * 80, 40))  # 40 users x 80 rows: over _SNAPSHOT_BATCH scopes
    store.backend.conn.execute("DELETE FROM scope_snap")  # type: ignore[attr-defined]
    reader = open_store(embedder="hash")
    writer: Any = store.backend
    writer.conn.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
    try:
        for u in range(40):
            assert reader.search("dinner plans", user=f"user-{u:05d}", k=3)
        assert len(reader.backend._snap_pending) >= backend_sqlite._SNAPSHOT_BATCH  # type: ignore[attr-defined]
    finally:
        writer.conn.execute("ROLLBACK")
    reader.backend.flush()  # type: ignore[attr-defined]
    assert len(_snapshots(reader)) == 40
