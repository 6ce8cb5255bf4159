"""LangGraph store: reads of an item with a TTL refresh it without writing on every read (each
refresh is an update with its history event: 20 searches left 21 events), a batch of puts is
written in one add_many, and listing without a query pages instead of reading every item."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from langgraph.store.base import PutOp
from langgraph.store.memory import InMemoryStore

import ltm
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


class _Counting:
    """A MemoryStore as LtmStore sees it, counting the memories ``list`` hands out and the
    add calls (everything else goes to the store as it is)."""

    def __init__(self, store: ltm.MemoryStore) -> None:
        self._store = store
        self.listed = 0
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list(self, *args: Any, **kwargs: Any) -> Any:
        page = self._store.list(*args, **kwargs)
        self.listed += len(page.memories)
        return page

    def add(self, *args: Any, **kwargs: Any) -> Any:
        self.calls["add"] += 1
        return self._store.add(*args, **kwargs)

    def add_many(self, items: Any) -> Any:
        self.calls["add_many"] += 1
        return self._store.add_many(items)


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[tuple[LtmStore, _Counting]]:
    mem = ltm.open(tmp_path / "c", embedder="hash")
    spy = _Counting(mem)
    try:
        yield LtmStore(cast(ltm.MemoryStore, spy)), spy
    finally:
        mem.close()


def test_a_batch_of_puts_is_one_add_many(counted: tuple[LtmStore, _Counting]) -> None:
    store, spy = counted
    ref = InMemoryStore()
    ops = [PutOp(("alice", "m", f"t{i % 3}"), f"k{i}", {"text": f"note {i}", "n": i % 4})
           for i in range(120)] + [PutOp(("bob",), "b", {"text": "bob's"})]
    store.batch(ops)
    ref.batch(ops)
    assert spy.calls == Counter(add_many=1)
    # again, with updates, deletes and new keys mixed: the new ones in one add_many
    ops2 = [PutOp(("alice", "m", f"t{i % 3}"), f"k{i}", {"text": f"changed {i}"})
            for i in range(0, 120, 7)]
    ops2 += [PutOp(("alice", "m", f"t{i % 3}"), f"k{i}", None) for i in range(1, 120, 11)]
    ops2 += [PutOp(("alice", "n"), f"new{i}", {"text": f"new {i}"}) for i in range(30)]
    store.batch(ops2)
    ref.batch(ops2)
    assert spy.calls == Counter(add_many=2)
    got = sorted((i.namespace, i.key, repr(i.value)) for i in store.search((), limit=1000))
    want = sorted((i.namespace, i.key, repr(i.value)) for i in ref.search((), limit=1000))
    assert got == want and len(got) == 121 + 30 - 11
    assert len(spy._store.list("alice", limit=1000)) == 120 + 30 - 11  # one memory per item


def test_listing_without_a_query_reads_only_what_it_returns(
        counted: tuple[LtmStore, _Counting]) -> None:
    store, spy = counted
    ref = InMemoryStore()
    for i in range(300):  # one put each: distinct update times, newest last
        ns = ("alice", "m", f"t{i % 3}") if i % 5 else ("bob", "m")
        store.put(ns, f"k{i}", {"text": f"note {i}", "n": i % 4})
        ref.put(ns, f"k{i}", {"text": f"note {i}", "n": i % 4})
    for prefix, flt, offset, limit in [(("alice",), None, 0, 10), (("alice",), None, 25, 10),
                                       ((), None, 0, 7), ((), {"n": 2}, 3, 5),
                                       (("alice", "m", "t1"), {"n": {"$gte": 2}}, 0, 4),
                                       (("alice",), None, 0, 0), (("carol",), None, 0, 5)]:
        spy.listed = 0
        got = store.search(prefix, filter=flt, offset=offset, limit=limit)
        # InMemoryStore keeps insertion order; ltm lists newest update first (documented)
        everything = ref.search(prefix, filter=flt, limit=1000)
        want = sorted(everything, key=lambda i: i.updated_at, reverse=True)
        assert [i.key for i in got] == [i.key for i in want[offset:offset + limit]], prefix
        users = 2 if not prefix else 1
        # what a page needs (and the next one's first memory), not the 300 items
        assert spy.listed <= users * max(offset + limit + 1, 101 if flt else 0) + 1, (
            prefix, flt, spy.listed)


def test_a_get_reads_its_item_by_id_and_sees_other_writers(tmp_path: Path) -> None:
    """A get of an item this store has seen reads that memory by its id (a metadata filter
    reads every item of the user in the database), and still gives what another writer (a
    second store object, as another process) put, deleted or put anew."""
    mem = ltm.open(tmp_path / "s", embedder="hash")
    spy = _Counting(mem)
    ours = LtmStore(cast(ltm.MemoryStore, spy))
    other = LtmStore.open(tmp_path / "s", embedder="hash")
    ns = ("alice", "m")
    try:
        for i in range(50):
            ours.put(ns, f"x{i}", {"text": f"filler {i}"})
        ours.put(ns, "k", {"v": 1})
        assert ours.get(ns, "k").value == {"v": 1}  # type: ignore[union-attr]
        spy.listed = 0
        for _ in range(3):
            assert ours.get(ns, "k").value == {"v": 1}  # type: ignore[union-attr]
        assert spy.listed == 0
        other.put(ns, "k", {"v": 2})  # updated in place
        assert ours.get(ns, "k").value == {"v": 2}  # type: ignore[union-attr]
        other.delete(ns, "k")
        assert ours.get(ns, "k") is None
        other.put(ns, "k", {"v": 3})  # a new memory
        assert ours.get(ns, "k").value == {"v": 3}  # type: ignore[union-attr]
        other.put(ns, "k", {"v": 4}, ttl=1e-5)  # 0.6 ms
        time.sleep(0.05)
        assert ours.get(ns, "k") is None
        assert ours.get(("alice", "n"), "k") is None and ours.get(ns, "nothing") is None
        ours.put(ns, "k", {"v": 5})
        assert other.get(ns, "k").value == ours.get(ns, "k").value == {"v": 5}  # type: ignore[union-attr]
    finally:
        other.close()
        mem.close()
