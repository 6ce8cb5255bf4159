"""SQLite / PostgreSQL parity of the full-text signal on accented words (issue 15: the same
store and query give the same ranking and relevance on either backend). SQLite's tokenizer
folds diacritics (``remove_diacritics 2``): "cafe Zurich" matches "café in Zürich", as people
type names and places without their accents. PostgreSQL's ``english`` configuration did not:
the same query had no full-text match there (relevance 0.038 against SQLite's 0.165), and
"Munchen" ranked a Russian sentence above "Ich habe in München gewohnt"."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

MEMORIES = ["I visited the café in Zürich with Zoë",
            "We ate crème brûlée at the corner bistro",
            "Мы гуляли по Москве в мае",
            "Ich habe in München gewohnt",
            "I had coffee with Renée in São Paulo",
            "Naïve plan to visit Kraków",
            "The Ærø ferry and the Øresund bridge"]
ASKED = {"cafe Zurich": 0, "Zoe": 0, "creme brulee": 1, "Munchen": 3, "Renee": 4,
         "Sao Paulo": 4, "naive krakow": 5, "café Zürich": 0, "MÜNCHEN": 3}


def test_accents_fold_in_the_full_text(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    ids = [mem.add(t, user="u").id for t in MEMORIES]
    plain = mem.add("I visited the cafe in Zurich last year", user="v")
    for query, want in ASKED.items():
        top = mem.search(query, user="u", k=1)[0]
        assert top.memory.id == ids[want], query
        assert top.signals["text_rel"] > 0.5, (query, top.signals["text_rel"])
    # and the other way round: accents in the query, none in the memory
    top = mem.search("café Zürich", user="v", k=1)[0]
    assert top.memory.id == plain.id and top.signals["text_rel"] > 0.5


@pytest.mark.postgres
def test_a_store_written_before_the_folding_is_migrated(
        new_location: Callable[[str], str]) -> None:
    import psycopg

    from ltm.backends.postgres import PostgresBackend
    from ltm.backends.postgres.schema import TEXT_CONFIG

    url = new_location("postgres")
    with ltm.open(url) as mem:
        first = mem.add("Ich habe in München gewohnt", user="u")
        mem.add("We ate crème brûlée at the corner bistro", user="u")
        backend = mem.backend
        assert isinstance(backend, PostgresBackend)
        dsn, m, st = backend.dsn, backend._m, backend._st
        migrations = f"{backend._s}.migrations"
    # what a store written before the migration holds: the unfolded column and lengths
    old = (f"setweight(to_tsvector('{TEXT_CONFIG}'::regconfig, text), 'A') || "
           f"setweight(to_tsvector('{TEXT_CONFIG}'::regconfig, fts_extra), 'B')")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {m} DROP COLUMN tsv")
        conn.execute(f"ALTER TABLE {m} ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({old}) "
                     "STORED")
        conn.execute(f"CREATE INDEX memories_tsv ON {m} USING gin (tsv)")
        conn.execute(f"DELETE FROM {migrations} WHERE name = '0008_fold_diacritics'")
        version = conn.execute(f"SELECT version FROM {st}").fetchone()
    with ltm.open(url) as mem:
        top = mem.search("Munchen", user="u", k=1)[0]
        assert top.memory.id == first.id and top.signals["text_rel"] > 0.5
    with psycopg.connect(dsn, autocommit=True) as conn:
        after = conn.execute(f"SELECT version FROM {st}").fetchone()
    assert version is not None and after is not None and after[0] == version[0] + 1
