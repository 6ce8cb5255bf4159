"""``reindex`` on a SQLite store: the vector index follows the vectors it replaces (while another
store object keeps reading), a reindex killed part way leaves a consistent store that the next
one finishes, and ``ltm reindex`` (tests/contract/test_contract_reindex.py: both backends)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from test_reliability_index import PER_USER, USERS, _build, assert_index_equals_database

import ltm
from ltm.cli import main


def test_replaced_vectors_reach_the_vector_index(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _build(path)
    rng = np.random.default_rng(7)
    with ltm.open(path, embedder="hash") as reader, ltm.open(path, embedder="hash") as older:
        reader.search("apple river", user="user-1", k=3)  # its index loaded
        stale = [m for u in range(USERS) for m in older.list(f"user-{u}", limit=6).memories]
        for m in stale:  # vectors another embedder (an older version) gave
            vec = rng.normal(size=older.embedder.dim).astype(np.float32)
            older.backend.update(m.id, m.user, {}, vec / np.linalg.norm(vec))
        with ltm.open(path, embedder="hash") as mem:
            got = mem.reindex(embeddings=True)
            assert got == {"checked": USERS * PER_USER, "rewritten": 0,
                           "reembedded": len(stale)}
        # the reader's index catches up with the replaced vectors: each finds itself first
        for m in stale:
            assert reader.search(m.text, user=m.user, k=1)[0].memory.id == m.id
    assert_index_equals_database(path)


_KILLED_AFTER_ONE_BATCH = r"""
import os, signal, sys
import ltm
mem = ltm.open(sys.argv[1], embedder="hash")
done = []
def progress(n):
    done.append(n)
    if len(done) == 2:  # two batches committed
        os.kill(os.getpid(), signal.SIGKILL)
mem.reindex(progress=progress)
"""


def test_a_reindex_killed_part_way_is_finished_by_the_next(tmp_path: Path) -> None:
    path = tmp_path / "s"
    n = 2500
    with ltm.open(path, embedder="hash") as mem:
        mem.add_many([{"text": f"note {i}: the Wi-Fi in room {i % 40} drops", "user": "u"}
                      for i in range(n)])
    db = sqlite3.connect(path / "memories.db")
    with db:  # as an ltm before word parts wrote them
        db.execute("UPDATE memories SET fts_text = NULL")
    db.close()
    child = subprocess.run([sys.executable, "-c", _KILLED_AFTER_ONE_BATCH, str(path)],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr
    db = sqlite3.connect(path / "memories.db")
    assert db.execute("SELECT count(*) FROM memories WHERE fts_text IS NULL").fetchone() \
        == (n - 2000,)
    db.close()
    with ltm.open(path, embedder="hash", dense_weight=0.0) as mem:
        assert mem.reindex() == {"checked": n, "rewritten": n - 2000, "reembedded": 0}
        hits = mem.search("wifi room 7", user="u", k=10)
        assert len(hits) == 10 and all(h.signals["text"] > 0 for h in hits)
    db = sqlite3.connect(path / "memories.db")
    try:  # the full-text index holds what its content rows say, nothing else
        db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')")
        assert db.execute("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH 'wifi'"
                          ).fetchone() == (n,)
    finally:
        db.close()


def test_cli_reindex(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with ltm.open(store, embedder="hash") as mem:
        mem.add_many([{"text": "my Wi-Fi is down", "user": "alice"},
                      {"text": "the 12km walk", "user": "bob"}])
    db = sqlite3.connect(store / "memories.db")
    with db:
        db.execute("UPDATE memories SET fts_text = NULL")
    db.close()
    env = {"LTM_EMBEDDER": "hash"}
    got = CliRunner().invoke(main, ["--store", str(store), "reindex", "--user", "alice",
                                    "--json"], env=env)
    assert got.exit_code == 0, got.output
    assert json.loads(got.output) == {"checked": 1, "rewritten": 1, "reembedded": 0}
    got = CliRunner().invoke(main, ["--store", str(store), "reindex", "--embeddings"], env=env)
    assert got.exit_code == 0, got.output
    assert "checked 2 memories: rewrote the full text of 1, re-embedded 0" in got.output
    got = CliRunner().invoke(main, ["--store", str(tmp_path / "none"), "reindex"], env=env)
    assert got.exit_code == 4
    assert not (tmp_path / "none").exists()
