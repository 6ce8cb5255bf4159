"""Migrations that change rows a store already holds."""

from __future__ import annotations

import psycopg
import pytest

import ltm
from ltm.backends.postgres import PostgresBackend

pytestmark = pytest.mark.postgres


def test_captions_written_before_they_were_full_text_become_searchable(
        pg_store_url: str) -> None:
    texts = ["look at what we saw this morning", "the harbour at noon", "I had pasta"]
    with ltm.open(pg_store_url, embedder="hash", dense_weight=0.0) as store:
        store.add_many([
            {"text": texts[0], "user": "u", "metadata": {"caption": "a red kayak on a lake",
                                                        "speaker": "Ann"}},
            {"text": texts[1], "user": "u", "metadata": {"title": "boats", "caption": None}},
            {"text": texts[2], "user": "u"}])
        backend = store.backend
        assert isinstance(backend, PostgresBackend)
        dsn, m, st = backend.dsn, backend._m, backend._st
        migrations = f"{backend._s}.migrations"
    # what a store written before 0006 holds: the caption not in the full-text words, the
    # user's BM25 lengths without them, and no record of the migration
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"UPDATE {m} SET fts_extra = 'Ann' WHERE text = %s", [texts[0]])
        conn.execute(f"UPDATE {st} SET lexemes = (SELECT sum(length(tsv)) FROM {m})")
        conn.execute(f"DELETE FROM {migrations} WHERE name = '0006_caption_full_text'")
        before = conn.execute(f"SELECT lexemes, version FROM {st}").fetchone()
    with ltm.open(pg_store_url, embedder="hash", dense_weight=0.0) as store:
        backend = store.backend
        assert isinstance(backend, PostgresBackend)
        assert "0006_caption_full_text" in backend.migrations()
        hits = {h.memory.text: h.signals["text"] for h in store.search("kayak", user="u", k=5)}
        assert hits[texts[0]] > 0
        assert hits.get(texts[1], 0.0) == hits.get(texts[2], 0.0) == 0
        assert store.search("ann", user="u", k=1)[0].memory.text == texts[0]
    with psycopg.connect(dsn, autocommit=True) as conn:
        extra = dict(conn.execute(f"SELECT text, fts_extra FROM {m}").fetchall())
        after = conn.execute(f"SELECT lexemes, version FROM {st}").fetchone()
    assert extra == {texts[0]: "Ann a red kayak on a lake", texts[1]: "boats", texts[2]: ""}
    assert before is not None and after is not None
    assert after[0] > before[0] and after[1] == before[1] + 1
