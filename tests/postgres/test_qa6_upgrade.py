"""QA of issue 6: a store whose schema stopped at any earlier migration opens with this
version: the missing migrations are applied in order, once, and its memories are found as
in a store made now."""

from __future__ import annotations

import secrets

import psycopg
import pytest
from postgres_support import drop_schema, with_schema

import ltm
from ltm.backends.postgres import PostgresBackend
from ltm.backends.postgres.schema import base_migrations, dim_migration, ident

TEXTS = ["I moved to Lisbon in March", "Mi café favorito está en Zürich",
         "look at this photo", "the violin lesson is on Tuesday"]


def _fill(store: ltm.MemoryStore) -> list[str]:
    ids = [m.id for m in store.add_many([
        {"text": TEXTS[0], "user": "ana", "session": "s1", "time": "2026-03-02"},
        {"text": TEXTS[1], "user": "ana", "session": "s1", "time": "2026-03-03"},
        {"text": TEXTS[2], "user": "ana", "metadata": {"caption": "a red kayak"}},
        {"text": TEXTS[3], "user": "bob", "kind": "fact"}])]
    return ids


@pytest.mark.parametrize("last", ["0001_initial", "0003_extraction_state",
                                  "0005_memories_user_time", "0007_memories_sources"])
def test_a_store_stopped_at_an_earlier_migration_is_upgraded(postgres_url: str,
                                                              last: str) -> None:
    now_schema, old_schema = "t_" + secrets.token_hex(6), "t_" + secrets.token_hex(6)
    try:
        with ltm.open(with_schema(postgres_url, now_schema), embedder="hash") as store:
            ids = _fill(store)
            want = {q: [h.memory.id for h in store.search(q, user="ana", k=3, now="2026-06-01")]
                    for q in ["Lisbon", "cafe Zurich", "kayak"]}
            dim = store.embedder.dim
        new, old = ident(now_schema), ident(old_schema)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            # the schema as that version left it, with the same rows
            conn.execute(f"CREATE SCHEMA {old}")
            conn.execute(f"CREATE TABLE {old}.migrations "
                         f"(name text PRIMARY KEY, applied_at bigint NOT NULL)")
            steps = base_migrations(old)
            steps.insert(1, dim_migration(old, dim))
            for name, statements in steps:
                if name > last and name != "0002_embedding_dim":
                    continue
                for sql in statements:
                    conn.execute(sql)  # type: ignore[call-overload]
                conn.execute(f"INSERT INTO {old}.migrations VALUES (%s, 0)", [name])
            cols = ("user_id, id, agent, session, kind, text, fts_extra, metadata, importance, "
                    "time, recorded_at, valid_from, valid_to, superseded_by, sources, "
                    "access_count, last_accessed, pinned, expires_at, seq, embedding")
            if last < "0006":  # before 0006 the caption was not full text
                cols_src = cols.replace("fts_extra", "''")
            else:
                cols_src = cols
            conn.execute(f"INSERT INTO {old}.memories ({cols}) SELECT {cols_src} "
                         f"FROM {new}.memories ORDER BY n")
            conn.execute(f"INSERT INTO {old}.meta SELECT * FROM {new}.meta")
            conn.execute(f"INSERT INTO {old}.user_stats (user_id, docs, lexemes) "
                         f"SELECT user_id, count(*), sum(length(tsv)) FROM {old}.memories "
                         f"GROUP BY user_id")
        with ltm.open(with_schema(postgres_url, old_schema), embedder="hash") as store:
            backend = store.backend
            assert isinstance(backend, PostgresBackend)
            assert backend.migrations() == sorted(
                [n for n, _ in base_migrations(old)] + ["0002_embedding_dim"])
            got = {q: [h.memory.id for h in store.search(q, user="ana", k=3, now="2026-06-01")]
                   for q in ["Lisbon", "cafe Zurich", "kayak"]}
            assert got == want
            assert store.user_stats("ana").memories == 3
            assert [m.id for m in store.list("ana", order="oldest").memories] == ids[:3]
            store.add("a new memory after the upgrade", user="ana", session="s1")
            assert [m.seq for m in store.list("ana", session="s1", order="oldest").memories
                    ] == [0, 1, 2]
            assert store.forget(user="bob").count == 1
    finally:
        drop_schema(postgres_url, now_schema)
        drop_schema(postgres_url, old_schema)
