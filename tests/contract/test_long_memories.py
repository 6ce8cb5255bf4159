"""Long memories (issue 15): a pasted document is found by a question about one of its
paragraphs (its passages' vectors: ``ltm.retrieval.chunks``), on every backend, and its
passage vectors go with it: forget, a change of its text, a forget of the user."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ltm
from ltm.backends.sqlite import SqliteBackend

TOPICS = ("the quarterly budget review and the travel expenses policy",
          "hiring plans for the design team next quarter",
          "the office move to the fourth floor and desk booking",
          "customer feedback on the mobile app onboarding flow",
          "the marketing campaign for the spring launch",
          "security training reminders and password rotation",
          "the holiday party venue and catering options",
          "vendor contracts for the cleaning service")
KEY = ("The database upgrade is the main infrastructure item: we move the billing tables "
       "from PostgreSQL 12 to PostgreSQL 16 on the new hosts, the dry run happens on the "
       "replica in week two, Tomasz writes the rollback script, and the switchover of "
       "production is planned for the last Sunday of the month.")
SHORT = ("Lunch with Sam at the ramen place", "Need to renew the car insurance",
         "Booked a dentist appointment for Tuesday", "Watched a documentary about container ships",
         "The garden needs watering every evening", "Started reading a novel about sailors",
         "My sister moved to Porto last spring", "Bought a new keyboard for the home office",
         "The gym closes early on Sundays", "Tried a new sourdough recipe",
         "Our cat hates the vacuum cleaner", "Flight to Berlin leaves at 7am",
         "Upgraded my phone to the newest model", "Moved my photo library to a new hard drive",
         "Sunday brunch at my parents' place")
ASKED = ("when do we upgrade the PostgreSQL database?", "who writes the rollback script?",
         "when does production switch to PostgreSQL 16?",
         "what is the plan for moving the billing tables?")


ON = 1000  # chunk_min_chars: passages for texts of 1,000 characters or more (off by default)


def note() -> str:
    """A 7 KB meeting note: eight paragraphs of other business around the one asked about."""
    def para(topic: str) -> str:
        return " ".join(f"We discussed {topic} at length; point {i} was raised by someone and "
                        "noted for follow-up with owners and dates." for i in range(6))
    return "\n".join(["Meeting notes, all-hands."] + [para(t) for t in TOPICS[:4]] + [KEY]
                     + [para(t) for t in TOPICS[4:]])


def _chunk_rows(store: ltm.MemoryStore) -> list[tuple[str, str, bytes]]:
    """(user, memory id, passage blob) of every row of the store's passage table."""
    backend: Any = store.backend
    if isinstance(backend, SqliteBackend):
        db = sqlite3.connect(backend.folder / "memories.db")
        try:
            return [(u, i, bytes(d)) for u, i, d in
                    db.execute("SELECT user, id, data FROM chunk_vectors ORDER BY n")]
        finally:
            db.close()
    import psycopg

    with psycopg.connect(backend.dsn, autocommit=True) as conn:
        return [(u, i, bytes(d)) for u, i, d in conn.execute(
            f"SELECT user_id, id, data FROM {backend._s}.chunk_vectors ORDER BY id")]


