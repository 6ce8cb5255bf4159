"""Per-store caches of the search path (the SQLite backend's postings of query terms, label
rows, scope counts) never serve stale answers: after a write of this connection or another
one, a search answers what a freshly opened store answers."""

from __future__ import annotations

from pathlib import Path

import pytest

import ltm

QUERIES = ["what did Maria say about Lisbon", "Lisbon", "where does Maria live",
           "tell me about the cat Miso", "Maria Lisbon cat"]


def _answers(store: ltm.MemoryStore) -> list[list[tuple[str, float, float]]]:
    out = []
    for q in QUERIES:
        hits = store.search(q, user="alice", k=5, now="2026-06-01T00:00:00Z")
        out.append([(h.memory.id, h.relevance, h.signals["label"]) for h in hits])
    return out


def _fresh(folder: Path) -> list[list[tuple[str, float, float]]]:
    with ltm.open(folder, embedder="hash") as fresh:
        return _answers(fresh)


def _same(a: list[list[tuple[str, float, float]]], b: list[list[tuple[str, float, float]]]
          ) -> None:
    assert [[i for i, _, _ in row] for row in a] == [[i for i, _, _ in row] for row in b]
    assert [r for row in a for _, r, _ in row] == \
        pytest.approx([r for row in b for _, r, _ in row])
    assert [[lab for _, _, lab in row] for row in a] == [[lab for _, _, lab in row] for row in b]


def test_searches_after_writes_answer_like_a_fresh_store(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    with ltm.open(folder, embedder="hash") as store:
        store.add_many([{"text": "I moved to Lisbon in March", "user": "alice", "session": "s1",
                         "metadata": {"speaker": "Maria"}},
                        {"text": "the cat is called Miso", "user": "alice", "session": "s1",
                         "metadata": {"speaker": "Bob"}},
                        {"text": "Lisbon is sunny", "user": "bob"}])
        before = _answers(store)  # fills the caches
        _same(before, _fresh(folder))
        # this connection writes: a new label word (Lisbon as a speaker) and more Lisbon text
        store.add_many([{"text": "Lisbon again, and the cat", "user": "alice", "session": "s2",
                         "metadata": {"speaker": "Lisbon"}},
                        {"text": "Maria likes Lisbon", "user": "alice", "session": "s2"}])
        after = _answers(store)
        assert after != before
        _same(after, _fresh(folder))
        # another connection writes and forgets
        with ltm.open(folder, embedder="hash") as other:
            gone = other.search("Lisbon", user="alice", k=1)[0].memory.id
            other.forget(gone, user="alice")
            other.add("Miso the cat sleeps in Lisbon", user="alice", session="s3")
        later = _answers(store)
        assert all(gone not in [i for i, _, _ in row] for row in later)
        _same(later, _fresh(folder))
