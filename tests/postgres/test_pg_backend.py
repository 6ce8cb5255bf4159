"""What only the PostgreSQL backend has: migrations, pooling, concurrent writer processes, the
per-scope HNSW index, erasure in the database files, URL handling."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psycopg
import pytest

import ltm
from ltm.backends.base import Filters
from ltm.backends.postgres import PostgresBackend, redact, split_dsn
from ltm.errors import InvalidInput, StoreError

pytestmark = pytest.mark.postgres

HERE = Path(__file__).resolve().parent


def _unit(rng: np.random.Generator, n: int, dim: int = 256) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_migrations_recorded_once(pg_store_url: str) -> None:
    with ltm.open(pg_store_url, embedder="hash") as store:
        backend = store.backend
        assert isinstance(backend, PostgresBackend)
        assert backend.migrations() == ["0001_initial", "0002_embedding_dim", "0003_extraction_state", "0004_user_stats_version", "0005_memories_user_time", "0006_caption_full_text", "0007_memories_sources", "0008_fold_diacritics", "0009_token_lengths", "0010_cjk_words", "0011_split_punctuation", "0012_word_parts", "0013_hyphen_words", "0014_chunk_vectors"]
    # several processes opening one new store at once: each migration applied exactly once
    with ltm.open(pg_store_url, embedder="hash") as again:
        assert again.backend.migrations() == ["0001_initial", "0002_embedding_dim", "0003_extraction_state", "0004_user_stats_version", "0005_memories_user_time", "0006_caption_full_text", "0007_memories_sources", "0008_fold_diacritics", "0009_token_lengths", "0010_cjk_words", "0011_split_punctuation", "0012_word_parts", "0013_hyphen_words", "0014_chunk_vectors"]  # type: ignore[attr-defined]


def test_many_threads_share_the_pool(pg_store_url: str) -> None:
    with ltm.open(pg_store_url, embedder="hash") as store:
        def work(i: int) -> int:
            store.add(f"thread {i} says hello", user=f"t{i % 3}")
            return len(store.search("hello", user=f"t{i % 3}", k=50))

        with ThreadPoolExecutor(8) as pool:
            counts = list(pool.map(work, range(40)))
        assert store.stats()["memories"] == 40 and max(counts) <= 14


def test_concurrent_writer_processes_lose_nothing(pg_store_url: str) -> None:
    with ltm.open(pg_store_url, embedder="hash"):
        pass  # create the schema first, so the writers race on data, not on migrations
    workers, rounds = 4, 15
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent / "src")}
    procs = [subprocess.Popen([sys.executable, str(HERE / "_pg_writer.py"), pg_store_url,
                               str(w), str(rounds)], stdout=subprocess.PIPE, env=env, text=True)
             for w in range(workers)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * workers
    assert sum(int(o.strip()) for o in outs) == workers * rounds * 5
    with ltm.open(pg_store_url, embedder="hash") as store:
        assert store.stats()["memories"] == workers * rounds * 5
        shared = [m for m, _ in store.backend.iter_export("shared", with_vectors=False)]
        # one conversation appended to by four processes: turn numbers unique and gap-free
        assert sorted(m.seq for m in shared) == list(range(workers * rounds * 2))
        for w in range(workers):
            mine = sorted(m.seq for m in shared if m.text.startswith(f"worker {w} "))
            assert len(mine) == rounds * 2
            hits = store.search(f"note {w}-3-1", user=f"w{w}", k=50)
            assert len(hits) == rounds * 3 and {h.memory.user for h in hits} == {f"w{w}"}
        assert store.users() == ["shared", "w0", "w1", "w2", "w3"]


def test_large_scope_gets_an_hnsw_index(pg_store_url: str) -> None:
    rng = np.random.default_rng(7)
    big, small = _unit(rng, 600), _unit(rng, 40)
    with ltm.open(pg_store_url, embedder="hash", hnsw_min_scope=500) as store:
        backend = store.backend
        assert isinstance(backend, PostgresBackend)
        for start in range(0, 600, 200):
            store.add_vectors([{"text": f"big {i}", "user": "big", "kind": "fact"
                                if i % 2 else "episode"} for i in range(start, start + 200)],
                              big[start:start + 200])
        small_mems = store.add_vectors([{"text": f"small {i}", "user": "small"}
                                        for i in range(40)], small)
        ids = [m.id for m, _ in backend.iter_export("big", with_vectors=False)]
        with backend.pool.connection() as conn:
            assert backend._scope_index_valid(conn, "big") is True
            assert backend._scope_index_valid(conn, "small") is None
        found, truth = [], []
        for q in _unit(rng, 20):
            hits = backend.dense_search(q, Filters(user="big"), 10)
            found.append({i for i, _ in hits})
            truth.append({ids[j] for j in np.argsort(-(big @ q))[:10]})
        recall = np.mean([len(f & t) / 10 for f, t in zip(found, truth)])
        assert recall >= 0.9
        # filtered: only facts, falling back to an exact scan when the graph comes back short
        q = big[1]
        hits = backend.dense_search(q, Filters(user="big", kinds=("fact",)), 300)
        assert len(hits) == 300 and hits[0][0] == ids[1]
        # a small user is scanned exactly and never sees the big one
        hits = backend.dense_search(small[3], Filters(user="small"), 100)
        assert len(hits) == 40 and hits[0][0] == small_mems[3].id
        with backend.pool.connection() as conn, conn.transaction():
            # the settings dense_search uses for a large scope
            conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            conn.execute("SET LOCAL enable_sort = off")
            plan = "\n".join(r[0] for r in conn.execute(
                f"EXPLAIN SELECT id FROM {backend._m} m WHERE m.user_id = %s "
                f"ORDER BY m.embedding <#> %b LIMIT 10", ["big", q]))
            assert "memories_hnsw_" in plan
            plan = "\n".join(r[0] for r in conn.execute(
                f"EXPLAIN SELECT id FROM {backend._m} m WHERE m.user_id = %s "
                f"ORDER BY m.embedding <#> %b LIMIT 10", ["small", q]))
            assert "memories_hnsw_" not in plan  # another user's graph never serves them


def _relation_bytes(url: str, schema: str, kinds: str = "ri") -> bytes:
    """The raw files of the schema's tables ("r", with their TOAST) and indexes ("i")."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        rels = conn.execute(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = ANY(%s) UNION "
            "SELECT c.reltoastrelid FROM pg_class c JOIN pg_namespace n ON "
            "n.oid = c.relnamespace WHERE n.nspname = %s AND c.reltoastrelid <> 0 "
            "AND 'r' = ANY(%s)", [schema, list(kinds), schema, list(kinds)]).fetchall()
        out = b""
        for (oid,) in rels:
            path = conn.execute("SELECT pg_relation_filepath(%s::oid)", [oid]).fetchone()
            if path and path[0]:
                out += conn.execute("SELECT pg_read_binary_file(%s, true)",
                                    [path[0]]).fetchone()[0] or b""
        return out


