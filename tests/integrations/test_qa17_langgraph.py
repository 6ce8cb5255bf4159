"""QA of the LangGraph store as a new user meets it: parallel nodes writing the same key leave
one item (they left several, and a delete then removed only one of them), a value that is not
JSON is refused with ltm's InvalidInput (it was a raw TypeError), and a query made only of
whitespace searches as InMemoryStore does (it raised)."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
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


def test_parallel_puts_of_one_key_leave_one_item(store: LtmStore) -> None:
    ns = ("alice", "memories")
    for round_ in range(8):
        key = f"k{round_}"
        barrier = threading.Barrier(6)

        def write(i: int, key: str = key, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            store.put(ns, key, {"text": f"value {i}"})

        threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        held = [i for i in store.search(ns, limit=1000) if i.key == key]
        assert len(held) == 1, (round_, [i.value for i in held])
        assert len(store.store.list("alice", limit=1000)) == round_ + 1
    store.delete(ns, "k0")
    assert store.get(ns, "k0") is None
    assert "k0" not in {i.key for i in store.search(ns, limit=1000)}


def test_a_value_that_is_not_json_is_invalid_input(store: LtmStore) -> None:
    for value in ({"when": datetime.datetime(2020, 1, 1)}, {"x": float("nan")},
                  {"s": {1, 2}}):
        with pytest.raises(ltm.InvalidInput):
            store.put(("alice",), "k", value)
    assert store.store.list("alice").memories == []


def test_a_whitespace_query_searches_like_in_memory_store(tmp_path: Path) -> None:
    index: Any = {"dims": 16, "embed": DeterministicFakeEmbedding(size=16), "fields": ["text"]}
    ours = LtmStore.open(tmp_path / "s", index=index)
    ref = InMemoryStore(index=index)
    try:
        for s in (ours, ref):
            s.put(("alice", "m"), "a", {"text": "tea at noon"})
            s.put(("alice", "m"), "b", {"text": "a walk by the river"})
        for query in ("   ", "\n\t", "\u200b"):
            got = ours.search(("alice",), query=query, limit=10)
            want = ref.search(("alice",), query=query, limit=10)
            assert sorted(i.key for i in got) == sorted(i.key for i in want) == ["a", "b"]
    finally:
        ours.close()


def test_a_batch_with_a_bad_value_writes_nothing(store: LtmStore) -> None:
    from langgraph.store.base import PutOp

    ops = [PutOp(("alice", "m"), "good", {"text": "fine"}),
           PutOp(("alice", "m"), "bad", {"when": datetime.date(2020, 1, 1)})]
    with pytest.raises(ltm.InvalidInput):
        store.batch(ops)
    assert store.get(("alice", "m"), "good") is None


@pytest.mark.parametrize("text", ["a\x00b", "\u200b", "x" * 120_000])
def test_values_whose_text_ltm_cannot_hold_are_kept(tmp_path: Path, text: str) -> None:
    """InMemoryStore keeps these values; the item's text only serves search, the value is
    given back whole."""
    s = LtmStore.open(tmp_path / "s", embedder="hash", index={"fields": ["text"]},
                      max_metadata_bytes=1_000_000)
    try:
        s.put(("alice", "m"), "k", {"text": text, "n": 1})
        got = s.get(("alice", "m"), "k")
        assert got is not None and got.value == {"text": text, "n": 1}
        assert [i.key for i in s.search(("alice",), query="a x")] == ["k"]
    finally:
        s.close()


def test_a_key_with_a_nul_is_refused_not_lost(store: LtmStore) -> None:
    """The item could be written but never found again (the metadata filter does not match a
    NUL), so each put added another copy; LangGraph refuses NUL in namespace labels, and its
    PostgreSQL store cannot hold one in a key either."""
    for _ in range(2):
        with pytest.raises(ltm.InvalidInput):
            store.put(("alice", "m"), "k\x00", {"text": "v"})
    assert store.store.list("alice").memories == []
    assert store.get(("alice", "m"), "k\x00") is None
