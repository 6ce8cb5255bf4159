"""Small-N runs of both benchmarks, end to end (the million-scale runs are benchmarks, not
tests): every phase runs, the JSON holds the promised keys with sane values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.bench.peers import run_peers
from ltm.bench.scale import plot_scale
from ltm.cli.bench import peers, scale

KEYS = ("ingest_per_s", "scoped_search_ms_p50", "scoped_search_ms_p95", "scoped_search_ms_p99",
        "single_scope_ms_p95", "single_scope_recall_at_10", "reopen_first_query_s",
        "peak_rss_mb")


def test_scale_smoke(tmp_path: Path) -> None:
    out = tmp_path / "results" / "scale-2000.json"
    res = CliRunner().invoke(scale, ["--n", "2000", "--users", "20", "--queries", "60",
                                     "--hnsw-min-scope", "500", "--workdir",
                                     str(tmp_path / "work"), "--out", str(out),
                                     "--no-progress"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    for key in KEYS:
        assert key in data, key
    assert data["count"] == 2000 and data["single_scope_count"] == 2000
    assert data["single_scope_hnsw"] is True  # 2,000 >= --hnsw-min-scope: HNSW served it
    assert data["single_scope_recall_at_10"] >= 0.9
    assert data["scoped_search_queries"] == 60
    assert 0 < data["scoped_search_ms_p50"] <= data["scoped_search_ms_p95"] \
        <= data["scoped_search_ms_p99"]
    assert data["ingest_per_s"] > 0 and data["bytes_on_disk"] > 2000 * 1024  # vectors in SQLite
    assert 0 < data["reopen_first_query_s"] < 60
    assert data["peak_rss_mb"] >= data["search_peak_rss_mb"] > 50
    assert not (tmp_path / "work" / "multi").exists()  # stores removed without --keep
    assert (out.parent / "scale-vs-n.png").stat().st_size > 1000
    assert plot_scale(tmp_path / "empty") is None


def test_peers_smoke(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    pytest.importorskip("sqlite_vec")
    res = run_peers(1500, 3, workdir=tmp_path, queries=40, batch=500,
                    only=["faiss", "sqlite-vec", "hnswlib"])
    systems = res["systems"]
    assert set(systems) == {"ltm", "faiss", "sqlite-vec", "hnswlib"}
    assert systems["ltm"]["ingest_ratio"] == 1.0
    for name, r in systems.items():
        assert r["query_queries"] == 40
        assert r["recall_at_10"] >= 0.9, name
        assert r["ingest_per_s"] > 0
    # exact scans agree with the numpy truth (ties between duplicate texts aside)
    assert systems["ltm"]["recall_at_10"] >= 0.97
    assert systems["faiss"]["recall_at_10"] >= 0.97


def test_peers_cli_writes_json_and_png(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    out = tmp_path / "peers-800.json"
    res = CliRunner().invoke(peers, ["--n", "800", "--queries", "20", "--only", "faiss",
                                     "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["users"] == 1 and set(data["systems"]) == {"ltm", "faiss"}
    assert out.with_suffix(".png").stat().st_size > 1000
