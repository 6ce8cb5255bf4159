"""The fault harness (``ltm bench faults``), short: a writer process killed with SIGKILL at
random moments loses no acknowledged write and leaves a store whose index, full-text index and
files are consistent; and the checker does report what it is there to find."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import numpy as np

import ltm
from ltm.bench.faults import (
    FaultReport,
    _check,
    _check_index,
    _leftovers,
    _Model,
    run_faults,
)
from ltm.bench.faults_disk import erased_on_disk
from ltm.index.exact import VectorIndex

FAILURES = ("lost", "inconsistent_index", "orphan_files", "raw_errors", "resurrected",
            "wrong_content", "unsearchable", "missing_vectors", "fts_orphans", "fts_missing",
            "integrity_failures", "open_failures", "erased_vectors_on_disk", "reader_hung")


def test_five_kills_lose_nothing(tmp_path: Path) -> None:
    report = run_faults(tmp_path / "store", kills=5, seed=3, embedder="hashing",
                        max_batch=2_000, max_life=1.5, max_rows=5_000, sample=10)
    assert report.kills == 5
    assert report.acknowledged > 0 and report.checks >= 5 and report.api_searches > 0
    assert {k: getattr(report, k) for k in FAILURES} == dict.fromkeys(FAILURES, 0), \
        report.samples


def test_the_checker_reports_lost_resurrected_and_index_faults(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with ltm.open(path, embedder="hash") as mem:
        kept, erased = mem.add_many([{"text": f"kayak note {i}", "user": "u", "session": "s"}
                                     for i in range(2)])
        emb = mem.embedder
    model = _Model()
    model.alive = {kept.id: ("u", "s", kept.text),
                   "01J0000000000000000000LOST": ("u", "s", "never stored")}
    model.forgotten = {erased.id}  # acknowledged as forgotten, yet stored
    report = FaultReport()
    _check(path, emb, model, report, 1, random.Random(0), sample=5)
    assert report.lost == 1 and report.resurrected == 1
    assert report.inconsistent_index == 0 and report.raw_errors == 0, report.samples

    # an index holding another row's vector, and a row filed under the wrong user
    db = sqlite3.connect(path / "memories.db")
    rows = db.execute("SELECT n, user, embedding FROM memories ORDER BY n").fetchall()
    idx = VectorIndex(emb.dim)
    vecs = np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
    idx.add(np.array([r[0] for r in rows]), ["u", "v"], vecs[::-1].copy())
    _check_index(db, idx, report, 2, np)
    db.close()
    assert report.inconsistent_index == 1
    assert "another vector" in report.samples[-1] and "belongs to" in report.samples[-1]



def test_the_checker_finds_leftovers_and_erased_vectors(tmp_path: Path) -> None:
    gen = tmp_path / "index" / "gen-12"
    gen.mkdir(parents=True)
    (tmp_path / "index" / "gen-3").mkdir()
    (tmp_path / "index" / "vectors.npy.123.tmp").write_bytes(b"x")
    assert _leftovers(tmp_path) == ["index/gen-3/", "index/vectors.npy.123.tmp"]
    mat = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    np.save(gen / "vectors.npy", mat)
    assert erased_on_disk(tmp_path, {mat[3].tobytes()}) == ["index/gen-12/vectors.npy row 3"]
    assert erased_on_disk(tmp_path, {np.zeros(8, np.float32).tobytes()}) == []