NEEDLES = (b"Zanzibar", b"zanzibar", b"octopus", b"Quetzalcoatl", b"7731")


def test_forget_erases_from_indexes_and_full_compaction_from_files(
        pg_store_url: str, postgres_url: str) -> None:
    schema = split_dsn(pg_store_url)[1]
    assert schema is not None
    with ltm.open(pg_store_url, embedder="hash") as store:
        for i in range(30):
            store.add(f"ordinary note {i}", user="u")
        secret = store.add("My recovery phrase is octopus Zanzibar 7731", user="u",
                           metadata={"hint": "Quetzalcoatl"})
        store.update(secret.id, user="u", text="My recovery phrase is octopus Zanzibar 7731!")
        raw = _relation_bytes(postgres_url, schema)
        assert b"Zanzibar" in raw and b"zanzibar" in raw  # the check can see it
        store.forget(secret.id, user="u")
        # VACUUM + GIN rebuild: no index holds a word of it (table pages may, until reused)
        index_bytes = _relation_bytes(postgres_url, schema, "i")
        assert not any(needle in index_bytes for needle in NEEDLES)
        store.backend.compact(full=True)  # type: ignore[call-arg]
        raw = _relation_bytes(postgres_url, schema)
        for needle in NEEDLES:
            assert needle not in raw, needle
        assert len(store.search("ordinary note", user="u", k=50)) == 30


