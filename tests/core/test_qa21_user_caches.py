"""Issue 21: the SQLite backend's search caches (scope views and counts, BM25 lengths and
document frequencies within a scope, postings of query terms, rows read by id) are kept per
user (``user_versions``, migration 0010), so a write of one user leaves every other user's
caches in place, while a search still answers exactly what a freshly opened store answers
after any write of the user's own memories: from this connection, another one, another
process; insert, forget, update, erasure of the whole user, supersession, gc, import, a
rolled-back transaction, access counts."""

from __future__ import annotations

import io
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import ltm
from ltm.backends.sqlite.schema import DB_NAME
from ltm.bench.corpus import Corpus

NOW = "2026-06-01T00:00:00Z"
USERS = ("alice", "bob", "carol")


class Rollback(Exception):
    pass


def _open(folder: Path, **kw: Any) -> ltm.MemoryStore:
    return ltm.open(folder, embedder="hash", **kw)


def _corpus_rows(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` memories of three users (realistic text: ``ltm.bench.corpus``)."""
    items = list(Corpus(n, len(USERS), seed=seed).items())
    return [{"text": i.text, "user": USERS[int(i.user[-5:])], "session": i.session,
             "time": i.time} for i in items]


def _queries(seed: int, count: int = 4) -> list[str]:
    return [q for _, q in Corpus(90, len(USERS), seed=seed).queries(count, seed=seed)]


def _answers(mem: ltm.MemoryStore, user: str, queries: list[str]) -> list[list[Any]]:
    """Everything a search returns, to the bit: the memories (access counts included),
    scores, relevances and signals."""
    out = []
    for q in queries:
        out.append([(h.memory, h.score, h.relevance, sorted(h.signals.items()))
                    for h in mem.search(q, user=user, k=8, now=NOW)])
    return out


def _fresh(folder: Path, user: str, queries: list[str]) -> list[list[Any]]:
    with _open(folder) as fresh:
        return _answers(fresh, user, queries)


def _statements(mem: ltm.MemoryStore, user: str, queries: list[str]
                ) -> tuple[list[list[Any]], list[str]]:
    """The answers and the SQL statements the searches ran."""
    seen: list[str] = []
    conn = mem.backend.conn  # type: ignore[attr-defined]
    conn.set_trace_callback(seen.append)
    try:
        got = _answers(mem, user, queries)
    finally:
        conn.set_trace_callback(None)
    return got, seen


def _scope_reads(statements: list[str]) -> list[str]:
    """The statements that read a user's rows, postings or lengths (what a cache saves)."""
    return [s for s in statements if "MATCH" in s or "scope_snap" in s
            or "memories_scope" in s or "count(*)" in s or "_docsize" in s]


def test_another_users_writes_leave_the_caches_and_the_answers(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    queries = _queries(3)
    with _open(folder) as mem:
        mem.add_many(_corpus_rows(240, seed=3))
        before = _answers(mem, "alice", queries)  # fills the caches
        warm, seen = _statements(mem, "alice", queries)
        assert warm == before and _scope_reads(seen) == []
        view = mem.backend.scope_view("alice")  # type: ignore[attr-defined]
        # another connection, and this one, and another process, write bob's and carol's
        with _open(folder) as other:
            other.add("Bob moved to Porto with his dog Biscuit", user="bob")
            bob = other.add("Carol ate ramen in Lisbon", user="carol")
            other.update(bob.id, user="carol", text="Carol ate ramen in Porto")
        mem.add_many([{"text": "Bob plays chess on Mondays", "user": "bob"}])
        subprocess.run([sys.executable, "-c", (
            "import ltm, sys\n"
            "with ltm.open(sys.argv[1], embedder='hash') as m:\n"
            "    m.add('Carol is learning the violin', user='carol')\n"
            "    m.forget(user='bob')\n"), str(folder)], check=True, timeout=120)
        after, seen = _statements(mem, "alice", queries)
        assert after == before
        assert _scope_reads(seen) == []  # nothing of alice's read again
        assert mem.backend.scope_view("alice") is view  # type: ignore[attr-defined]
        assert _fresh(folder, "alice", queries) == before


def test_the_users_own_write_in_another_process_is_seen_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    queries = ["where is the xylophone recital", *_queries(4)]
    with _open(folder) as mem:
        mem.add_many(_corpus_rows(240, seed=4))
        before = _answers(mem, "alice", queries)
        assert not any("xylophone" in h[0].text for h in before[0])
        subprocess.run([sys.executable, "-c", (
            "import ltm, sys\n"
            "with ltm.open(sys.argv[1], embedder='hash') as m:\n"
            "    m.add('the xylophone recital is at the harbour museum', user='alice',\n"
            "          time='2026-05-30T10:00:00Z')\n"), str(folder)], check=True, timeout=120)
        after = _answers(mem, "alice", queries)
        assert "xylophone" in after[0][0][0].text
        assert mem.backend.scope_count("alice") == 81  # type: ignore[attr-defined]
        assert after == _fresh(folder, "alice", queries)


def test_forget_update_and_erasure_from_another_connection(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    queries = _queries(5)
    with _open(folder) as mem, _open(folder) as other:
        mem.add_many(_corpus_rows(240, seed=5))
        first = _answers(mem, "alice", queries)
        top = first[0][0][0]
        other.forget(top.id, user="alice")  # forget one
        got = _answers(mem, "alice", queries)
        assert all(top.id != h[0].id for row in got for h in row)
        assert got == _fresh(folder, "alice", queries)
        second = got[1][0][0]
        other.update(second.id, user="alice", text="a zeppelin over the quiet harbour",
                     importance=0.9)  # the text and the scoring columns
        got = _answers(mem, "alice", ["zeppelin", *queries])
        assert got[0][0][0].id == second.id and got[0][0][0].text.startswith("a zeppelin")
        assert got == _fresh(folder, "alice", ["zeppelin", *queries])
        # supersession from the other connection
        newer = other.add("the zeppelin moved to the riverside park", user="alice",
                          supersedes=second.id, time="2026-05-01T00:00:00Z")
        got = _answers(mem, "alice", ["zeppelin"])
        ids = [h[0].id for h in got[0]]
        assert ids.index(newer.id) < ids.index(second.id)
        assert got[0][ids.index(second.id)][0].superseded_by == newer.id
        assert got == _fresh(folder, "alice", ["zeppelin"])
        other.forget(user="alice")  # the whole user
        assert _answers(mem, "alice", queries) == [[] for _ in queries]
        assert mem.backend.scope_count("alice") == 0  # type: ignore[attr-defined]
        conn = mem.backend.conn  # type: ignore[attr-defined]
        assert conn.execute("SELECT count(*) FROM user_versions WHERE user = 'alice'"
                            ).fetchone()[0] == 0  # erasure leaves no name behind
        other.add("alice again: a zeppelin ride", user="alice")
        got = _answers(mem, "alice", ["zeppelin", *queries])
        assert [h[0].text for h in got[0]] == ["alice again: a zeppelin ride"]
        assert got == _fresh(folder, "alice", ["zeppelin", *queries])


def test_a_rolled_back_write_leaves_no_cached_phantom(tmp_path: Path) -> None:
    """A search inside a transaction caches what it reads under the version the transaction
    took; after the rollback another connection's write takes that same version again."""
    folder = tmp_path / "s"
    with _open(folder) as mem, _open(folder) as other:
        mem.add_many(_corpus_rows(120, seed=6))
        version = "SELECT v FROM user_versions WHERE user = 'alice'"
        conn = mem.backend.conn  # type: ignore[attr-defined]
        with pytest.raises(Rollback):
            with mem.engine.atomic():
                mem.add("a phantom penguin parade", user="alice")
                taken = conn.execute(version).fetchone()[0]
                assert mem.search("penguin parade", user="alice", k=1,
                                  now=NOW)[0].memory.text == "a phantom penguin parade"
                raise Rollback
        other.add("a real penguin in the zoo", user="alice")
        assert conn.execute(version).fetchone()[0] == taken  # the same version, other rows
        got = _answers(mem, "alice", ["penguin parade"])
        texts = [h[0].text for h in got[0]]
        assert texts[0] == "a real penguin in the zoo" and "phantom" not in " ".join(texts)
        assert got == _fresh(folder, "alice", ["penguin parade"])


def _step(rng: random.Random, mem: ltm.MemoryStore, other: ltm.MemoryStore,
          folder: Path, pool: list[dict[str, Any]]) -> str:
    """One random write of one of the two connections (or of a third), by a random user."""
    w = rng.choice([mem, other, other])
    user = rng.choice(USERS)
    held = [m.id for m in w.list(user, limit=500)]
    op = rng.choice(["add", "add_many", "forget", "update_text", "update_meta", "supersede",
                     "forget_session", "gc", "import", "search_elsewhere", "forget_user"]
                    if held else ["add", "add_many", "import"])
    if op == "add":
        w.add(pool.pop()["text"], user=user, time=NOW)
    elif op == "add_many":
        w.add_many([{**pool.pop(), "user": user} for _ in range(rng.randint(2, 12))])
    elif op == "forget":
        w.forget(rng.choice(held), user=user)
    elif op == "update_text":
        w.update(rng.choice(held), user=user, text=pool.pop()["text"])
    elif op == "update_meta":
        w.update(rng.choice(held), user=user, metadata={"speaker": rng.choice(["Ana", "Leo"])},
                 importance=rng.random())
    elif op == "supersede":
        w.add(pool.pop()["text"], user=user, kind="fact", supersedes=rng.choice(held))
    elif op == "forget_session":
        session = w.get(rng.choice(held), user=user).session
        if session is None:
            return "noop"
        w.forget(user=user, session=session)
    elif op == "gc":  # capacity eviction
        with _open(folder, retention='{"episode": {"capacity": 25}}') as third:
            third.gc(now=NOW)
    elif op == "import":
        buf = io.StringIO()
        with _open(folder) as third:
            rows = [{**pool.pop(), "user": user} for _ in range(3)]
            scratch = folder.parent / f"scratch-{rng.randrange(10**9)}"
            with _open(scratch) as s:
                s.add_many(rows)
                s.export(buf, user=user)
            buf.seek(0)
            third.import_(buf)
    elif op == "search_elsewhere":  # access counts from a third connection
        with _open(folder) as third:
            third.search(pool[-1]["text"], user=user, k=5, now=NOW)
    elif op == "forget_user":
        w.forget(user=user)
    return op


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_interleavings_answer_like_a_fresh_store(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    folder = tmp_path / "s"
    pool = _corpus_rows(600, seed=100 + seed)
    rng.shuffle(pool)
    queries = _queries(seed, count=3)
    done = []
    with _open(folder) as mem, _open(folder) as other:
        mem.add_many(pool[:150])
        del pool[:150]
        for _ in range(24):
            done.append(_step(rng, mem, other, folder, pool))
            user = rng.choice(USERS)
            got = _answers(mem, user, queries)
            assert _answers(mem, user, queries) == got  # once more, from the caches
            # (a fresh store's close writes its access counts: read it after this one)
            assert got == _fresh(folder, user, queries), done
    assert len(set(done)) >= 6  # the steps covered most kinds of writes


def test_a_store_from_before_the_user_versions_opens_migrated(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    queries = _queries(7)
    with _open(folder) as mem:
        mem.add_many(_corpus_rows(180, seed=7))
        expected = {u: _answers(mem, u, queries) for u in USERS}
    # the store as the code before 0010 left it
    with sqlite3.connect(folder / DB_NAME) as conn:
        conn.executescript("""
            DROP TRIGGER user_versions_ad;
            DROP TRIGGER user_versions_au;
            DROP TRIGGER user_versions_touch;
            DROP TABLE user_versions;
            DELETE FROM sqlite_sequence WHERE name = 'user_versions';
            DELETE FROM migrations WHERE name LIKE '0010%' OR name LIKE '0013%';""")
    with _open(folder) as mem, _open(folder) as other:
        conn = mem.backend.conn  # type: ignore[attr-defined]
        assert sorted(u for (u,) in conn.execute("SELECT user FROM user_versions")) == \
            sorted(USERS)
        for u in USERS:  # the access counts of the first searches are in the store now
            got = _answers(mem, u, queries)
            assert [[(h[0].id, *h[1:]) for h in row] for row in got] == \
                [[(h[0].id, *h[1:]) for h in row] for row in expected[u]]
        other.add("bob's new saxophone teacher lives in Oslo", user="bob")
        got = _answers(mem, "bob", ["saxophone teacher"])
        assert "saxophone" in got[0][0][0].text
        assert got == _fresh(folder, "bob", ["saxophone teacher"])
        # a write the store's code does not make (the indexed text alone, by hand) moves
        # the version too (0013)
        assert all(h[0].text.find("saxophone") < 0 for h in _answers(mem, "carol",
                                                                   ["saxophone"])[0])
        with sqlite3.connect(folder / DB_NAME) as raw:
            raw.execute("UPDATE memories SET fts_text = 'a saxophone quartet' WHERE n = "
                        "(SELECT min(n) FROM memories WHERE user = 'carol')")
        got = _answers(mem, "carol", ["saxophone"])
        assert got[0][0][3][[k for k, _ in got[0][0][3]].index("text")][1] > 0
        assert got == _fresh(folder, "carol", ["saxophone"])


_WRITER = r"""
import random, sys
import ltm
rng = random.Random(int(sys.argv[2]))
with ltm.open(sys.argv[1], embedder="hash") as mem:
    print("ready", flush=True)
    i = 0
    while True:
        user = f"w{rng.randrange(6)}"
        mem.add_many([{"text": f"note {i} {j} about the harbour", "user": user}
                      for j in range(rng.randint(1, 40))])
        held = [m.id for m in mem.list(user, limit=20)]
        if rng.random() < 0.5:
            mem.update(rng.choice(held), user=user, text=f"rewritten {i}")
        if rng.random() < 0.3:
            mem.forget(rng.choice(held), user=user)
        if rng.random() < 0.05:
            mem.forget(user=user)
        i += 1
"""


def test_killed_writers_leave_one_version_per_user_with_memories(tmp_path: Path) -> None:
    """kill -9 at random moments: the versions stay what the rows are (a row for each user
    with memories, none for the others), since they are written in the rows' transactions."""
    folder = tmp_path / "s"
    rng = random.Random(21)
    with _open(folder) as mem:
        mem.add_many(_corpus_rows(90, seed=21))
        before = _answers(mem, "alice", _queries(21))
    for seed in range(4):
        child = subprocess.Popen([sys.executable, "-c", _WRITER, str(folder), str(seed)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.3, 1.5))
        finally:
            child.kill()
            _, err = child.communicate(timeout=60)
        assert child.returncode == -9, err
        with sqlite3.connect(folder / DB_NAME) as conn:
            versions = dict(conn.execute("SELECT user, v FROM user_versions").fetchall())
            users = {u for (u,) in conn.execute("SELECT DISTINCT user FROM memories")}
        assert set(versions) == users
        assert len(set(versions.values())) == len(versions)
    with _open(folder) as mem:  # and alice, never written by the children, is untouched
        after = _answers(mem, "alice", _queries(21))
        # (the first store's close wrote the access counts of its searches)
        assert [[(h[0].id, *h[1:]) for h in row] for row in after] == \
            [[(h[0].id, *h[1:]) for h in row] for row in before]
