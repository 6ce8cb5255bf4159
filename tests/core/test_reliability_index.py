"""The derived vector index survives kills during its saves, damage to its files and stale
processes (issue 14, F2 and F6).

Every check reopens the store and compares the vector index it serves with the database: the
same row ids, each once, under its row's user, with its row's vector byte for byte (and each
stored vector is its text's embedding). Kills are real SIGKILLs of child processes.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ltm

USERS = 5
PER_USER = 100
WORDS = ("apple", "river", "violin", "garden", "harbor", "lantern", "pepper", "meadow",
         "copper", "falcon", "marble", "tunnel")


def _text(user: int, i: int) -> str:
    return (f"note {i} of user {user}: {WORDS[i % 12]} {WORDS[(i * 7 + user) % 12]} "
            f"{WORDS[(i * 5 + 3) % 12]} number {i * 31 + user}")


def _build(path: Path) -> None:
    with ltm.open(path, embedder="hash") as mem:
        mem.add_many([{"text": _text(u, i), "user": f"user-{u}"}
                      for i in range(PER_USER) for u in range(USERS)])
        mem.search("apple river", user="user-0", k=3)


def _child(code: str, *args: object, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=120, **kw)


def assert_index_equals_database(path: Path) -> None:
    """Reopen the store: the index it serves holds exactly the database's rows and vectors, and
    nothing but the current generation is left in index/."""
    db = sqlite3.connect(path / "memories.db")
    try:
        rows = db.execute("SELECT n, user, text, embedding FROM memories").fetchall()
    finally:
        db.close()
    held: dict[str, dict[int, bytes]] = defaultdict(dict)
    for n, user, _, emb in rows:
        held[user][n] = emb
    with ltm.open(path, embedder="hash") as mem:
        embedded = mem.embedder.embed([r[2] for r in rows])
        for (n, _, _, emb), vec in zip(rows, embedded):
            assert np.allclose(np.frombuffer(emb, np.float32), vec, atol=1e-6), n
        idx = mem.backend._vector_index()  # type: ignore[attr-defined]
        served: list[int] = []
        for user in set(idx.user_names) | set(held):
            rowids, vecs = idx.user_rows(user)
            ids = rowids.tolist()
            assert len(set(ids)) == len(ids), f"duplicate row ids under {user}"
            assert set(ids) == set(held.get(user, {})), f"rows of {user} differ"
            for r, v in zip(ids, vecs):
                assert np.asarray(v, np.float32).tobytes() == held[user][r], \
                    f"row {r} of {user} holds another vector"
            served += ids
        assert len(served) == len(set(served)) == len(rows)
    index = path / "index"
    left = sorted(str(p.relative_to(index)) for p in index.rglob("*"))
    assert not [name for name in left if ".tmp" in name], f"leftovers in index/: {left}"
    assert len(list(index.glob("gen-*"))) <= 1, f"leftovers in index/: {left}"


# A child that changes the index without changing its size (so that files of two saves have
# the same shapes), then saves it, killing itself with SIGKILL on entering the k-th file-system
# step of the save (fsync, rename, link, folder removal).
_KILL_AT_STEP = r"""
import os, shutil, signal, sys
import ltm
path, k = sys.argv[1], int(sys.argv[2])
mem = ltm.open(path, embedder="hash")
mem.search("apple river", user="user-1", k=3)
mem.add_many([{"text": f"late note {i} about the {i * 13} copper lanterns", "user": "user-0"}
              for i in range(100)])
steps = 0
def hooked(real):
    def step(*args, **kwargs):
        global steps
        steps += 1
        if steps == k:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return step
for module, name in ((os, "fsync"), (os, "replace"), (os, "rename"), (os, "link"),
                     (shutil, "rmtree")):
    setattr(module, name, hooked(getattr(module, name)))
