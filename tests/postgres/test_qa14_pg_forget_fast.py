"""With erase="fast" (no compaction after a forget), forgetting a whole user on PostgreSQL
still drops the HNSW index of the user's scope, whose definition names the user: forget runs
in one transaction, where DROP INDEX CONCURRENTLY cannot, and the drop was left to a
compact() that erase="fast" never runs. It now follows the transaction's commit."""

from __future__ import annotations

import psycopg
import pytest

import ltm

pytestmark = pytest.mark.postgres

VICTIM = "fast.victim@example.com"


def _indexes_naming(url: str, schema: str, needle: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s",
                            [schema]).fetchall()
    return [name for name, definition in rows if needle in definition]


def test_fast_forget_of_a_user_drops_the_scope_index(postgres_url: str,
                                                     pg_store_url: str) -> None:
    schema = pg_store_url.rsplit("schema=", 1)[1]
    with ltm.open(pg_store_url, embedder="hash", hnsw_min_scope=40, erase="fast") as mem:
        mem.add_many([{"text": f"note {i}", "user": VICTIM} for i in range(60)])
        mem.add_many([{"text": f"kept {i}", "user": "keeper"} for i in range(60)])
        assert _indexes_naming(postgres_url, schema, VICTIM)  # built once past 40
        mem.forget(user=VICTIM)
        assert _indexes_naming(postgres_url, schema, VICTIM) == []
        assert _indexes_naming(postgres_url, schema, "keeper")  # another user's stays
        assert mem.search("kept", user="keeper")
