"""A search right after the same user's own ``add`` or own change of scoring columns alone
(a supersession, importance, time, pinning; SQLite): the scope view, row count, BM25 token
count and the postings of query words already read are grown by the new or changed rows
alone (``Connection._own_appends``, ``FullText._grow_postings``) instead of being read again,
and the user's vectors are scored where they lie (``VectorIndex.scores_all``) instead of
being gathered. Whatever the sequence of writes (own adds with new sessions that sort
anywhere among the old ones, other connections' adds, updates, forgets, supersession,
rolled-back transactions, a reopen), a search answers exactly what a freshly opened store
answers, and the cached view is, array for array, the one a cold read gives."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ltm
from ltm.bench.corpus import Corpus

NOW = "2026-06-01T00:00:00Z"
USERS = ("alice", "bob")
SEARCHED = (*USERS, "carol")  # carol: a scope of a few rows (their postings by highlight())


class Rollback(Exception):
    pass


def _open(folder: Path) -> ltm.MemoryStore:
    return ltm.open(folder, embedder="hash")


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    items = list(Corpus(n, len(USERS), seed=seed).items())
    return [{"text": i.text, "user": USERS[int(i.user[-5:])], "session": i.session,
             "time": i.time} for i in items]


def _answers(mem: ltm.MemoryStore, user: str, queries: list[str]) -> list[list[Any]]:
    return [[(h.memory, h.score, h.relevance, sorted(h.signals.items()))
             for h in mem.search(q, user=user, k=8, now=NOW)] for q in queries]


def _fresh(folder: Path, user: str, queries: list[str]) -> list[list[Any]]:
    with _open(folder) as fresh:
        return _answers(fresh, user, queries)


def _same_as_cold(mem: ltm.MemoryStore, folder: Path, user: str) -> None:
    """The cached view, count, mean length and postings of ``user`` are what a cold read
    gives."""
    backend: Any = mem.backend
    view = backend.scope_view(user)
    with _open(folder) as fresh:
        cold: Any = fresh.backend
        want = cold._read_scope(user)
        mark = cold._user_mark(user)
        assert backend._scope_avgdl(user, backend._user_mark(user)) == \
            cold._scope_avgdl(user, mark)
        assert backend.scope_count(user) == cold.scope_count(user) == len(want)
        held = backend._postings(user, backend._user_mark(user))
        cold_view = cold.scope_view(user)
        for kind, term in [k for k in dict.keys(held) if k[0] in ("tf", "label")]:
            got = held.get((kind, term))
            cold._postings(user, mark)
            cold._term_postings(cold_view, term, None, mark)
            exp = dict.get(cold._postings(user, mark), (kind, term))
            assert len(got) == len(exp)
            for a, b in zip(got, exp):
                assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (kind, term)
    assert view.ids == want.ids
    for name in ("rowids", "session", "seq", "has_seq", "time", "importance", "superseded",
                 "expires", "id_rank"):
        got, exp = getattr(view, name), getattr(want, name)
        assert got.dtype == exp.dtype and np.array_equal(got, exp), name


def test_an_own_add_grows_the_caches_without_reading_the_scope(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    queries = ["harbour museum recital", "what did I cook on Sunday"]
    with _open(folder) as mem:
        mem.add_many(_rows(400, seed=1))
        _answers(mem, "alice", queries)
        seen: list[str] = []
        conn = mem.backend.conn  # type: ignore[attr-defined]
        first = mem.add("the harbour museum recital is in April", user="alice", kind="fact")
        for text, session in [("the recital at the harbour museum moved to May", "s-new"),
                              ("I cooked a harbour fish stew on Sunday", None),
                              ("a museum guide named Ilse", "a-first"),
                              ("the recital moved again, to June", "supersede"),
                              ("", "importance")]:
            if session == "supersede":  # an insert and a change of the older fact
                mem.add(text, user="alice", kind="fact", supersedes=first.id)
            elif session == "importance":
                mem.update(first.id, user="alice", importance=0.95)
            else:
                mem.add(text, user="alice", session=session, time=NOW)
            conn.set_trace_callback(seen.append)
            try:
                got = _answers(mem, "alice", queries)
            finally:
                conn.set_trace_callback(None)
            # the scope's rows, their count and lengths, the words' postings: not read again
            assert not [s for s in seen if "memories_scope" in s or "FROM memories WHERE user" in s
                        or "scope_snap" in s or "bm25(" in s], seen
            assert got == _fresh(folder, "alice", queries)
            _same_as_cold(mem, folder, "alice")
            seen.clear()
        assert "stew" in got[1][0][0].text


def _step(rng: random.Random, mem: ltm.MemoryStore, other: ltm.MemoryStore,
          pool: list[dict[str, Any]]) -> str:
    user = rng.choice(SEARCHED)
    held = [m.id for m in mem.list(user, limit=500)]
    # sessions that sort before, among and after the corpus's ("s0001..."), and none
    session = rng.choice([None, "a-early", "s0003b", "zz-late", f"s{rng.randrange(99):04d}",
                          f"new-{rng.randrange(10**6)}"])
    op = rng.choice(["add", "add", "add", "add_many", "other_add", "update", "forget",
                     "supersede", "supersede", "rollback", "txn_search", "pin", "importance",
                     "retime"] if held else ["add"])
    if op == "add":
        mem.add(pool.pop()["text"], user=user, session=session, time=NOW)
    elif op == "add_many":  # both users, several sessions, in one transaction
        mem.add_many([{**pool.pop(), "user": rng.choice(USERS),
                       "session": rng.choice([None, session, "b-mid"])}
                      for _ in range(rng.randint(2, 9))])
    elif op == "other_add":
        other.add(pool.pop()["text"], user=user, session=session)
    elif op == "update":
        rng.choice([mem, other]).update(rng.choice(held), user=user, session=session or "x",
                                        importance=rng.random())
    elif op == "forget":
        rng.choice([mem, other]).forget(rng.choice(held), user=user)
    elif op == "supersede":
        current = [m.id for m in mem.list(user, limit=500) if m.superseded_by is None]
        mem.add(pool.pop()["text"], user=user, kind="fact",
                supersedes=rng.choice(current) if current else None)
    elif op == "rollback":
        with pytest.raises(Rollback):
            with mem.engine.atomic():
                mem.add(pool.pop()["text"], user=user, session=session)
                mem.search("harbour", user=user, k=3, now=NOW)
                raise Rollback
    elif op == "txn_search":  # a search inside the transaction that adds, then the commit
        with mem.engine.atomic():
            mem.add(pool.pop()["text"], user=user, session=session)
            mem.search("harbour", user=user, k=3, now=NOW)
    elif op == "pin":
        mem.update(rng.choice(held), user=user, pinned=True, expires_at="2026-01-01")
    elif op == "importance":  # own changes of scoring columns alone: the row read again
        mem.update(rng.choice(held), user=user, importance=rng.random())
    elif op == "retime":
        mem.update(rng.choice(held), user=user, time=f"2026-0{rng.randint(1, 5)}-02T10:00:00Z",
                   expires_at="2027-01-01")
    return op


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_writes_answer_like_a_fresh_store(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    folder = tmp_path / "s"
    pool = _rows(900, seed=50 + seed)
    rng.shuffle(pool)
    queries = [q for _, q in Corpus(90, len(USERS), seed=seed).queries(2, seed=seed)]
    queries.append("harbour museum")
    done: list[str] = []
    mem, other = _open(folder), _open(folder)
    try:
        mem.add_many(pool[:450])  # (more than 200 times carol's rows: highlight() reads hers)
        del pool[:450]
        mem.add_many([{**row, "user": "carol"} for row in pool[:2]])
        del pool[:2]
        for i in range(40):
            done.append(_step(rng, mem, other, pool))
            if i % 10 == 9:  # a reopen: views come from snapshots (session names unknown)
                mem.close()
                mem = _open(folder)
            user = rng.choice(SEARCHED)
            got = _answers(mem, user, queries)
            assert got == _fresh(folder, user, queries), done
            _same_as_cold(mem, folder, user)
    finally:
        mem.close()
        other.close()
    assert sum(done.count(op) for op in ("add", "add_many", "txn_search")) >= 8