mem.forget(user="user-2")  # erases 100 rows and saves the index (compact)
mem.close()
print("steps", steps)
"""


def test_save_killed_at_every_step_leaves_a_consistent_index(tmp_path: Path) -> None:
    base = tmp_path / "base"
    _build(base)
    killed = 0
    for k in range(1, 11):
        path = tmp_path / f"k{k}"
        shutil.copytree(base, path)
        out = _child(_KILL_AT_STEP, path, k)
        if out.returncode == -signal.SIGKILL:
            killed += 1
        else:
            assert out.returncode == 0, out.stderr
        assert_index_equals_database(path)
    assert killed >= 4  # the save has that many steps at least


# A writer that saves the index again and again (adds and erases as many rows each round).
_SAVE_LOOP = r"""
import sys
import ltm
mem = ltm.open(sys.argv[1], embedder="hash")
mem.search("apple river", user="user-1", k=3)
print("ready", flush=True)
i = 0
while True:
    user = f"user-{i % 5}"
    added = mem.add_many([{"text": f"round {i} item {j} {j * i} falcon meadow", "user": user}
                          for j in range(20)])
    old = [h.memory.id for h in mem.search("apple river garden", user=f"user-{(i + 2) % 5}", k=20)]
    for victim in old[:20]:
        mem.forget(victim, user=f"user-{(i + 2) % 5}")
    i += 1
"""


def test_random_kills_of_a_saving_writer(store_path: Path) -> None:
    _build(store_path)
    rng = random.Random(14)
    for _ in range(4):
        child = subprocess.Popen([sys.executable, "-c", _SAVE_LOOP, str(store_path)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.2, 1.5))
        finally:
            child.kill()
            _, err = child.communicate(timeout=60)
        assert child.returncode == -signal.SIGKILL, err
        assert_index_equals_database(store_path)


def _vectors_file(path: Path) -> Path:
    (found,) = [p for p in (path / "index").rglob("vectors.npy")]
    return found


def test_vectors_zeroed_in_place_are_detected_and_rebuilt(store_path: Path) -> None:
    _build(store_path)
    vec = _vectors_file(store_path)
    start = int(np.load(vec, mmap_mode="r").offset)
    size = vec.stat().st_size
    with open(vec, "r+b") as fp:  # same size, same header: only the vectors are gone
        fp.seek(start)
        fp.write(bytes(size - start))
    assert_index_equals_database(store_path)
    with ltm.open(store_path, embedder="hash") as mem:
        hit = mem.search(_text(3, 42), user="user-3", k=1)[0]
        assert hit.memory.text == _text(3, 42) and hit.signals["dense"] > 0.99


def test_two_rows_swapped_in_the_vectors_file_are_detected(store_path: Path) -> None:
    _build(store_path)
    vec = _vectors_file(store_path)
    arr = np.load(vec, mmap_mode="r+")
    first, second = np.array(arr[10]), np.array(arr[20])
    arr[10], arr[20] = second, first
    arr.flush()
    del arr
    assert_index_equals_database(store_path)


def test_index_folder_replaced_by_a_plain_file(store_path: Path) -> None:
    _build(store_path)
    shutil.rmtree(store_path / "index")
    (store_path / "index").write_text("not a folder")
    with ltm.open(store_path, embedder="hash") as mem:
        assert mem.search(_text(1, 7), user="user-1", k=1)[0].memory.text == _text(1, 7)
        mem.add("one more about the harbor", user="user-1")
    assert (store_path / "index").is_dir()
    assert_index_equals_database(store_path)


def test_leftovers_are_removed_on_open(store_path: Path) -> None:
    _build(store_path)
    index = store_path / "index"
    current = sorted(index.glob("gen-*"))
    gen = current[0] if current else index
    (index / f"vectors.npy.{os.getpid()}.tmp").write_bytes(b"\0" * 4096)  # an older save's
    (index / "gen-99").mkdir()
    (index / "gen-99" / "vectors.npy").write_bytes(b"\0" * 4096)  # a killed save's folder
    (gen / "hnsw-0000.usearch.tmp").write_bytes(b"\0" * 4096)  # a killed graph save's
    with ltm.open(store_path, embedder="hash") as mem:
        mem.search("apple", user="user-0", k=1)
        assert not (index / f"vectors.npy.{os.getpid()}.tmp").exists()
        assert not (index / "gen-99").exists()
        assert not (gen / "hnsw-0000.usearch.tmp").exists()
    assert_index_equals_database(store_path)


def test_damaged_hnsw_graph_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with ltm.open(path, embedder="hash", hnsw_min_scope=300) as mem:
        mem.add_many([{"text": _text(0, i), "user": "big"} for i in range(400)])
        assert mem.search(_text(0, 5), user="big", k=1)[0].memory.text == _text(0, 5)
    (graph,) = (path / "index").rglob("hnsw-*.usearch")
    size = graph.stat().st_size
    with open(graph, "r+b") as fp:  # the graph's first part zeroed, its header left intact
        fp.seek(64)
        fp.write(bytes(size // 5))
    with ltm.open(path, embedder="hash", hnsw_min_scope=300) as mem:
        backend: Any = mem.backend
        ids = {m.text: m.id for m in mem.list("big", limit=1000)}
        first = near = 0
        for i in range(400):
            q = mem.embedder.embed([_text(0, i)])[0]
            got = backend.dense_search(q, ltm.store.Filters(user="big"), 5)
            near += ids[_text(0, i)] in [mid for mid, _ in got]
            first += got[0][0] == ids[_text(0, i)] and got[0][1] > 0.99
        # HNSW is approximate: in six probes a rebuilt graph missed 0-3 of the 400 from their
        # own top 5, so requiring every one made the test flaky
        assert near >= 0.97 * 400 and first >= 0.9 * 400, (near, first)


# -- F6: a stale process never writes back what another erased ------------------------------
_STALE = r"""
import sys
import ltm
mem = ltm.open(sys.argv[1], embedder="hash")
for user in ("alice", "bob"):
    mem.search("apple river", user=user, k=3)  # both users' vectors in this process's index
