"""The fast write path keeps the engine's promises: what add_many returns is what get() reads,
rows written by this process are searchable at once (added straight to the vector index), and
that index equals one rebuilt from the database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

import ltm
from ltm.backends.base import Filters
from ltm.bench.corpus import Corpus


def _items(n: int, users: int, seed: int = 0) -> list[dict[str, object]]:
    return [{"text": i.text, "user": i.user, "session": i.session, "time": i.time}
            for i in Corpus(n, users, seed).items()]


def test_add_many_returns_what_get_reads(store: ltm.MemoryStore) -> None:
    items = _items(300, 3)
    items[5] = {**items[5], "metadata": {"speaker": "Ana", "n": 1}, "importance": 0.7,
                "kind": "fact", "pinned": True, "expires_at": "2099-01-01T00:00:00Z",
                "valid_from": "2020-02-03T04:05:06.789Z"}
    mems = store.add_many(items)
    for m in mems:
        assert store.get(m.id, user=m.user) == m
    assert [m.seq for m in mems if m.session == mems[0].session][:3] == [0, 1, 2]


def test_own_writes_are_searchable_at_once(open_store: Callable[..., ltm.MemoryStore]) -> None:
    store = open_store(embedder="hash")
    first = store.add("the lighthouse keeper painted the door blue", user="u")
    backend = store.backend
    qv = store.embedder.embed(["the lighthouse keeper painted the door blue"])[0]
    assert backend.dense_search(qv, Filters(user="u"), 1)[0][0] == first.id  # index loaded
    epoch = backend._index.epoch  # type: ignore[attr-defined]
    batch = store.add_many(_items(500, 5))
    later = store.add("a red kite circled over the quarry", user="u")
    assert backend._index.epoch > epoch  # type: ignore[attr-defined]
    qv2 = store.embedder.embed(["a red kite circled over the quarry"])[0]
    assert backend.dense_search(qv2, Filters(user="u"), 1)[0][0] == later.id
    one = batch[123]
    qv3 = store.embedder.embed([one.text])[0]
    assert one.id in [i for i, _ in backend.dense_search(qv3, Filters(user=one.user), 5)]
    # isolation: another user's rows never come back
    assert all(i != one.id for i, _ in backend.dense_search(qv3, Filters(user="u"), 50))


def test_direct_index_equals_rebuild(open_store: Callable[..., ltm.MemoryStore],
                                     store_path: Path) -> None:
    store = open_store(embedder="hash")
    store.add("warm the index", user="a")
    store.search("warm", user="a")
    for start in range(0, 1200, 400):
        store.add_many(_items(1200, 4)[start:start + 400])
    store.forget(user="user-00001")
    idx = store.backend._vector_index()  # type: ignore[attr-defined]
    live = {u: idx.user_rows(u) for u in ["a", "user-00000", "user-00001", "user-00002"]}
    store.close()
    for meta in (store_path / "index").glob("gen-*/meta.json"):
        meta.unlink()  # force a rebuild from SQLite
    again = open_store(embedder="hash")
    rebuilt = again.backend._vector_index()  # type: ignore[attr-defined]
    for user, (rowids, vecs) in live.items():
        r2, v2 = rebuilt.user_rows(user)
        assert np.array_equal(np.sort(rowids), np.sort(r2))
        order, order2 = np.argsort(rowids), np.argsort(r2)
        assert np.array_equal(vecs[order], v2[order2])
    assert len(live["user-00001"][0]) == 0


def test_insert_inside_outer_transaction_is_caught_up(store: ltm.MemoryStore) -> None:
    backend = store.backend
    store.add("seed memory about Lisbon", user="u")
    store.search("Lisbon", user="u")
    with backend.atomic():  # type: ignore[attr-defined]
        inner = store.add_many([{"text": "a nested write about Porto trains", "user": "u"}])[0]
    qv = store.embedder.embed(["a nested write about Porto trains"])[0]
    assert backend.dense_search(qv, Filters(user="u"), 1)[0][0] == inner.id
