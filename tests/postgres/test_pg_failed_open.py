"""A failed first open of a new PostgreSQL schema leaves nothing behind (as on SQLite, whose
failed open removes the store it created). Before, the open created every table and then
failed past them: an unknown embedder left the tables; an embedder whose dimension pgvector
refuses (over 16,000) left them with that embedder's name recorded, so the next open with a
valid embedder was refused as a mismatch; an open cut off between two migrations left the
schema with the migrations done so far. A schema another open made is never dropped."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

import ltm


def _schema(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


def _exists(postgres_url: str, schema: str) -> bool:
    with psycopg.connect(postgres_url) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                            [schema]).fetchone() is not None


@pytest.mark.parametrize("embedder", ["no-such-embedder", "hash:20000"])
def test_a_failed_first_open_leaves_no_schema(pg_store_url: str, postgres_url: str,
                                              embedder: str) -> None:
    with pytest.raises(ltm.errors.LtmError):  # (not psycopg's error: an ltm one)
        ltm.open(pg_store_url, embedder=embedder)
    assert not _exists(postgres_url, _schema(pg_store_url))
    with ltm.open(pg_store_url, embedder="hash") as mem:  # before: EmbedderMismatch
        mem.add("hello", user="u")
        assert mem.embedder.name == "hash:256"


def test_a_failed_open_of_a_schema_it_did_not_create_drops_nothing(
        pg_store_url: str, postgres_url: str) -> None:
    with ltm.open(pg_store_url, embedder="hash"):  # an empty store: no memory yet
        pass
    with pytest.raises(ltm.errors.LtmError):
        ltm.open(pg_store_url, embedder="no-such-embedder")
    assert _exists(postgres_url, _schema(pg_store_url))
    with ltm.open(pg_store_url) as mem:  # the embedder it recorded
        assert mem.embedder.name == "hash:256"


def test_an_open_cut_off_between_migrations_leaves_no_schema(pg_store_url: str,
                                                             postgres_url: str) -> None:
    """The open waits for the migrations' lock (held here, as another process migrating
    would), its connection is cut there: it created the schema and the migrations table."""
    schema = _schema(pg_store_url)
    failed: list[BaseException] = []

    def first_open() -> None:
        try:
            ltm.open(pg_store_url, embedder="hash").close()
        except BaseException as exc:  # (what the test reads)
            failed.append(exc)

    with psycopg.connect(postgres_url, autocommit=True) as holder:
        key = f"ltm-migrate:{schema}"
        holder.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
        opener = threading.Thread(target=first_open)
        opener.start()
        pid = None
        for _ in range(500):  # until the open waits for the lock
            row = holder.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND "
                                 "NOT granted").fetchone()
            if row:
                pid = row[0]
                break
            time.sleep(0.02)
        assert pid is not None
        assert _exists(postgres_url, schema)  # created, migrations pending
        holder.execute("SELECT pg_terminate_backend(%s)", [pid])
        time.sleep(0.2)
        holder.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
        opener.join(30)
    assert failed and isinstance(failed[0], ltm.errors.StoreError), failed
    assert not _exists(postgres_url, schema)  # before: the schema and its migrations table
    with ltm.open(pg_store_url, embedder="hash") as mem:
        mem.add("hello", user="u")