def _files(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_a_paragraph_of_a_long_note_finds_it(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(chunk_min_chars=ON)
    long_id = store.add(note(), user="u").id
    store.add_many([{"text": t, "user": "u"} for t in SHORT])
    plain = copen(chunk_min_chars=0)  # the same store, read with whole vectors only
    for q in ASKED:
        hits = store.search(q, user="u", k=5)
        assert hits[0].memory.id == long_id, q
        # above the context floor: context() gives it to a prompt
        assert hits[0].relevance >= store.settings.context_min_relevance, q
        whole = next(h for h in plain.search(q, user="u", k=20) if h.memory.id == long_id)
        assert hits[0].signals["dense_z"] > whole.signals["dense_z"] + 0.5, q
        # a filter besides the user (the general path, candidates by id) finds it the same
        got = store.search(q, user="u", k=5, since="2000-01-01")
        assert got[0].memory.id == long_id, q
        assert got[0].signals["dense_z"] == pytest.approx(hits[0].signals["dense_z"]), q
        # its words count as a passage's would (BM25's length capped at 4 average lengths)
        assert got[0].signals["text"] == pytest.approx(hits[0].signals["text"]), q
        assert hits[0].signals["text_rel"] > 1.5 * whole.signals["text_rel"], q
    # a question it does not answer does not find it more than its whole vector does
    for q in ("how do I bake sourdough bread?", "recommend a good sci-fi novel"):
        got = {h.memory.id: h.signals["dense_z"] for h in store.search(q, user="u", k=20)}
        base = {h.memory.id: h.signals["dense_z"] for h in plain.search(q, user="u", k=20)}
        if long_id in got:
            assert got[long_id] <= base.get(long_id, got[long_id]) + 1.0, q


def test_a_short_memory_has_no_passages(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(chunk_min_chars=ON)
    store.add_many([{"text": t, "user": "u"} for t in SHORT])
    assert _chunk_rows(store) == []
    store.add(note(), user="u")
    assert len(_chunk_rows(store)) == 1
    off = copen()
    off.add(note(), user="v")  # a store that takes none (the default) stores none
    assert [u for u, _, _ in _chunk_rows(store)] == ["u"]


def test_forget_erases_the_passages(copen: Callable[..., ltm.MemoryStore],
                                    backend_kind: str) -> None:
    store = copen(chunk_min_chars=ON)
    who = "quetzal.owner@example.com"
    doomed = store.add(note(), user=who)
    kept = store.add(" ".join(f"Day {i} of the trip: we hiked to the lake, Ingrid wrote the "
                              "rollback script for the ferry booking, and it rained." for i in
                              range(20)), user=who)
    store.add("Lunch with Sam at the ramen place", user=who)
    rows = {i: d for _, i, d in _chunk_rows(store)}
    assert set(rows) == {doomed.id, kept.id}
    store.forget(doomed.id, user=who)
    assert [i for _, i, _ in _chunk_rows(store)] == [kept.id]
    assert store.search("who writes the rollback script?", user=who, k=1)[0].memory.id == kept.id
    folder = Path(store.backend.folder) if backend_kind == "sqlite" else None  # type: ignore[attr-defined]
    if folder is not None:
        # no byte of its passage vectors is left in the store's files (a full erase)
        data = _files(folder)
        gone = rows[doomed.id]
        assert all(gone[j:j + 64] not in data for j in range(0, len(gone) - 64, 512))
        assert rows[kept.id][:64] in data
    store.forget(user=who)
    assert _chunk_rows(store) == []
    if folder is not None:  # nor of the user's name (the passage table names its user)
        assert who.encode() not in _files(folder)


def test_a_changed_text_changes_the_passages(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(chunk_min_chars=ON)
    m = store.add(note(), user="u")
    before = _chunk_rows(store)
    store.update(m.id, user="u", text=note().replace("Tomasz", "Ingrid"))
    after = _chunk_rows(store)
    assert len(after) == 1 and after[0][2] != before[0][2]
    assert store.search("who writes the rollback script?", user="u", k=1)[0].memory.id == m.id
    store.update(m.id, user="u", text="A short note now")
    assert _chunk_rows(store) == []
    # a store that takes no passages leaves none of a text it replaces (none stale)
    store.update(m.id, user="u", text=note())
    assert len(_chunk_rows(store)) == 1
    copen().update(m.id, user="u", text=note().replace("Tomasz", "Ingrid"))
    assert _chunk_rows(store) == []


@pytest.mark.parametrize("erase", ["fast", "full"])
def test_gc_and_expiry_take_the_passages(copen: Callable[..., ltm.MemoryStore],
                                         erase: str) -> None:
    store = copen(erase=erase, chunk_min_chars=ON)
    store.add(note(), user="u", expires_at="2000-01-01")
    store.add(note(), user="u")
    assert len(_chunk_rows(store)) == 2
    store.gc()
    assert len(_chunk_rows(store)) == 1


def test_reindex_gives_older_long_memories_their_passages(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    older = copen()  # written before the store took passages
    long_id = older.add(note(), user="u").id
    older.add_many([{"text": t, "user": "u"} for t in SHORT])
    store = copen(chunk_min_chars=ON)
    other = copen(chunk_min_chars=ON)  # as another process: it has read the user's before
    q = "when does production switch to PostgreSQL 16?"
    before = next(h for h in store.search(q, user="u", k=20) if h.memory.id == long_id)
    assert other.search(q, user="u", k=20)
    assert _chunk_rows(store) == []
    assert store.reindex(embeddings=True)["passages"] == 1
    assert [i for _, i, _ in _chunk_rows(store)] == [long_id]
    after = store.search(q, user="u", k=5)
    assert after[0].memory.id == long_id
    assert after[0].signals["dense_z"] > before.signals["dense_z"] + 0.5
    # the other store's caches see them too (the user's version moved)
    assert other.search(q, user="u", k=1)[0].signals["dense_z"] == \
        pytest.approx(after[0].signals["dense_z"])
    assert store.reindex(embeddings=True)["passages"] == 0  # (none missing)
    assert "passages" not in older.reindex()


class _Breakable:
    """One vector a text (its characters' sum picks the axis), until ``down``."""

    name = "breakable"
    dim = 8

    def __init__(self) -> None:
        self.down = False

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.down:
            raise RuntimeError("model crashed")
        out = np.full((len(texts), 8), 0.1, np.float32)
        for i, text in enumerate(texts):
            out[i, sum(map(ord, text)) % 8] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_a_forget_does_not_wait_on_the_passages(copen: Callable[..., ltm.MemoryStore]) -> None:
    """A forget that rebuilds a summary with the embedder down goes through (the summary takes
    its sources' mean vector: policies.consolidate); its passages, derived data, are then
    left out, not the erasure."""
    emb = _Breakable()
    store = copen(embedder=emb, chunk_min_chars=100)
    for i in range(4):
        store.add(f"day {i}: the hotel in Lisbon had a view of the river, and the breakfast "
                  "on the terrace was long and slow, with fresh bread and fruit", user="alice",
                  session="s1")
    secret = store.add("my passport number is X1234567", user="alice", session="s1")
    summary = store.consolidate("s1", user="alice")
    assert summary is not None and len(summary.text) >= 100
    assert summary.id in [i for _, i, _ in _chunk_rows(store)]
    emb.down = True
    assert store.forget(secret.id, user="alice").count == 1
    emb.down = False
    assert summary.id not in [i for _, i, _ in _chunk_rows(store)]  # (the old text's went)
    assert "X1234567" not in store.get(summary.id, user="alice").text
    assert store.reindex(embeddings=True)
    assert summary.id in [i for _, i, _ in _chunk_rows(store)]
