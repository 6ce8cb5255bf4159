"""The full-text index survives any number of forgets (issue 14, F1), and its per-term counts
follow forgets and updates, this process's and another's (F3)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.backends.base import Filters
from ltm.backends.sqlite import _FTS_MAX_LEVELS, _fts_levels
from ltm.errors import StoreError

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

FTS5_LEVEL_LIMIT = 2_000  # FTS5 reads a structure record of more levels as corrupt


def _structure(store: ltm.MemoryStore) -> bytes:
    """The full-text index's structure record (row 10 of memories_fts_data)."""
    row = store.backend.conn.execute(  # type: ignore[attr-defined]
        "SELECT block FROM memories_fts_data WHERE id = 10").fetchone()
    return bytes(row[0])


def _levels(store: ltm.MemoryStore) -> int:
    levels = _fts_levels(_structure(store))
    assert levels is not None
    return levels


def _assert_index_matches_table(store: ltm.MemoryStore) -> None:
    """FTS5's own check of the index against the text it indexes (rank 1: with content), and
    one indexed row per memory."""
    conn = store.backend.conn  # type: ignore[attr-defined]
    conn.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
    indexed = conn.execute("SELECT count(*) FROM memories_fts_docsize").fetchone()[0]
    assert indexed == conn.execute("SELECT count(*) FROM memories").fetchone()[0]


def _notes(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"text": f"note {i} about the harbour crane number{i}", "user": "u"}
            for i in range(start, start + n)]


# -- F1: the structure record stays bounded ------------------------------------------------

def test_forgets_through_the_api_keep_the_structure_record_bounded(
        open_store: Callable[..., ltm.MemoryStore], store_path: Path) -> None:
    """Each forget (default erase) merges the full-text index; on SQLite 3.40 every merge
    added two empty levels to FTS5's structure record, and past 2,000 the table read as
    corrupt. Past ``_FTS_MAX_LEVELS // 2`` forgets the index is rebuilt instead."""
    store = open_store(embedder="hash")
    forgets = _FTS_MAX_LEVELS // 2 + 12
    # enough memories left that the index spans several pages (the merges of an index of one
    # page, which sits on one level, add no levels)
    notes = _notes(forgets + 400)
    for i, note in enumerate(notes[:forgets]):  # what is forgotten holds a secret word
        note["text"] += f" zanzibarsecret{i}"
    ids = [m.id for m in store.add_many(notes)]
    most = rebuilt = previous = 0
    for i, mid in enumerate(ids[:forgets]):
        assert store.forget(mid, user="u").count == 1
        levels = _levels(store)
        rebuilt += levels < previous
        most, previous = max(most, levels), levels
        if i == forgets // 2:
            store.close()
            store = open_store(embedder="hash")
            store.add("a harbour note added between forgets", user="u")
    assert most <= _FTS_MAX_LEVELS
    assert rebuilt == 1
    assert len(_structure(store)) < 1_000
    assert {h.memory.id for h in store.search(f"number{forgets - 1}", user="u", k=3)} \
        .isdisjoint(ids[:forgets])
    assert store.search(f"crane number{forgets + 5}", user="u", k=1)[0].memory.id \
        == ids[forgets + 5]
    _assert_index_matches_table(store)
    store.close()
    # the rebuild, like the merges, left the forgotten text in no file
    raw = b"".join(p.read_bytes() for p in sorted(store_path.rglob("*")) if p.is_file())
    assert b"zanzibarsecret" not in raw


def _forget_and_merge(store: ltm.MemoryStore, memory_id: str) -> None:
    """What one forget does to the full-text index (the delete, then the merge that drops the
    deleted entries, both under secure_delete ON), without the vector index save and the WAL
    checkpoint that take most of a forget's time."""
    backend: Any = store.backend
    assert backend.forget("u", ids=[memory_id], session=None, before=None,
                          compact=False).count == 1
    with backend._erasing(), backend.atomic() as c:
        backend._merge_fts(c)


def _many_forgets(open_store: Callable[..., ltm.MemoryStore], forgets: int) -> None:
    """``forgets`` single-id forgets, with adds every 40 and a reopen every 1,000."""
    store = open_store(embedder="hash")
    live = [m.id for m in store.add_many(_notes(200))]
    added = 200
    most = 0
    for i in range(forgets):
        if len(live) < 50 or i % 40 == 0:
            live += [m.id for m in store.add_many(_notes(60, added))]
            added += 60
        _forget_and_merge(store, live.pop(0))
        most = max(most, _levels(store))
        if i % 1_000 == 999:
            store.close()
            store = open_store(embedder="hash")
    assert most <= _FTS_MAX_LEVELS
    assert len(_structure(store)) < 1_000
    hits = store.search(f"crane number{added - 1}", user="u", k=1)
    assert hits[0].memory.id == live[-1]
    store.forget(live[-1], user="u")  # the whole public path still works at the end
    assert store.backend.scope_count("u") == len(live) - 1  # type: ignore[attr-defined]
    _assert_index_matches_table(store)


def test_3000_forgets_keep_the_full_text_index_usable(
        open_store: Callable[..., ltm.MemoryStore]) -> None:
    """Past the old breaking point (about 1,000 forgets)."""
    _many_forgets(open_store, 3_000)


@pytest.mark.benchmark
def test_20000_forgets_keep_the_full_text_index_usable(
        open_store: Callable[..., ltm.MemoryStore]) -> None:
    _many_forgets(open_store, 20_000)


# -- F1: a store already broken is repaired on open -----------------------------------------

