"""The per-user caches that grow after a connection's own adds (``Connection._own_appends``)
against what the other tests of them do not reach (SQLite): threads of one store adding,
forgetting and searching at once, and another connection's erasures and rewrites of the same
user (the whole user forgotten, a session, everything before a time, an import, a reindex of
the vectors, a compaction) or a rolled-back transaction of own adds between this connection's
adds. A search never shows a memory whose
forget had returned before it began, and once the writes stop every search of the store (and of
a second long-lived store on the file) answers what a freshly opened store answers.

(The torture scripts these come from also ran kill -9 of a writing process during searches,
hnsw_min_scope 30 and other processes' writes: see the commit that added this file.)"""

from __future__ import annotations

import io
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import ltm
from ltm.bench.corpus import Corpus
from ltm.errors import NotFound
from ltm.ids import new_id

NOW = "2026-06-01T00:00:00Z"
USERS = ("alice", "bob")


def _open(folder: Path) -> ltm.MemoryStore:
    return ltm.open(folder, embedder="hash")


def _pool(n: int, seed: int) -> list[dict[str, Any]]:
    items = [{"text": f"{i.text} tok{k}", "session": i.session, "time": i.time}
             for k, i in enumerate(Corpus(n, len(USERS), seed=seed).items())]
    random.Random(seed).shuffle(items)
    return items


def _answers(mem: ltm.MemoryStore, user: str, queries: list[str]) -> list[Any]:
    return [[(h.memory.id, h.score, h.relevance) for h in mem.search(q, user=user, k=10, now=NOW)]
            for q in queries]


def _like_fresh(folder: Path, stores: list[ltm.MemoryStore], queries: list[str]) -> None:
    for user in USERS:
        with _open(folder) as fresh:
            want = _answers(fresh, user, queries)
        for mem in stores:
            assert _answers(mem, user, queries) == want, user