def test_urls_schemas_and_errors(postgres_url: str, tmp_path: Path) -> None:
    assert split_dsn("postgresql://u:pw@h:5/db?sslmode=require&schema=abc") == (
        "postgresql://u:pw@h:5/db?sslmode=require", "abc")
    assert split_dsn("host=/tmp dbname=x") == ("host=/tmp dbname=x", None)
    assert redact("postgresql://u:s3cret@h/db") == "postgresql://u:***@h/db"
    assert "s3cret" not in redact("host=h password=s3cret dbname=d")
    with pytest.raises(InvalidInput):
        ltm.open(postgres_url + ("&" if "?" in postgres_url else "?") + "schema=Bad-Name",
                 embedder="hash")
    with pytest.raises(StoreError):
        ltm.open(f"postgresql://nobody@/nodb?host={tmp_path}", embedder="hash")
    with pytest.raises(InvalidInput):
        ltm.open(tmp_path / "x", backend="oracle")


def test_backend_and_dsn_keywords(postgres_url: str) -> None:
    from postgres_support import drop_schema

    try:
        with ltm.open(backend="postgres", dsn=postgres_url, schema="kw_test",
                      embedder="hash") as store:
            m = store.add("opened with keywords", user="u")
            assert store.stats()["schema"] == "kw_test"
        with ltm.open(dsn=postgres_url, schema="kw_test", embedder="hash") as store:
            assert store.get(m.id, user="u").text == "opened with keywords"
    finally:
        drop_schema(postgres_url, "kw_test")


def test_light_rows_of_most_of_a_scope_read_it_whole(pg_store_url: str) -> None:
    """When the candidates are most of the scope, light_rows reads the user's rows in one
    pass: the same rows as looking the ids and their sessions up one by one, for any filter,
    including session mates of a candidate that the filter itself excludes."""
    import random

    from ltm.backends.base import Filters

    with ltm.open(pg_store_url, embedder="hash") as store:
        backend = store.backend
        assert isinstance(backend, PostgresBackend)
        mems = []
        for s in range(6):
            mems += store.add_many([{"text": f"turn {s}-{i}", "user": "u", "session": f"s{s}",
                                     "kind": "episode" if i % 3 else "note",
                                     "time": 1_700_000_000 + 60 * (10 * s + i)}
                                    for i in range(10)])
        mems += store.add_many([{"text": f"loose {i}", "user": "u"} for i in range(5)])
        store.add_many([{"text": f"other {i}", "user": "v", "session": "s0"} for i in range(9)])
        rng = random.Random(0)
        ids = [m.id for m in mems]
        filters = [Filters(user="u"), Filters(user="u", kinds=("episode",)),
                   Filters(user="u", since=(1_700_000_000 + 60 * 25) * 1_000_000),
                   Filters(user="u", session="s2")]
        for flt in filters:
            for pick in (ids, rng.sample(ids, 40), rng.sample(ids, 3)):
                whole = backend._light_rows_whole_scope(pick, flt)
                by_id = backend._light_rows_by_id(pick, flt, whole_sessions=True)
                assert sorted(whole) == sorted(by_id) and len(whole) == len(set(whole))
                assert sorted(backend.light_rows(pick, flt, whole_sessions=True)) == sorted(by_id)
        # a note (filtered out) still brings its session's episodes
        note = next(m for m in mems if m.kind == "note" and m.session == "s4")
        rows = backend._light_rows_whole_scope([note.id], Filters(user="u", kinds=("episode",)))
        assert rows and {r[1] for r in rows} == {"s4"} and note.id not in {r[0] for r in rows}


def test_scope_path_ranks_like_the_general_path(pg_store_url: str) -> None:
    """PostgreSQL's user-scope fast path (cached scoring columns, BM25 from term weights in
    numpy) returns the same hits with the same signals as its general SQL path, and a write
    from another client invalidates the cached view."""
    from scope_paths import assert_fast_path_ranks_like_general, fill

    with ltm.open(pg_store_url, embedder="hash") as store:
        fill(store)
        assert_fast_path_ranks_like_general(store)
        # another client writes: this one's cached view of the user is stale and re-read
        with ltm.open(pg_store_url, embedder="hash") as other:
            new = other.add("the zeppelin museum visit is booked", user="user-00001")
        hits = store.search("zeppelin museum", user="user-00001", k=1)
        assert hits and hits[0].memory.id == new.id
        other2 = ltm.open(pg_store_url, embedder="hash")
        other2.forget(new.id, user="user-00001")
        other2.close()
        assert all(h.memory.id != new.id
                   for h in store.search("zeppelin museum", user="user-00001", k=5))
