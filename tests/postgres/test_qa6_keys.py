"""QA of issue 6: an adapter's item key lookups on PostgreSQL go through an index on the
metadata key (``PostgresBackend.metadata_index``, as SQLite's), and a metadata filter means
the same with and without it, and on both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

import ltm
from ltm.backends.base import Filters
from ltm.backends.common import POSTGRES, where
from ltm.errors import InvalidInput

VALUES: list[Any] = [1, 1.0, "1", True, False, [1], {"a": 1}, None, "x\x00y", 0.5, "é"]


def _plan(store: ltm.MemoryStore, flt: Filters) -> str:
    backend: Any = store.backend
    sql, params = where(flt, POSTGRES)
    with backend._conn() as conn:
        rows = conn.execute(f"EXPLAIN SELECT m.id FROM {backend._m} m WHERE {sql} "
                            f"ORDER BY m.time DESC, m.id DESC LIMIT 2", params).fetchall()
    return "\n".join(r[0] for r in rows)


def test_a_key_lookup_reads_the_key_index(pg_store_url: str) -> None:
    with ltm.open(pg_store_url, embedder="hash") as store:
        store.add_many([{"text": f"item {i}", "user": "alice", "kind": "item",
                         "metadata": {"lg_ns1": "memories", "lg_depth": 1, "lg_key": f"k{i}"}}
                        for i in range(3000)])
        store.backend.metadata_index("lg_key")  # type: ignore[attr-defined]
        store.backend.metadata_index("lg_key")  # type: ignore[attr-defined]  (once)
        with psycopg.connect(pg_store_url.rsplit("&schema=", 1)[0].rsplit("?schema=", 1)[0],
                             autocommit=True) as conn:
            schema = store.stats()["schema"]
            conn.execute(f'ANALYZE "{schema}".memories')
        flt = Filters(user="alice", kinds=("item",),
                      metadata={"lg_ns1": "memories", "lg_depth": 1, "lg_key": "k17"})
        assert "memories_meta_lg_key" in _plan(store, flt)
        page = store.list("alice", kinds=["item"], limit=1,
                          metadata={"lg_ns1": "memories", "lg_depth": 1, "lg_key": "k17"})
        assert [m.text for m in page.memories] == ["item 17"]
        assert store.list("alice", metadata={"lg_key": "absent"}).memories == []
        with pytest.raises(InvalidInput):
            store.backend.metadata_index("a.b")  # type: ignore[attr-defined]


def test_filters_mean_the_same_with_the_index_and_on_both_backends(
        tmp_path: Path, pg_store_url: str) -> None:
    with ltm.open(tmp_path / "lite", embedder="hash") as lite, \
            ltm.open(pg_store_url, embedder="hash") as pg:
        for store in (lite, pg):
            store.add_many([{"text": f"value {n}", "user": "u", "metadata": {"k": v, "n": n}}
                            for n, v in enumerate(VALUES)] +
                           [{"text": "without the key", "user": "u", "metadata": {"n": -1}},
                            {"text": "no metadata", "user": "u"}])

        def found(store: ltm.MemoryStore, value: Any) -> list[str]:
            return sorted(m.text for m in store.list("u", metadata={"k": value}).memories)

        probes: list[Any] = [1, 1.0, "1", True, False, None, 0.5, "é", "x\x00y", "x\ufffdy"]
        before = {}
        for value in probes:
            try:
                before[repr(value)] = found(pg, value)
            except InvalidInput:
                before[repr(value)] = ["InvalidInput"]
        pg.backend.metadata_index("k")  # type: ignore[attr-defined]
        lite.backend.metadata_index("k")  # type: ignore[attr-defined]
        for value in probes:
            try:
                got = found(pg, value)
            except InvalidInput:
                got = ["InvalidInput"]
            assert got == before[repr(value)], value
            if value is True or value is False or isinstance(value, str) and (
                    "\x00" in value or "\ufffd" in value):
                continue  # PostgreSQL's jsonb reads a NUL in metadata as U+FFFD
            # documented difference: JSON true and false are not 1 and 0 on PostgreSQL
            bools = {f"value {n}" for n, v in enumerate(VALUES) if isinstance(v, bool)}
            assert got == [t for t in found(lite, value) if t not in bools], value