mem.add("bob adds a note about the meadow", user="bob")
print("ready", flush=True)
sys.stdin.readline()  # meanwhile another process erases alice
mem.close()
print("closed", flush=True)
"""

_ERASE = r"""
import sys
import ltm
with ltm.open(sys.argv[1], embedder="hash") as mem:
    print(mem.forget(user="alice").count)
"""


def test_stale_process_does_not_write_back_erased_vectors(store_path: Path) -> None:
    with ltm.open(store_path, embedder="hash") as mem:
        mem.add_many([{"text": _text(0, i), "user": "alice"} for i in range(60)]
                     + [{"text": _text(1, i), "user": "bob"} for i in range(60)])
        mem.search("apple", user="alice", k=1)
    db = sqlite3.connect(store_path / "memories.db")
    erased = [r[0] for r in db.execute("SELECT embedding FROM memories WHERE user = 'alice'")]
    db.close()
    assert len(erased) == 60
    stale = subprocess.Popen([sys.executable, "-c", _STALE, str(store_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert stale.stdout is not None and stale.stdin is not None
        assert stale.stdout.readline().strip() == "ready"
        out = _child(_ERASE, store_path)
        assert out.returncode == 0 and out.stdout.strip() == "60", out.stderr
        stale.stdin.write("go\n")
        stale.stdin.flush()
        assert stale.stdout.readline().strip() == "closed"
    finally:
        _, err = stale.communicate(timeout=60)
    assert stale.returncode == 0, err
    for file in (p for p in store_path.rglob("*") if p.is_file()):
        data = file.read_bytes()
        found = sum(vec in data for vec in erased)
        assert found == 0, f"{found} erased vectors in {file.relative_to(store_path)}"
    with ltm.open(store_path, embedder="hash") as mem:
        assert mem.search(_text(0, 3), user="alice", k=5) == []
    assert_index_equals_database(store_path)
    # the stale process's own write is kept
    with ltm.open(store_path, embedder="hash") as mem:
        texts = [h.memory.text for h in mem.search("meadow", user="bob", k=100)]
        assert "bob adds a note about the meadow" in texts


def test_server_does_not_write_back_what_the_cli_erased(store_path: Path) -> None:
    """``ltm serve`` holds both users' vectors; ``ltm forget --user alice --all --yes`` from
    the command line erases alice; the server, stopped afterwards, writes none of them back."""
    import httpx

    from ltm.server.auth import KeyStore
    from ltm.server.load import server_processes

    with ltm.open(store_path, embedder="hash") as mem:
        mem.add_many([{"text": _text(0, i), "user": "alice"} for i in range(40)]
                     + [{"text": _text(1, i), "user": "bob"} for i in range(40)])
    db = sqlite3.connect(store_path / "memories.db")
    erased = [r[0] for r in db.execute("SELECT embedding FROM memories WHERE user = 'alice'")]
    db.close()
    keys = KeyStore(store_path)
    key, _ = keys.create(["*"], "read,write")
    keys.close()
    auth = {"Authorization": f"Bearer {key}"}
    with server_processes(store_path, 1) as (url,):
        for user in ("alice", "bob"):
            got = httpx.post(f"{url}/v1/users/{user}/search", headers=auth, timeout=30,
                             json={"query": "apple river", "k": 3})
            assert got.status_code == 200 and got.json()["hits"], got.text
        added = httpx.post(f"{url}/v1/users/bob/memories", headers=auth, timeout=30,
                           json={"text": "bob adds a note about the meadow"})
        assert added.status_code == 201, added.text
        out = _child("from ltm.cli import main; main()", "forget", "--store", store_path,
                     "--user", "alice", "--all", "--yes")
        assert out.returncode == 0, out.stderr
    for file in (p for p in store_path.rglob("*") if p.is_file()):
        data = file.read_bytes()
        found = sum(vec in data for vec in erased)
        assert found == 0, f"{found} erased vectors in {file.relative_to(store_path)}"
    assert_index_equals_database(store_path)


def test_a_save_committed_during_a_catch_up_loses_no_log_entry(store_path: Path) -> None:
    """A process catching its index up reads the log's head, checks that the log still reaches
    back to its index, then reads the entries. Another process's save (a compact, a close)
    trims the log; committed between that check and that read, it took the entries the replay
    needed: the reader's index kept the erased rows and missed the added one, and its close
    saved that as the current generation (the fault harness's 'rows of the database not in
    the index' and erased vectors on disk). The commit is put exactly there through SQLite's
    statement trace of the reader's connection."""
    _build(store_path)
    reader = ltm.open(store_path, embedder="hash")
    writer = ltm.open(store_path, embedder="hash", erase="fast")  # no save of its own yet
    try:
        reader.search("apple river", user="user-1", k=3)  # its index loaded and current
        writer.search("apple river", user="user-1", k=3)
        db = sqlite3.connect(store_path / "memories.db")
        erased = [bytes(e) for (e,) in db.execute(
            "SELECT embedding FROM memories WHERE user = 'user-2'")]
        db.close()
        added = writer.add("a new note about the falcon in the tunnel", user="user-3")
        assert writer.forget(user="user-2").count == PER_USER
        trimmed: list[str] = []

        def commit_a_save_first(sql: str) -> None:
            if not trimmed and sql.startswith("SELECT epoch, n, op FROM index_log"):
                trimmed.append(sql)
                writer.backend.flush()  # saves a generation at the head, trims the log

        reader.backend.conn.set_trace_callback(commit_a_save_first)  # type: ignore[attr-defined]
        hits = reader.search("a new note about the falcon in the tunnel", user="user-3", k=1)
        reader.backend.conn.set_trace_callback(None)  # type: ignore[attr-defined]
        assert trimmed, "the replay's read of the log was not reached"
        assert [h.memory.id for h in hits] == [added.id]
        assert reader.search(_text(2, 3), user="user-2", k=5) == []
        idx = reader.backend._vector_index()  # type: ignore[attr-defined]
        assert idx.count("user-2") == 0 and idx.count("user-3") == PER_USER + 1
    finally:
        reader.close()  # saves its index: it must hold no erased vector
        writer.close()
    for file in (p for p in store_path.rglob("*") if p.is_file()):
        data = file.read_bytes()
        found = sum(vec in data for vec in erased)
        assert found == 0, f"{found} erased vectors in {file.relative_to(store_path)}"
    assert_index_equals_database(store_path)


def _record(path: Path) -> dict[str, Any]:
    db = sqlite3.connect(path / "memories.db")
    try:
        (raw,) = db.execute("SELECT value FROM meta WHERE key = 'vector_index'").fetchone()
    finally:
        db.close()
    rec: dict[str, Any] = json.loads(raw)
    return rec


@pytest.mark.parametrize("change", ["added", "erased"])
def test_a_generation_saved_without_a_row_is_rebuilt_on_open(
        store_path: Path, change: str, caplog: pytest.LogCaptureFixture) -> None:
    """The state a lost catch-up left before af31e7b: a process's index took the log's head
    without the entries another process's save had trimmed, and its close saved that as the
    current generation, missing the row the other added (or holding the one it erased). The
    check on open compared 64 sampled saved rows with the database: a missing row it never
    saw, an erased one only where it drew it. The record holds the database's count of rows
    at the generation's epoch (from the log, not from the index): a generation whose count
    differs is rebuilt."""
    _build(store_path)
    reader = ltm.open(store_path, embedder="hash")
    writer = ltm.open(store_path, embedder="hash")
    try:
        idx = reader.backend._vector_index()  # type: ignore[attr-defined]
        if change == "added":
            writer.add("a new note about the falcon in the tunnel", user="user-3")
        else:
            first = writer.search(_text(2, 5), user="user-2", k=1)[0].memory
            assert writer.forget(first.id, user="user-2").count == 1
        writer.backend.flush()  # saves a generation at the head, trims the log
        db = sqlite3.connect(store_path / "memories.db")
        (head,) = db.execute("SELECT max(epoch) FROM index_log").fetchone()
        db.close()
        idx.epoch = head  # the lost catch-up: the head's epoch, without its entries
    finally:
        writer.close()
        reader.close()  # saves the reader's index as the current generation
    rec = _record(store_path)
    assert rec["count"] == USERS * PER_USER and rec["rows"] == rec["count"] + (
        1 if change == "added" else -1), rec
    with caplog.at_level(logging.WARNING, logger="ltm.backends.sqlite.vectors"):
        assert_index_equals_database(store_path)
    assert any("rebuilding" in r.getMessage() and f"holds {rec['count']} rows" in
               r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    fixed = _record(store_path)
    assert fixed["gen"] > rec["gen"] and fixed["rows"] == fixed["count"] == rec["rows"]


def test_a_record_without_a_row_count_is_still_loaded(store_path: Path) -> None:
    """A record an older version wrote holds no ``rows``: its generation is loaded, not
    rebuilt, and the next save of a changed index counts again once a rebuild gives a base."""
    _build(store_path)
    rec = _record(store_path)
    del rec["rows"]
    db = sqlite3.connect(store_path / "memories.db")
    db.execute("UPDATE meta SET value = ? WHERE key = 'vector_index'", (json.dumps(rec),))
    db.commit()
    db.close()
    with ltm.open(store_path, embedder="hash") as mem:
        assert mem.search(_text(1, 7), user="user-1", k=1)[0].memory.text == _text(1, 7)
    assert _record(store_path) == rec  # the same generation, not rebuilt
    assert_index_equals_database(store_path)


def test_the_row_count_follows_writes_of_two_processes(store_path: Path) -> None:
    """Each save records the database's count of rows at its epoch, carried from the last
    record through the log: adds, erasures and new vectors of two processes, saved by either,
    leave it equal to the index's count, and a reopen keeps the generation (no rebuild)."""
    _build(store_path)
    one = ltm.open(store_path, embedder="hash")
    two = ltm.open(store_path, embedder="hash")
    try:
        one.search("apple river", user="user-0", k=3)
        kept = one.add_many([{"text": f"late note {i} about copper", "user": "user-0"}
                             for i in range(30)])
        assert two.forget(user="user-4").count == PER_USER
        two.update(kept[0].id, user="user-0", text="a rewritten note about the harbor")
        one.backend.flush()
        rec = _record(store_path)
        assert rec["rows"] == rec["count"] == (USERS - 1) * PER_USER + 30
        assert one.forget(kept[1].id, user="user-0").count == 1
        two.add("one more about the meadow", user="user-1")
        two.backend.flush()
    finally:
        one.close()
        two.close()
    rec = _record(store_path)
    db = sqlite3.connect(store_path / "memories.db")
    (rows,) = db.execute("SELECT count(*) FROM memories").fetchone()
    db.close()
    assert rec["rows"] == rec["count"] == rows == (USERS - 1) * PER_USER + 30
    assert_index_equals_database(store_path)
    assert _record(store_path)["gen"] == rec["gen"]
