"""MemoryStore behaviour that every backend must show: run on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np
import pytest

import ltm
from ltm.errors import DimensionMismatch, EmbedderMismatch, InvalidInput, NotFound, ScopeError
from ltm.timeutil import to_us


def test_add_get_roundtrip(cstore: ltm.MemoryStore) -> None:
    m = cstore.add("I moved to Lisbon in March", user="alice", session="s1", agent="bot",
                   time="2026-03-02T10:00:00.123456Z", metadata={"source": "chat", "n": 2},
                   importance=0.8, expires_at="2030-01-01")
    got = cstore.get(m.id, user="alice")
    assert got == m
    assert got.time == datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=timezone.utc)
    assert got.metadata == {"source": "chat", "n": 2}
    assert (got.importance, got.kind, got.session, got.agent, got.seq) == (0.8, "episode",
                                                                           "s1", "bot", 0)
    assert got.expires_at == datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_persists_across_reopen_and_remembers_embedder(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    first = copen()
    m = first.add("The spare key is under the blue flowerpot", user="alice")
    first.close()
    again = copen()
    assert again.get(m.id, user="alice").text == m.text
    assert again.search("where is the spare key", user="alice", k=1)[0].memory.id == m.id
    assert again.stats()["embedder"].startswith("wordllama")
    again.close()
    with pytest.raises(EmbedderMismatch):
        copen(embedder="hash")


def test_search_ranks_relevant_memory_first(cstore: ltm.MemoryStore) -> None:
    cstore.add_many([
        {"text": "I moved to Lisbon in March", "user": "alice"},
        {"text": "My favourite food is grilled sardines", "user": "alice"},
        {"text": "I play the cello on weekends", "user": "alice"},
        {"text": "The meeting with the bank is on Tuesday", "user": "alice"},
    ])
    hits = cstore.search("which city did I move to?", user="alice", k=2)
    assert hits[0].memory.text == "I moved to Lisbon in March"
    assert hits[0].signals["text"] > 0 and hits[0].signals["dense"] > 0
    assert hits[0].score >= hits[1].score
    assert cstore.search("what instrument do I play", user="alice",
                         k=1)[0].memory.text == "I play the cello on weekends"
    # dense alone still finds it when no word is shared
    assert cstore.search("musical hobby", user="alice",
                         k=1)[0].memory.text == "I play the cello on weekends"


def test_full_text_prefers_rare_words(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash", dense_weight=0.0, context_weight=0.0, recency_weight=0.0,
                  importance_weight=0.0)
    store.add_many([{"text": f"the weather report for day {i} says weather is weather",
                     "user": "u"} for i in range(20)]
                   + [{"text": "the weather on the zeppelin trip was calm", "user": "u"}])
    hits = store.search("weather zeppelin", user="u", k=3)
    assert hits[0].memory.text == "the weather on the zeppelin trip was calm"
    assert hits[0].signals["text"] > hits[1].signals["text"] > 0


def test_conversation_turns_are_ordered_and_lend_context(cstore: ltm.MemoryStore) -> None:
    turns = cstore.add_conversation(
        [{"role": "user", "content": "I adopted a cat named Miso"},
         {"role": "assistant", "content": "What colour is Miso?"},
         {"role": "user", "content": "Orange with white paws", "time": "2026-01-05T09:00"}],
        user="alice", session="c1", time="2026-01-05T08:00")
    assert [t.seq for t in turns] == [0, 1, 2]
    assert turns[0].speaker == "user"
    more = cstore.add_conversation([{"role": "user", "content": "She loves tuna"}],
                                   user="alice", session="c1")
    assert more[0].seq == 3
    other = cstore.add_conversation([{"content": "new thread"}], user="alice", session="c2")
    assert other[0].seq == 0
    texts = [h.memory.text for h in cstore.search("what colour is the cat", user="alice", k=3)]
    assert "Orange with white paws" in texts


def test_filters(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    a = store.add("Lunch with Bob at the harbour", user="alice", session="a", agent="x",
                  time="2025-05-01", metadata={"place": "harbour", "stars": 4})
    b = store.add("Lunch with Carol at the museum", user="alice", session="b", agent="y",
                  time="2025-06-01", kind="fact", metadata={"place": "museum", "stars": 5})
    c = store.add("Lunch alone at home", user="alice", session="b", time="2025-07-01",
                  kind="summary")

    def ids(**flt: object) -> set[str]:
        return {h.memory.id for h in store.search("lunch", user="alice", k=10, **flt)}

    assert ids() == {a.id, b.id, c.id}
    assert ids(session="b") == {b.id, c.id}
    assert ids(agent="x") == {a.id}
    assert ids(kinds=["fact", "summary"]) == {b.id, c.id}
    assert ids(kinds="episode") == {a.id}
    assert ids(since="2025-05-15") == {b.id, c.id}
    assert ids(until="2025-06-01") == {a.id, b.id}
    assert ids(since="2025-05-15", until="2025-06-15") == {b.id}
    assert ids(metadata={"place": "museum"}) == {b.id}
    assert ids(metadata={"stars": 4}) == {a.id}
    assert ids(metadata={"place": None}) == {c.id}
    assert ids(metadata={"place": "nowhere"}) == set()
    with pytest.raises(InvalidInput):
        store.search("lunch", user="alice", metadata={"bad key!": 1})
    with pytest.raises(InvalidInput):
        store.search("lunch", user="alice", metadata={"place": ["a"]})


def test_as_of_sees_what_was_valid_then(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    old = store.add("Alice lives in Berlin", user="alice", kind="fact", time="2020-01-01",
                    valid_from="2020-01-01")
    new = store.add("Alice lives in Lisbon", user="alice", kind="fact", time="2026-03-01",
                    valid_from="2026-03-01")
    store.backend.update(old.id, "alice", {"valid_to": to_us("2026-03-01"),
                                           "superseded_by": new.id}, None, event="superseded")

    def ids(**flt: object) -> list[str]:
        return [h.memory.id for h in store.search("where does alice live", user="alice",
                                                  k=5, **flt)]

    assert ids(as_of="2024-06-01") == [old.id]
    assert set(ids(as_of="2026-06-01")) == {new.id}
    now_ids = ids()
    assert now_ids[0] == new.id  # the superseded fact ranks below its successor
    assert [e.event for e in store.history(old.id, user="alice")] == ["created", "superseded"]


def test_expired_memories_are_hidden(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    store.add("temporary door code 4411", user="u", expires_at="2026-01-01")
    keep = store.add("permanent door code 9000", user="u")
    assert [h.memory.id for h in store.search("door code", user="u", now="2026-02-01")] \
        == [keep.id]
    assert len(store.search("door code", user="u", now="2025-12-01")) == 2


def test_update_changes_search_and_keeps_history(cstore: ltm.MemoryStore) -> None:
    m = cstore.add("My phone number ends in 1234", user="u", metadata={"speaker": "Ana"})
    upd = cstore.update(m.id, user="u", text="My phone number ends in 9876", importance=0.9,
                        metadata={"speaker": "Ana", "checked": True}, pinned=True)
    assert (upd.text, upd.importance, upd.pinned) == ("My phone number ends in 9876", 0.9, True)
    assert upd.metadata == {"speaker": "Ana", "checked": True}
    assert cstore.get(m.id, user="u") == upd
    hist = cstore.history(m.id, user="u")
    assert [e.event for e in hist] == ["created", "updated"]
    assert hist[1].data is not None and hist[1].data["text"] == "My phone number ends in 1234"
    assert [h.memory.id for h in cstore.search("9876", user="u")] == [m.id]
    assert all(h.signals["text"] == 0 for h in cstore.search("1234", user="u"))
    with pytest.raises(InvalidInput):
        cstore.update(m.id, user="u")


def test_access_counts_are_recorded(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    m = store.add("the wifi password is on the fridge", user="u")
    store.search("wifi password", user="u", k=1)
    store.search("wifi password", user="u", k=1)
    store.close()
    again = copen(embedder="hash")
    got = again.get(m.id, user="u")
    assert got.access_count >= 1 and got.last_accessed is not None


def test_stats_and_users(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    store.add_many([{"text": "one", "user": "a"}, {"text": "two", "user": "a", "kind": "fact"},
                    {"text": "three", "user": "b"}])
    st = store.stats()
    assert (st["memories"], st["users"], st["dim"]) == (3, 2, 256)
    assert st["by_kind"] == {"episode": 2, "fact": 1}
    assert st["embedder"] == "hash:256" and st["bytes_on_disk"] > 0
    assert store.users() == ["a", "b"]
    store.forget(user="b")
    assert store.users() == ["a"] and store.stats()["deleted_total"] == 1


@pytest.mark.parametrize("text", ["", "   ", None, 42, "a\x00b", "x" * 100_001])
def test_bad_text_rejected_and_nothing_written(cstore: ltm.MemoryStore, text: object) -> None:
    with pytest.raises(InvalidInput):
        cstore.add(text, user="u")  # type: ignore[arg-type]
    assert cstore.stats()["memories"] == 0


def test_bad_inputs_raise_typed_errors(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    m = store.add("hello", user="u")
    for user in ("", "  ", None, 5, "x" * 257):
        with pytest.raises(ScopeError):
            store.add("hello", user=user)  # type: ignore[arg-type]
        with pytest.raises(ScopeError):
            store.search("hello", user=user)  # type: ignore[arg-type]
    for bad in (float("nan"), -0.1, 1.5, True, "high"):
        with pytest.raises(InvalidInput):
            store.add("x", user="u", importance=bad)  # type: ignore[arg-type]
    for bad_time in ("yesterday-ish", float("inf"), True, [2026]):
        with pytest.raises(InvalidInput):
            store.add("x", user="u", time=bad_time)
    for k in (0, -1, 1001, 2.5, True):
        with pytest.raises(InvalidInput):
            store.search("hello", user="u", k=k)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        store.search("   ", user="u")
    with pytest.raises(InvalidInput):
        store.add("x", user="u", kind="Not A Kind")
    with pytest.raises(NotFound):
        store.get(m.id, user="other")
    with pytest.raises(NotFound):
        store.get("01HZZZZZZZZZZZZZZZZZZZZZZZ", user="u")
    with pytest.raises(NotFound):
        store.history("01HZZZZZZZZZZZZZZZZZZZZZZZ", user="u")
    with pytest.raises(NotFound):
        store.forget("01HZZZZZZZZZZZZZZZZZZZZZZZ", user="u")
    with pytest.raises(DimensionMismatch):
        store.add_vectors([{"text": "v", "user": "u"}], np.ones((1, 3), dtype=np.float32))
    with pytest.raises(InvalidInput):
        store.add_vectors([{"text": "v", "user": "u"}],
                          np.full((1, 256), np.nan, dtype=np.float32))
    with pytest.raises(InvalidInput):
        store.add("x", user="u", sources=["01HZZZZZZZZZZZZZZZZZZZZZZZ"])
    assert store.stats()["memories"] == 1


def test_add_many_is_atomic(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    with pytest.raises(InvalidInput):
        store.add_many([{"text": "fine", "user": "u"}, {"text": "", "user": "u"}])
    assert store.stats()["memories"] == 0


def test_add_vectors_uses_the_given_vectors(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((30, 256)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    mems = store.add_vectors([{"text": f"item {i}", "user": "u"} for i in range(30)], vecs)
    got = store.backend.vectors([m.id for m in mems], "u")
    for m, v in zip(mems, vecs):
        np.testing.assert_array_equal(got[m.id], v)
    ranked = store.backend.dense_search(vecs[7], store._filters(
        "u", None, None, None, None, None, None, None, 0), 5)
    assert ranked[0][0] == mems[7].id and ranked[0][1] == pytest.approx(1.0, abs=1e-5)
    exact = np.argsort(-(vecs @ vecs[7]), kind="stable")[:5]
    assert [i for i, _ in ranked] == [mems[j].id for j in exact]


def test_large_batch_in_blocks_on_every_backend(copen: Callable[..., ltm.MemoryStore]) -> None:
    """A batch embedded block by block while the first blocks are written: the vectors of one
    call, sessions numbered across blocks, and a bad vector in a later block writes nothing."""
    import numpy as np

    from ltm.embed.hashing import HashingEmbedder
    from ltm.engine import EMBED_BLOCK as _EMBED_BLOCK

    class Spoiled(HashingEmbedder):
        calls = 0
        spoil = False

        def embed(self, texts):  # type: ignore[no-untyped-def]
            self.calls += 1
            out = super().embed(texts)
            if self.spoil and self.calls % 3 == 0:
                out[0, 0] = np.inf
            return out

    emb = Spoiled()
    store = copen(embedder=emb)
    items = [{"text": f"block turn {i} about item {i % 7}", "user": "u", "session": "s"}
             for i in range(2 * _EMBED_BLOCK + 11)]
    mems = store.add_many(items)
    assert [m.seq for m in mems] == list(range(len(items)))
    got = store.backend.vectors([m.id for m in mems], "u")
    want = HashingEmbedder().embed([str(it["text"]) for it in items])
    assert all(np.allclose(got[m.id], w, atol=1e-6) for m, w in zip(mems, want))
    emb.spoil = True
    with pytest.raises(ltm.InvalidInput, match="NaN or infinity"):
        store.add_many(items)
    assert store.stats()["memories"] == len(items)
