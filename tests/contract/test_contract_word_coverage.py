"""Word coverage, the same on every backend and on both search paths: the share of the query's
words (weighted by IDF) that a turn and the turns just before and after it hold together
(``win_cov``) and that its whole session holds (``sess_cov``), or that a memory outside any
conversation holds itself (``lone_cov``): ``ltm.retrieval.ranker.coverage``,
from each backend's ``scope_words`` (the user-scope fast path) and ``text_words`` (the general
path)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from scope_paths import General

import ltm
from ltm.retrieval.ranker import FULL, META_KEY, Ranker, shipped

QUERY = "the name of the puppy"
REPLY = "we settled on Biscuit as her name"


def _store(copen: Callable[..., ltm.MemoryStore], *, weighted: bool = True) -> ltm.MemoryStore:
    """The three conversations, searched (``weighted``) with the store's own weights: the
    shipped ones with weight 1 on both coverage columns."""
    store = copen(embedder="hash")
    if weighted:
        base = shipped()
        w = base.full_w.copy()
        w[[FULL.index("win_cov"), FULL.index("sess_cov")]] = 1.0
        model = Ranker(base.own_w, base.own_b, w, base.full_b, base.context_window)
        store.backend.set_meta(META_KEY, json.dumps(model.to_dict()))
    # the same reply twice: after a turn that says "puppy", and after one that does not
    store.add_conversation([{"content": "we adopted a puppy last weekend", "speaker": "ana"},
                            {"content": REPLY, "speaker": "ben"},
                            {"content": "the weather was lovely", "speaker": "ana"}],
                           user="u", session="s1", time="2024-05-01T10:00:00Z")
    store.add_conversation([{"content": "we repainted the kitchen", "speaker": "ana"},
                            {"content": REPLY, "speaker": "ben"},
                            {"content": "the weather was lovely", "speaker": "ana"}],
                           user="u", session="s2", time="2024-05-02T10:00:00Z")
    store.add_conversation([{"content": "the vet said the puppy is healthy", "speaker": "ana"},
                            {"content": "good to hear", "speaker": "ben"},
                            {"content": "shall we walk later", "speaker": "ana"},
                            {"content": REPLY, "speaker": "ben"}],
                           user="u", session="s3", time="2024-05-03T10:00:00Z")
    store.add("an unrelated note about taxes", user="u")
    return store


def _replies(hits: list[ltm.Hit]) -> dict[str, dict[str, float]]:
    return {str(h.memory.session): h.signals for h in hits if h.memory.text == REPLY}


def test_a_neighbour_holding_the_missing_word_raises_win_cov(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    store = _store(copen)
    hits = store.search(QUERY, user="u", k=20)
    got = _replies(hits)
    assert set(got) == {"s1", "s2", "s3"}
    # s1: the turn before says "puppy", the reply "name": together, all of the query
    assert got["s1"]["win_cov"] == pytest.approx(1.0)
    assert got["s1"]["sess_cov"] == pytest.approx(1.0)
    # s2: no neighbour says it: "name" alone, its share of the IDF
    assert 0.0 < got["s2"]["sess_cov"] < 1.0
    assert got["s2"]["win_cov"] == pytest.approx(got["s2"]["sess_cov"])
    # s3: "puppy" three turns before: in the session, not in the window
    assert got["s3"]["win_cov"] == pytest.approx(got["s2"]["sess_cov"])
    assert got["s3"]["sess_cov"] == pytest.approx(1.0)
    # the same text, the same own match: the reply whose conversation holds the query's
    # other word ranks higher
    assert got["s1"]["relevance"] > got["s2"]["relevance"]
    assert got["s3"]["relevance"] > got["s2"]["relevance"]
    # the turn that says "puppy" gains "name" from the next one
    adopted = next(h for h in hits if h.memory.text.startswith("we adopted"))
    assert adopted.signals["win_cov"] == pytest.approx(1.0)
    # a memory outside any conversation is a session of its own (no query word: 0)
    assert all(h.signals["win_cov"] == 0.0 == h.signals["sess_cov"] for h in hits
               if h.memory.text.startswith("an unrelated"))


def test_word_coverage_is_the_same_on_both_paths(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    store = _store(copen)
    fast = store.search(QUERY, user="u", k=20)
    real: Any = store.backend
    # no scope_view: the general (SQL) path (a class of its own: the pipeline remembers what
    # each backend class offers, and this one's inner backend differs between the runs)
    store.backend = type(f"General{type(real).__name__}", (General,), {})(real)
    try:
        general = store.search(QUERY, user="u", k=20)
        # a filter (the general path's text_search within it)
        only_s1 = store.search(QUERY, user="u", k=20, session="s1")
    finally:
        store.backend = real
    assert [h.memory.id for h in fast] == [h.memory.id for h in general]
    for a, b in zip(fast, general):
        for key in ("win_cov", "sess_cov"):
            assert a.signals[key] == pytest.approx(b.signals[key], abs=1e-9)
    s1 = _replies(only_s1)["s1"]
    assert s1["win_cov"] == pytest.approx(_replies(fast)["s1"]["win_cov"])
    assert s1["sess_cov"] == pytest.approx(1.0)


def test_no_query_word_gives_no_coverage(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = _store(copen)
    for h in store.search("zzqx", user="u", k=5):
        assert h.signals["win_cov"] == 0.0 == h.signals["sess_cov"]


def test_the_shipped_weights_read_the_words(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = _store(copen, weighted=False)
    got = _replies(store.search(QUERY, user="u", k=20))
    assert got["s1"]["win_cov"] == pytest.approx(1.0) == got["s3"]["sess_cov"]
    assert got["s1"]["relevance"] > got["s2"]["relevance"]
    assert got["s3"]["relevance"] > got["s2"]["relevance"]


def test_a_lone_memory_covers_the_query_with_its_own_words(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    """A memory added alone (no session) lends and borrows no words: its ``lone_cov`` is the
    share of the query it holds, on both paths, and a turn's is 0."""
    store = _store(copen)
    w = store.ranker.full_w.copy()
    w[FULL.index("lone_cov")] = 1.0
    model = Ranker(store.ranker.own_w, store.ranker.own_b, w, store.ranker.full_b,
                   store.ranker.context_window)
    store.backend.set_meta(META_KEY, json.dumps(model.to_dict()))
    store.add("the puppy needs a name", user="u")
    store.add("a ball for the puppy", user="u")
    real: Any = store.backend
    fast = store.search(QUERY, user="u", k=20)
    store.backend = type(f"General{type(real).__name__}", (General,), {})(real)
    try:
        general = store.search(QUERY, user="u", k=20)
    finally:
        store.backend = real
    for hits in (fast, general):
        lone = {h.memory.text: h.signals for h in hits if h.memory.session is None}
        assert lone["the puppy needs a name"]["lone_cov"] == pytest.approx(1.0)
        s2 = _replies(hits)["s2"]["sess_cov"]  # ("name" alone)
        assert lone["a ball for the puppy"]["lone_cov"] == pytest.approx(1.0 - s2)
        assert all(v["win_cov"] == 0.0 == v["sess_cov"] for v in lone.values())
        assert all(h.signals["lone_cov"] == 0.0 for h in hits if h.memory.session is not None)
        assert hits[0].memory.text == "the puppy needs a name"
