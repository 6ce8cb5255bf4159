"""Behaviour of the embedded store: writes, reads, search, filters, history, errors."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

import ltm
from ltm.errors import DimensionMismatch, InvalidInput, NotFound, ScopeError


def test_add_get_roundtrip(store: ltm.MemoryStore) -> None:
    m = store.add("I moved to Lisbon in March", user="alice", session="s1",
                  time="2026-03-02T10:00:00Z", metadata={"source": "chat"}, importance=0.8)
    got = store.get(m.id, user="alice")
    assert got == m
    assert got.time == datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    assert got.metadata == {"source": "chat"}
    assert got.importance == 0.8
    assert got.kind == "episode" and got.session == "s1"


def test_search_finds_relevant_memory_first(store: ltm.MemoryStore) -> None:
    store.add_many([
        {"text": "I moved to Lisbon in March", "user": "alice"},
        {"text": "My favourite food is grilled sardines", "user": "alice"},
        {"text": "I play the cello on weekends", "user": "alice"},
        {"text": "The meeting with the bank is on Tuesday", "user": "alice"},
    ])
    hits = store.search("which city did I move to?", user="alice", k=2)
    assert hits[0].memory.text == "I moved to Lisbon in March"
    assert {"text", "dense", "fused", "score"} <= set(hits[0].signals)
    assert hits[0].score >= hits[1].score
    hits = store.search("what instrument do I play", user="alice", k=1)
    assert hits[0].memory.text == "I play the cello on weekends"


def test_add_conversation_orders_turns_and_keeps_speaker(store: ltm.MemoryStore) -> None:
    turns = store.add_conversation(
        [{"role": "user", "content": "I adopted a cat named Miso"},
         {"role": "assistant", "content": "What colour is Miso?"},
         {"role": "user", "content": "Orange with white paws", "time": "2026-01-05T09:00"}],
        user="alice", session="c1", time="2026-01-05T08:00")
    assert [t.seq for t in turns] == [0, 1, 2]
    assert turns[0].speaker == "user" and turns[1].speaker == "assistant"
    assert turns[0].time == datetime(2026, 1, 5, 8, tzinfo=timezone.utc)
    assert turns[2].time == datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    more = store.add_conversation([{"role": "user", "content": "She loves tuna"}],
                                  user="alice", session="c1")
    assert more[0].seq == 3
    # the answer turn is found through its neighbour that mentions the cat
    texts = [h.memory.text for h in store.search("what colour is the cat", user="alice", k=3)]
    assert "Orange with white paws" in texts


def test_filters(store: ltm.MemoryStore) -> None:
    store.add("Lunch with Bob at the harbour", user="alice", session="a", agent="x",
              time="2025-05-01", kind="episode", metadata={"place": "harbour"})
    store.add("Bob prefers tea over coffee", user="alice", session="b", agent="y",
              time="2026-02-01", kind="fact")
    q = "Bob"
    assert {h.memory.session for h in store.search(q, user="alice")} == {"a", "b"}
    assert [h.memory.session for h in store.search(q, user="alice", session="a")] == ["a"]
    assert [h.memory.agent for h in store.search(q, user="alice", agent="y")] == ["y"]
    assert [h.memory.kind for h in store.search(q, user="alice", kinds=["fact"])] == ["fact"]
    assert [h.memory.session for h in store.search(q, user="alice", since="2026-01-01")] == ["b"]
    assert [h.memory.session for h in store.search(q, user="alice", until="2025-12-31")] == ["a"]
    # as_of is valid time: the lunch (May 2025) held on 1 June 2025, the tea fact not yet
    assert [h.memory.session for h in store.search(q, user="alice", as_of="2025-06-01")] == ["a"]
    assert [h.memory.session for h in store.search(q, user="alice", as_of="2025-04-01")] == []
    assert [h.memory.session for h in store.search(
        q, user="alice", metadata={"place": "harbour"})] == ["a"]


def test_expired_memories_are_hidden(store: ltm.MemoryStore) -> None:
    store.add("The door code is 4412", user="alice", expires_at="2020-01-01")
    store.add("The door code changed to 9930", user="alice")
    texts = [h.memory.text for h in store.search("door code", user="alice")]
    assert texts == ["The door code changed to 9930"]


def test_update_keeps_history(store: ltm.MemoryStore) -> None:
    m = store.add("I live in Porto", user="alice")
    u = store.update(m.id, user="alice", text="I live in Lisbon", importance=0.9)
    assert u.text == "I live in Lisbon" and u.importance == 0.9
    events = store.history(m.id, user="alice")
    assert [e.event for e in events] == ["created", "updated"]
    assert events[1].data == {"text": "I live in Porto", "importance": None}
    assert store.search("Lisbon", user="alice", k=1)[0].memory.id == m.id
    assert store.search("Porto", user="alice", k=1) == [] or \
        store.search("Porto", user="alice", k=1)[0].signals["text"] == 0.0


def test_context_is_chronological_and_within_budget(store: ltm.MemoryStore) -> None:
    store.add("Trip to Kyoto planned for April", user="alice", time="2026-02-01", session="p")
    store.add("Booked a ryokan in Kyoto", user="alice", time="2026-01-01", session="p")
    block = store.context("Kyoto trip", user="alice", budget_tokens=200)
    lines = block.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[2026-01-01") and "ryokan" in lines[0]
    assert "session p" in lines[1]
    tiny = store.context("Kyoto trip", user="alice", budget_tokens=15)
    assert len(tiny.splitlines()) <= 1


def test_stats(store: ltm.MemoryStore) -> None:
    store.add("one", user="a")
    store.add("two", user="b", kind="fact")
    s = store.stats()
    assert s["memories"] == 2 and s["users"] == 2
    assert s["by_kind"] == {"episode": 1, "fact": 1}
    assert s["embedder"].startswith("wordllama:")


@pytest.mark.parametrize("text", ["", "   ", None, 42, b"bytes", "a\x00b"])
def test_bad_text_rejected_and_nothing_written(store: ltm.MemoryStore, text: object) -> None:
    with pytest.raises(InvalidInput):
        store.add(text, user="alice")  # type: ignore[arg-type]
    assert store.stats()["memories"] == 0


@pytest.mark.parametrize("importance", [math.nan, -0.1, 1.5, math.inf, "high", True])
def test_bad_importance(store: ltm.MemoryStore, importance: object) -> None:
    with pytest.raises(InvalidInput, match="importance"):
        store.add("x", user="alice", importance=importance)  # type: ignore[arg-type]
    assert store.stats()["memories"] == 0


@pytest.mark.parametrize("time", ["yesterday-ish", "2026-13-45", math.nan, [2026], True])
def test_bad_time(store: ltm.MemoryStore, time: object) -> None:
    with pytest.raises(InvalidInput):
        store.add("x", user="alice", time=time)
    assert store.stats()["memories"] == 0


@pytest.mark.parametrize("user", [None, "", "  ", 7])
def test_bad_user_is_scope_error(store: ltm.MemoryStore, user: object) -> None:
    with pytest.raises(ScopeError):
        store.add("x", user=user)  # type: ignore[arg-type]
    with pytest.raises(ScopeError):
        store.search("x", user=user)  # type: ignore[arg-type]


def test_unknown_user_and_id(store: ltm.MemoryStore) -> None:
    m = store.add("secret plan", user="alice")
    with pytest.raises(NotFound):
        store.get(m.id, user="mallory")
    with pytest.raises(NotFound):
        store.get("01ARZ3NDEKTSV4RRFFQ69G5FAV", user="alice")
    with pytest.raises(NotFound):
        store.history(m.id, user="mallory")
    assert isinstance(NotFound("x"), KeyError)


def test_bad_search_args(store: ltm.MemoryStore) -> None:
    store.add("x", user="alice")
    for k in (0, -1, 10_001, 2.5, True):
        with pytest.raises(InvalidInput):
            store.search("x", user="alice", k=k)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        store.search("", user="alice")
    with pytest.raises(InvalidInput):
        store.search("x", user="alice", metadata={"bad key!": 1})
    with pytest.raises(InvalidInput):
        store.search("x", user="alice", since="not a time")


def test_add_many_is_atomic(store: ltm.MemoryStore) -> None:
    with pytest.raises(InvalidInput):
        store.add_many([{"text": "fine", "user": "a"}, {"text": "", "user": "a"}])
    with pytest.raises(InvalidInput):
        store.add_many([{"text": "fine", "user": "a", "colour": "red"}])
    assert store.stats()["memories"] == 0


def test_wrong_embedding_dimension(store: ltm.MemoryStore) -> None:
    import numpy as np
    with pytest.raises(DimensionMismatch):
        store.add_vectors([{"text": "x", "user": "a"}], np.ones((1, 17), dtype=np.float32))
    with pytest.raises(InvalidInput):
        store.add_vectors([{"text": "x", "user": "a"}], np.full((1, 256), np.nan, np.float32))
    assert store.stats()["memories"] == 0


def test_sources_must_belong_to_the_same_user(store: ltm.MemoryStore) -> None:
    b = store.add("bob's secret", user="bob")
    with pytest.raises(InvalidInput, match="sources"):
        store.add("derived", user="alice", kind="fact", sources=[b.id])


@pytest.mark.parametrize("time", ["9999-12-31T23:00:00-05:00", 1e308, -1e20, "0001-01-01T00:00:00+05:00"])
def test_out_of_range_times_are_invalid_input(store: ltm.MemoryStore, time: object) -> None:
    with pytest.raises(InvalidInput, match="out of range"):
        store.add("x", user="alice", time=time)
    store.add("y", user="alice")
    assert len(store.search("y", user="alice")) == 1  # nothing half-written breaks reads


def test_unencodable_strings_are_rejected(store: ltm.MemoryStore) -> None:
    with pytest.raises(InvalidInput):
        store.add("bad \ud800 text", user="alice")
    with pytest.raises(ScopeError):
        store.add("ok", user="al\udfffice")
    with pytest.raises(InvalidInput):
        store.add("ok", user="alice", metadata={"k": "\ud800"})
    with pytest.raises(InvalidInput):
        store.search("\ud800", user="alice")
    with pytest.raises(InvalidInput):
        store.search("x", user="alice", metadata={"a": 2**70})
    assert store.stats()["memories"] == 0
