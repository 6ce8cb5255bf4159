"""``reindex`` brings rows an older ltm process wrote after the upgrade up to this version, on
every backend: their full text (word parts, hyphenated words) and, with ``embeddings=True``,
their vectors (a text in capitals alone is embedded with its lower-case form since
``wordllama._uncapped``). The older rows are made as such a process writes them: the full text
it gave (no ``fts_text``; on PostgreSQL the length of the plain text), the vector through the
backend's update path."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import numpy as np
import pytest

import ltm
from ltm.backends.base import Filters
from ltm.backends.postgres.schema import DOC_LENGTH, token_lengths
from ltm.backends.sqlite import SqliteBackend
from ltm.embed import normalize_rows

OLD = "my Wi-Fi password is taped under the router"
TEXTS = [OLD, "I had pasta for dinner", "the train was late again", "we walked 12km on Sunday",
         "the router in the hallway blinks red", "call the landlord about the heating"]


def _written_the_old_way(store: ltm.MemoryStore, memory_id: str) -> None:
    """Give the row the full text an ltm before word parts wrote: its plain text (as the
    older process's write moves the user's version and BM25 lengths)."""
    backend = store.backend
    if isinstance(backend, SqliteBackend):
        db = sqlite3.connect(backend.folder / "memories.db")
        try:
            with db:
                db.execute("UPDATE memories SET fts_text = NULL WHERE id = ?", (memory_id,))
        finally:
            db.close()
        return
    import psycopg

    m, st = backend._m, backend._st  # type: ignore[attr-defined]
    with psycopg.connect(backend.dsn, autocommit=True) as conn:  # type: ignore[attr-defined]
        text, extra = conn.execute(f"SELECT text, fts_extra FROM {m} WHERE id = %s",
                                   [memory_id]).fetchone()  # type: ignore[misc]
        conn.execute(f"UPDATE {m} SET fts_text = NULL, tokens = %s WHERE id = %s",
                     [token_lengths([(text, extra)])[0], memory_id])
        conn.execute(f"UPDATE {st} s SET lexemes = (SELECT sum({DOC_LENGTH}) FROM {m} m WHERE "
                     f"m.user_id = s.user_id), version = version + 1")


def _text_scores(store: ltm.MemoryStore, query: str) -> dict[str, float]:
    return {h.memory.text: round(h.signals["text"], 6)
            for h in store.search(query, user="u", k=len(TEXTS))}


def test_an_older_rows_full_text_is_written_afresh(copen: Callable[..., ltm.MemoryStore],
                                                    new_location: Callable[[str], object],
                                                    backend_kind: str) -> None:
    store = copen(embedder="hash", dense_weight=0.0)
    added = store.add_many([{"text": t, "user": "u"} for t in TEXTS])
    assert _text_scores(store, "wifi")[OLD] > 0
    _written_the_old_way(store, added[0].id)
    store.close()
    older = copen(embedder="hash", dense_weight=0.0)  # (a process of its own: no caches)
    assert _text_scores(older, "wifi").get(OLD, 0.0) == 0  # "Wi-Fi" is "wi" and "fi" alone
    assert older.reindex() == {"checked": len(TEXTS), "rewritten": 1, "reembedded": 0}
    assert _text_scores(older, "wifi")[OLD] > 0
    assert older.reindex() == {"checked": len(TEXTS), "rewritten": 0, "reembedded": 0}
    # ranked as the same memories written by this version: the row's BM25 length, the
    # user's mean length, the documents holding each word, all as they are written now
    with ltm.open(new_location(backend_kind), embedder="hash", dense_weight=0.0) as fresh:
        fresh.add_many([{"text": t, "user": "u"} for t in TEXTS])
        for query in ("wifi", "wi fi router", "12 km", "router password"):
            assert _text_scores(older, query) == _text_scores(fresh, query), query


def test_reindex_of_one_user_leaves_the_others(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash", dense_weight=0.0)
    mine = store.add(OLD, user="u")
    theirs = store.add(OLD, user="v")
    _written_the_old_way(store, mine.id)
    _written_the_old_way(store, theirs.id)
    store.close()
    older = copen(embedder="hash", dense_weight=0.0)
    assert older.reindex(user="v") == {"checked": 1, "rewritten": 1, "reembedded": 0}
    assert [h.memory.id for h in older.search("wifi", user="v", k=1)] == [theirs.id]
    assert [h for h in older.search("wifi", user="u", k=1) if h.signals["text"] > 0] == []
    assert older.reindex()["rewritten"] == 1


def test_a_text_in_capitals_gets_its_newer_vector(copen: Callable[..., ltm.MemoryStore]
                                                  ) -> None:
    caps = "ERROR: DISK FULL ON DB-03"
    store = copen()  # the default embedder (WordLlama), which embeds capitals anew
    embedder = store.embedder
    added = store.add_many([{"text": t, "user": "u"} for t in [caps, *TEXTS]])
    # what an ltm before _uncapped stored: the sum of the text's own token rows
    ids = embedder.tokenizer.encode(caps, add_special_tokens=False).ids  # type: ignore[attr-defined]
    old = normalize_rows(embedder.matrix[ids].sum(axis=0, keepdims=True))[0]  # type: ignore[attr-defined]
    newer = embedder.embed([caps])[0]
    assert not np.allclose(old, newer, atol=1e-3)
    store.close()
    older_process = copen()
    older_process.backend.update(added[0].id, "u", {}, old, event="updated")
    older_process.close()
    store = copen()
    assert np.allclose(store.backend.vectors([added[0].id], "u")[added[0].id], old, atol=1e-6)
    before = {h.memory.id: h.signals["dense"] for h in store.search("disk full", user="u", k=3)}
    assert store.reindex() == {"checked": 7, "rewritten": 0, "reembedded": 0}
    assert store.reindex(embeddings=True) == {"checked": 7, "rewritten": 0, "reembedded": 1}
    vecs = store.backend.vectors([m.id for m in added], "u")
    for m, want in zip(added, embedder.embed([m.text for m in added])):
        assert np.allclose(vecs[m.id], want, atol=1e-5), m.text
    hits = store.search("disk full", user="u", k=3)
    assert hits[0].memory.id == added[0].id
    assert hits[0].signals["dense"] > before.get(added[0].id, -1.0)
    assert store.history(added[0].id, user="u")[-1].event == "reembedded"
    assert store.reindex(embeddings=True)["reembedded"] == 0


def test_reindex_refuses_a_bad_argument(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    with pytest.raises(ltm.errors.InvalidInput):
        store.reindex(embeddings="yes")  # type: ignore[arg-type]
    with pytest.raises(ltm.errors.ScopeError):
        store.reindex(user="")


def test_replaced_vectors_reach_an_hnsw_scope(copen: Callable[..., ltm.MemoryStore]) -> None:
    words = ("apple", "river", "violin", "garden", "harbor", "lantern", "pepper", "meadow")
    store = copen(embedder="hash", hnsw_min_scope=40, dense_weight=1.0)
    added = store.add_many([{"text": f"note {i}: {words[i % 8]} {words[i * 3 % 8]} {i * 7}",
                             "user": "u"} for i in range(80)])
    store.search("apple river", user="u", k=3)  # the scope's HNSW graph built
    store.close()
    older = copen(embedder="hash", hnsw_min_scope=40)
    rng = np.random.default_rng(3)
    stale = added[::8]
    for m in stale:
        vec = rng.normal(size=older.embedder.dim).astype(np.float32)
        older.backend.update(m.id, "u", {}, vec / np.linalg.norm(vec))
    older.close()
    store = copen(embedder="hash", hnsw_min_scope=40, dense_weight=1.0)
    want = store.embedder.embed([m.text for m in stale])
    assert all(store.backend.dense_search(v, Filters(user="u"), 1)[0][0] != m.id
               for m, v in zip(stale, want))  # (the older vectors are served)
    assert store.reindex(embeddings=True)["reembedded"] == len(stale)
    for m, vec in zip(stale, want):
        top = store.backend.dense_search(vec, Filters(user="u"), 1)
        assert [i for i, _ in top] == [m.id], m.text
