"""``ltm bench scale --backend postgres`` end to end at a small N, and the deferred HNSW build
it relies on (``PostgresBackend.bulk_load``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner

import ltm
from ltm.backends.base import Filters
from ltm.bench.scale_pg import KEYS, scale_postgres
from ltm.cli.bench import scale
from ltm.errors import StoreError

pytestmark = pytest.mark.postgres


def _schemas(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}


def test_scale_postgres_smoke(postgres_url: str, tmp_path: Path) -> None:
    before = _schemas(postgres_url)
    out = tmp_path / "scale-postgres-300.json"
    res = CliRunner().invoke(scale, ["--backend", "postgres", "--dsn", postgres_url,
                                     "--n", "300", "--users", "3", "--queries", "20",
                                     "--hnsw-min-scope", "100", "--out", str(out),
                                     "--no-progress"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    for key in KEYS:
        assert data[key] is not None, key
    assert data["backend"] == "postgres" and data["benchmark"] == "scale"
    assert data["count"] == 300 and data["single_scope_count"] == 300
    assert data["single_scope_hnsw"] is True  # 300 >= --hnsw-min-scope: built after the load
    assert data["hnsw_build_s"] >= 0
    for key in ("single_scope_recall_at_10", "single_scope_recall_at_10_ids"):
        assert 0.0 <= data[key] <= 1.0
    assert data["single_scope_recall_at_10"] >= 0.9  # 300 vectors: HNSW is near exact
    assert data["scoped_search_queries"] == 20 and data["single_scope_queries"] == 20
    assert 0 < data["scoped_search_ms_p50"] <= data["scoped_search_ms_p95"] \
        <= data["scoped_search_ms_p99"]
    assert data["ingest_per_s"] > 0 and data["single_ingest_per_s"] > 0
    assert data["single_indexed_insert_per_s"] > 0
    assert 0 < data["reopen_first_query_s"] < 60
    assert data["peak_rss_mb"] > 50 and "peak_rss_mb_note" in data
    assert data["server"]["pgvector"]
    assert _schemas(postgres_url) == before  # the bench's schemas were dropped


def test_scale_postgres_no_single_scope(postgres_url: str, tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    res = CliRunner().invoke(scale, ["--backend", "postgres", "--dsn", postgres_url,
                                     "--n", "50", "--users", "2", "--queries", "5",
                                     "--no-single-scope", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["single_scope_recall_at_10"] is None and data["single_scope_null_reason"]
    assert data["count"] == 50


def test_bulk_load_defers_the_scope_index(pg_store_url: str) -> None:
    store = ltm.open(pg_store_url, embedder="hash", hnsw_min_scope=50)
    backend = store.backend
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((120, store.embedder.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rows = [{"text": f"note {i}", "user": "big"} for i in range(120)]
    with backend.bulk_load():  # type: ignore[attr-defined]
        store.add_vectors(rows[:60], vecs[:60])
        store.add_vectors(rows[60:], vecs[60:])
        assert not backend.scope_indexed("big")  # type: ignore[attr-defined]
        # meanwhile the scope is searched exactly
        hits = backend.dense_search(vecs[7], Filters(user="big"), 3)
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
        with pytest.raises(StoreError), backend.bulk_load():  # type: ignore[attr-defined]
            pass
    assert backend.scope_indexed("big")  # type: ignore[attr-defined]
    got = backend.vectors([h[0] for h in hits], "big")
    assert np.allclose(got[hits[0][0]], vecs[7], atol=1e-6)
    assert got[hits[0][0]].dtype == np.float32
    store.close()


def test_scale_postgres_single_scope_alone(postgres_url: str, tmp_path: Path) -> None:
    out = tmp_path / "one.json"
    data = scale_postgres(200, 2, out, dsn=postgres_url, queries=10, batch=100, seed=0,
                          single_scope=True, hnsw_min_scope=100, keep=False, progress=False,
                          multi_user=False, ef_search=64)
    assert json.loads(out.read_text()) == data
    assert data["ingest_per_s"] is None and data["multi_user_null_reason"]
    assert data["hnsw_ef_search"] == 64 and data["single_scope_count"] == 200
    assert 0.0 <= data["single_scope_recall_at_10"] <= 1.0


def test_scale_postgres_cli_passes_ef_search(postgres_url: str, tmp_path: Path) -> None:
    out = tmp_path / "ef.json"
    res = CliRunner().invoke(scale, ["--backend", "postgres", "--dsn", postgres_url,
                                     "--n", "150", "--users", "2", "--queries", "5",
                                     "--hnsw-min-scope", "100", "--ef-search", "48",
                                     "--no-multi-user", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["hnsw_ef_search"] == 48 and data["multi_user"] is False


def test_scope_count(pg_store_url: str) -> None:
    store = ltm.open(pg_store_url, embedder="hash")
    store.add_many([{"text": f"note {i}", "user": "u1"} for i in range(7)])
    assert store.backend.scope_count("u1") == 7  # type: ignore[attr-defined]
    assert store.backend.scope_count("nobody") == 0  # type: ignore[attr-defined]
    store.close()
