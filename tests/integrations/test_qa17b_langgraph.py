"""LangGraph store: reads of an item with a TTL refresh it without writing on every read (each
refresh is an update with its history event: 20 searches left 21 events), a batch of puts is
written in one add_many, and listing without a query pages instead of reading every item."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ltm.integrations.langgraph import LtmStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LtmStore]:
    s = LtmStore.open(tmp_path / "s", embedder="hash")
    try:
        yield s
    finally:
        s.close()


def _events(store: LtmStore, key: str) -> int:
    mem = store.store.list("alice", metadata={"lg_key": key}).memories[0]
    return len(store.store.history(mem.id, user="alice"))


def test_reads_of_an_item_with_a_ttl_do_not_grow_its_history(store: LtmStore) -> None:
    ns = ("alice", "m")
    store.put(ns, "k", {"text": "read often"}, ttl=60)
    before = _events(store, "k")
    for _ in range(20):
        assert [i.key for i in store.search(ns, limit=10)] == ["k"]
        assert store.get(ns, "k") is not None
    assert _events(store, "k") == before
    # once a hundredth of the TTL has passed since the last refresh, a read refreshes it
    store.put(ns, "short", {"text": "read now and then"}, ttl=0.05)  # 3 s: refresh after 30 ms
    first = store.store.list("alice", metadata={"lg_key": "short"}).memories[0].expires_at
    events = _events(store, "short")
    time.sleep(0.05)
    for _ in range(5):
        store.get(ns, "short")
    again = store.store.list("alice", metadata={"lg_key": "short"}).memories[0].expires_at
    assert first is not None and again is not None and again > first
    assert _events(store, "short") == events + 1
