"""F6 on both backends: a second store object on the same store (another process, as far as the
database can tell: its own connections and caches) never brings back what the first erased,
neither in its results nor by writing its stale state back when it closes."""

from __future__ import annotations

from collections.abc import Callable

import ltm


def test_a_stale_store_neither_returns_nor_writes_back_erased_memories(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    a = copen(embedder="hash")
    b = copen(embedder="hash")
    texts = [f"alice note {i} about the violet lighthouse" for i in range(40)]
    ids = {m.id for m in a.add_many([{"text": t, "user": "alice"} for t in texts])}
    a.add("bob keeps bees", user="bob")
    # b reads first: its caches (vector index, scope views, term counts) now hold alice's rows
    seen = {h.memory.id for h in b.search("violet lighthouse", user="alice", k=50)}
    assert seen == ids
    receipt = a.forget(user="alice")
    assert receipt.count == 40
    # the stale reader sees the erasure at once
    assert b.search("violet lighthouse", user="alice", k=50) == []
    assert [h.memory.text for h in b.search("bees", user="bob", k=5)] == ["bob keeps bees"]
    b.close()  # whatever b kept must not be written back
    a.close()
    c = copen(embedder="hash")
    assert c.search("violet lighthouse", user="alice", k=50) == []
    assert list(c.backend.iter_export("alice", with_vectors=True)) == []
    assert c.stats()["memories"] == 1