def _break_like_before(store: ltm.MemoryStore) -> int:
    """Forget one memory at a time the way ltm did before the fix (a delete, then FTS5's
    'optimize'), until FTS5 reads its own table as corrupt; returns how many it took."""
    conn = store.backend.conn  # type: ignore[attr-defined]
    rows = [n for (n,) in conn.execute("SELECT n FROM memories ORDER BY n")]
    for done, n in enumerate(rows):
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM memories WHERE n = ?", (n,))
            conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
            conn.execute("COMMIT")
        except sqlite3.DatabaseError:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return done
    raise AssertionError("the full-text index never broke")


@pytest.fixture
def broken_store(store_path: Path) -> tuple[Path, list[str]]:
    """A store whose full-text index FTS5 cannot open any more (structure record past 2,000
    levels), built on the old forget path; and the ids of the memories it still holds."""
    store = ltm.open(store_path, embedder="hash")
    try:
        # enough that the index left past 1,000 forgets spans several pages (an index of one
        # page sits on one level, and the merges no longer add levels)
        ids = [m.id for m in store.add_many(_notes(1_300))]
        started = time.perf_counter()
        done = _break_like_before(store)
        assert FTS5_LEVEL_LIMIT // 2 - 5 <= done <= FTS5_LEVEL_LIMIT // 2 + 5
        assert time.perf_counter() - started < 30
        with pytest.raises(sqlite3.DatabaseError):
            store.backend.conn.execute(  # type: ignore[attr-defined]
                "SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'harbour'")
        # while it is open, the calls that reach the full-text index fail with a typed error
        with pytest.raises(StoreError):
            store.forget(ids[-1], user="u")
        with pytest.raises(StoreError):
            store.search("harbour crane", user="u")
    finally:
        store.close()
    return store_path, ids[done:]


def test_a_store_broken_by_forgets_is_repaired_when_opened(
        broken_store: tuple[Path, list[str]]) -> None:
    path, live = broken_store
    with ltm.open(path, embedder="hash") as store:
        assert _levels(store) < 10
        _assert_index_matches_table(store)
        assert store.search(f"crane number{1_299}", user="u", k=1)[0].memory.id == live[-1]
        assert store.forget(live[-1], user="u").count == 1
        assert store.search(f"crane number{1_299}", user="u", k=1)[0].memory.id != live[-1]
        new = store.add("a new note about the lighthouse", user="u")
        assert store.search("lighthouse", user="u", k=1)[0].memory.id == new.id
        store.update(live[0], user="u", text="rewritten about a windmill")
        assert store.search("windmill", user="u", k=1)[0].memory.id == live[0]
        _assert_index_matches_table(store)
    with ltm.open(path, embedder="hash") as store:  # the repair is not repeated
        assert _levels(store) < 10


# -- F3: per-term counts follow forgets and updates ----------------------------------------

WORDS = 1_000


def _shared_word_store(copen: Callable[..., ltm.MemoryStore]) -> tuple[ltm.MemoryStore,
                                                                       list[str]]:
    """1,000 memories of one user that all hold "lisbon", a quarter also "tram"."""
    store = copen(embedder="hash")
    ids = [m.id for m in store.add_many(
        [{"text": f"lisbon {'tram ' if i % 4 == 0 else ''}diary entry {i}", "user": "u"}
         for i in range(WORDS)])]
    return store, ids


QUERIES = ["lisbon tram", "lisbon", "tram diary"]


def _text_scores(store: ltm.MemoryStore) -> dict[str, list[tuple[str, float]]]:
    """Every query's full-text results, both through the general path and the scope path."""
    out: dict[str, list[tuple[str, float]]] = {}
    backend: Any = store.backend
    for q in QUERIES:
        out[q] = [(i, round(s, 9)) for i, s in backend.text_search(q, Filters(user="u"), 50)]
        view = backend.scope_view("u")
        if view is not None:  # the fast path over the user's scope
            (pos, sc), = backend.scope_text(q, view, [(view.live(None), 50)])
            out["scope " + q] = [(view.ids[p], round(float(s), 9)) for p, s in zip(pos, sc)]
    return out


def _prime(store: ltm.MemoryStore) -> None:
    """Fill the store's caches of counts (what a first search does)."""
    _text_scores(store)
    for q in QUERIES:
        store.search(q, user="u", k=5)


def _same_as_fresh(store: ltm.MemoryStore, copen: Callable[..., ltm.MemoryStore]) -> None:
    for q in QUERIES:
        assert store.search(q, user="u", k=5)
    fresh = copen(embedder="hash")  # no cached counts
    assert _text_scores(store) == _text_scores(fresh)


def test_counts_follow_forgets(copen: Callable[..., ltm.MemoryStore]) -> None:
    store, ids = _shared_word_store(copen)
    _prime(store)
    for mid in ids[:40:4]:  # ten memories holding both words
        store.forget(mid, user="u")
    _same_as_fresh(store, copen)


def test_counts_follow_updates(copen: Callable[..., ltm.MemoryStore]) -> None:
    store, ids = _shared_word_store(copen)
    _prime(store)
    for mid in ids[:40:4]:
        store.update(mid, user="u", text="a diary entry from porto")
    _same_as_fresh(store, copen)


def test_counts_follow_another_process(copen: Callable[..., ltm.MemoryStore]) -> None:
    store, ids = _shared_word_store(copen)
    _prime(store)
    other = copen(embedder="hash")  # another connection, as another process would be
    for mid in ids[:40:4]:
        other.forget(mid, user="u")
    for mid in ids[40:80:4]:
        other.update(mid, user="u", text="a diary entry from porto")
    _same_as_fresh(store, copen)