def test_threads_adding_forgetting_and_searching(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    pool = _pool(8000, seed=3)
    lock = threading.Lock()
    queries = [q for _, q in Corpus(90, len(USERS), seed=3).queries(3, seed=3)] + ["tok77"]
    mem = _open(folder)
    mem.add_many([{**pool.pop(), "user": USERS[k % 2]} for k in range(200)])
    other = _open(folder)
    forgotten: dict[str, float] = {}  # id -> when its forget returned
    problems: list[str] = []

    def take(n: int, user: str, rng: random.Random) -> list[dict[str, Any]]:
        with lock:
            rows = [pool.pop() for _ in range(n)]
        return [{**r, "user": user, "session": rng.choice([None, r["session"], "a0", "zz"])}
                for r in rows]

    def writer(stop: threading.Event, rng: random.Random) -> None:
        while not stop.is_set() and len(pool) > 1000:  # (2 x 1.5 s: ~4,000 rows at load 3)
            user = rng.choice(USERS)
            c = rng.random()
            if c < 0.5:
                row = take(1, user, rng)[0]
                mem.add(row.pop("text"), **row)
            elif c < 0.75:
                mem.add_many(take(rng.randint(2, 12), user, rng))
            elif c < 0.85:  # the threaded INSERT path (> 256 rows), both users
                mem.add_many(take(260, user, rng) + take(5, rng.choice(USERS), rng))
            else:
                try:
                    with mem.engine.atomic():
                        row = take(1, user, rng)[0]
                        mem.add(row.pop("text"), **row)
                        mem.search("harbour", user=user, k=3, now=NOW)
                        raise KeyError("roll back")
                except KeyError:
                    pass

    def forgetter(stop: threading.Event, rng: random.Random) -> None:
        while not stop.is_set():
            user = rng.choice(USERS)
            held = list(mem.list(user, limit=100))
            try:
                if rng.random() < 0.8:
                    receipt = mem.forget(rng.choice(held).id, user=user)
                else:
                    receipt = mem.forget(user=user, session="a0")
            except NotFound:
                continue
            at = time.monotonic()
            with lock:
                forgotten.update((i, at) for i in receipt.ids)
            time.sleep(0.005)

    def searcher(stop: threading.Event, rng: random.Random, store: ltm.MemoryStore) -> None:
        while not stop.is_set():
            user, query = rng.choice(USERS), rng.choice(queries)
            began = time.monotonic()
            hits = store.search(query, user=user, k=10, now=NOW)
            with lock:
                back = [h.memory.id for h in hits if forgotten.get(h.memory.id, began) < began]
            if back:
                problems.append(f"{query!r} of {user} after their forget: {back}")

    try:
        for rnd in range(2):
            stop = threading.Event()
            threads = [threading.Thread(target=writer, args=(stop, random.Random(rnd))),
                       threading.Thread(target=forgetter, args=(stop, random.Random(rnd + 9))),
                       threading.Thread(target=searcher, args=(stop, random.Random(rnd), mem)),
                       threading.Thread(target=searcher, args=(stop, random.Random(rnd), other))]
            for t in threads:
                t.start()
            time.sleep(1.5)
            stop.set()
            for t in threads:
                t.join()
            assert problems == []
            _like_fresh(folder, [mem, other], queries)
    finally:
        mem.close()
        other.close()
    assert forgotten


def test_another_connections_erasures_and_rewrites_between_own_adds(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    pool = _pool(900, seed=5)
    queries = [q for _, q in Corpus(90, len(USERS), seed=5).queries(3, seed=5)]
    queries += ["harbour museum"]
    mem, other = _open(folder), _open(folder)
    forgotten: set[str] = set()

    def own(n: int, session: str | None) -> None:
        for _ in range(n):
            row = pool.pop()
            mem.add(row["text"], user="alice", session=session, time=row["time"])
        mem.add_many([{**pool.pop(), "user": "alice", "session": session} for _ in range(3)])

    def imported() -> None:
        buf = io.StringIO()
        other.export(buf, user="bob")
        records = []
        for line in buf.getvalue().splitlines()[1:20]:
            record = json.loads(line)
            record.update(id=new_id(), user="alice", session="0-first")
            records.append(json.dumps(record))
        other.import_(io.StringIO(buf.getvalue().splitlines()[0] + "\n" + "\n".join(records)))

    def before() -> None:
        times = sorted(m.time for m in other.list("alice", limit=500))
        forgotten.update(other.forget(user="alice", before=times[len(times) // 3]).ids)

    def rolled_back() -> None:  # (own adds: the search caches under versions given again)
        try:
            with mem.engine.atomic():
                mem.add(pool.pop()["text"], user="alice", session="a-early")
                mem.search("harbour museum", user="alice", now=NOW)
                raise KeyError("roll back")
        except KeyError:
            pass

    steps = [
        ("a rolled-back transaction of own adds", rolled_back),
        ("forget the whole user", lambda: forgotten.update(other.forget(user="alice").ids)),
        ("forget a session", lambda: forgotten.update(
            other.forget(user="alice", session="a-early").ids)),
        ("import", imported),
        ("reindex the vectors", lambda: other.reindex(user="alice", embeddings=True)),
        ("compact", lambda: other.backend.compact()),
        ("forget before a time", before),
    ]
    try:
        mem.add_many([{**pool.pop(), "user": USERS[k % 2]} for k in range(300)])
        for name, step in steps:
            own(3, "a-early")
            _like_fresh(folder, [mem, other], queries)  # the caches grown by own adds ...
            step()  # ... then another connection's write of the same user
            session = f"s{len(name):04d}"  # (among the corpus's sessions)
            own(2, session)
            own(1, None)
            _like_fresh(folder, [mem, other], queries)
            for store in (mem, other):
                held = {h[0] for q in _answers(store, "alice", queries) for h in q}
                assert not held & forgotten, (name, session)
                buf = io.StringIO()
                store.export(buf, user="alice")
                assert not any(i in buf.getvalue() for i in forgotten), name
    finally:
        mem.close()
        other.close()
    assert len(forgotten) > 150
