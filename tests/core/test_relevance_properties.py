"""Relevance you can trust: a probability in [0, 1] whatever the store's size, supersession and
time windows as guarantees on one result list, isolation between users, abstention, and
per-store weights from feedback. The default embedder (WordLlama) throughout."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relevance_guarantees import (
    PRIYA_FACTS,
    add_dated,
    add_supersession_chain,
    assert_inside_window_first,
    assert_successors_first,
)

import ltm
from ltm.bench.corpus import Corpus
from ltm.cli.train import ranker as ranker_command
from ltm.retrieval.feedback import stored_ranker
from ltm.retrieval.ranker import shipped
from ltm.retrieval.train import fit_store

NOW = "2024-07-01T12:00:00Z"
_TOPICS = ["works at", "lives in", "plays", "studies", "drives a", "collects", "cooks",
           "reads about", "volunteers at", "trains for"]
_THINGS = ["Acme", "Lisbon", "chess", "biology", "Volvo", "stamps", "ramen", "astronomy",
           "the shelter", "a marathon", "Globex", "Porto", "tennis", "history", "Tesla"]


@pytest.fixture(scope="module")
def shared() -> Iterator[ltm.MemoryStore]:
    """One store for the property tests (each example writes its own users)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, ltm.open(tmp + "/s") as mem:
        yield mem


def _user(prefix: str) -> str:
    _user.n += 1  # type: ignore[attr-defined]
    return f"{prefix}-{_user.n}"  # type: ignore[attr-defined]


_user.n = 0  # type: ignore[attr-defined]


def test_readme_example_ranks_lisbon_first(store: ltm.MemoryStore) -> None:
    store.add("I moved to Lisbon in March", user="alice", session="s1", time="2026-03-02T10:00")
    store.add_conversation(
        [{"role": "alice", "content": "I adopted a cat named Miso"},
         {"role": "assistant", "content": "What colour is Miso?"},
         {"role": "alice", "content": "Orange with white paws"}],
        user="alice", session="s2")
    hits = store.search("where does alice live?", user="alice", k=5)
    assert hits[0].memory.text == "I moved to Lisbon in March"
    assert all(0.0 <= h.relevance <= 1.0 and h.score == h.relevance for h in hits)
    assert [h.relevance for h in hits] == sorted((h.relevance for h in hits), reverse=True)
    # the README's context call gets the cat conversation, and nothing else
    block = store.context("what does alice's cat look like?", user="alice", budget_tokens=800)
    assert "Orange with white paws" in block and "Lisbon" not in block


def test_unrelated_question_abstains(store: ltm.MemoryStore) -> None:
    for f in PRIYA_FACTS:
        store.add(f, user="p", kind="fact")
    asked = store.search("what does Priya eat?", user="p", k=3)
    unrelated = store.search("what's the weather in Tokyo", user="p", k=3)
    assert unrelated[0].relevance < asked[0].relevance
    assert store.search("what's the weather in Tokyo", user="p", min_relevance=0.5) == []
    # context() applies the context_min_relevance floor: nothing relevant, an empty block
    assert store.context("what's the weather in Tokyo", user="p") == ""
    assert "vegetarian" in store.context("is Priya vegetarian?", user="p")
    with pytest.raises(ltm.InvalidInput):
        store.search("x", user="p", min_relevance=1.5)


def test_mara_supersession(store: ltm.MemoryStore) -> None:
    a = store.add("Mara works at Initech", user="m", kind="fact", valid_from="2021-01-01")
    b = store.add("Mara works at Hooli", user="m", kind="fact", valid_from="2023-01-01",
                  supersedes=a.id)
    c = store.add("Mara works at Globex", user="m", kind="fact", valid_from="2025-01-01",
                  supersedes=b.id)
    hits = store.search("where does Mara work", user="m", k=3)
    assert [h.memory.id for h in hits] == [c.id, b.id, a.id]
    # as_of before the successor: the older fact is the answer
    assert store.search("where does Mara work", user="m", as_of="2022-06-01")[0].memory.id \
        == a.id


def test_hikes_last_week(store: ltm.MemoryStore) -> None:
    ids = {d: store.add("went hiking in the hills", user="h", session=d, time=d).id
           for d in ("2024-03-02", "2024-06-20", "2024-06-27")}
    hits = store.search("where did I go hiking last week", user="h", now=NOW)
    assert hits[0].memory.id == ids["2024-06-27"]
    assert hits[0].signals["time_window"] == 1.0


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_TOPICS), st.sampled_from(_THINGS)), min_size=2,
                max_size=5),
       st.sampled_from(_TOPICS), st.booleans())
def test_superseded_never_above_successor(shared: ltm.MemoryStore,
                                          chain: list[tuple[str, str]], asked: str,
                                          with_noise: bool) -> None:
    """(a) in one result list a superseded fact never ranks above its successor."""
    user = _user("sup")
    if with_noise:
        shared.add_many([{"text": f"Sam {t} {x}", "user": user, "kind": "fact"}
                         for t, x in zip(_TOPICS, _THINGS)])
    add_supersession_chain(shared, user, chain)
    assert_successors_first(shared.search(f"what does Sam {asked}", user=user, k=20))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_TOPICS), st.sampled_from(_THINGS),
                          st.integers(0, 120)), min_size=2, max_size=8),
       st.sampled_from(["last week", "last month", "in May", "yesterday"]),
       st.sampled_from(_TOPICS))
def test_inside_the_window_beats_outside(shared: ltm.MemoryStore,
                                         items: list[tuple[str, str, int]], phrase: str,
                                         asked: str) -> None:
    """(b) with a time phrase, a memory inside the window ranks above one outside whenever
    its relevance without time is at least as high."""
    from datetime import datetime, timezone

    user = _user("win")
    now = datetime(2024, 7, 1, 12, tzinfo=timezone.utc)
    add_dated(shared, user, items, now)
    assert_inside_window_first(
        shared.search(f"what did I {asked} {phrase}", user=user, k=20, now=now))


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(1, 60))
def test_other_users_never_change_results(shared: ltm.MemoryStore, seed: int,
                                          others: int) -> None:
    """(c) another user's memories do not change a user's results: the same memories in the
    same order with the same relevance and signals, to the bit (BM25 takes its IDF and its
    average memory length within the user's scope)."""
    user = _user("iso")
    corpus = Corpus(30, 1, seed=seed)
    shared.add_many([{"text": i.text, "user": user, "session": i.session, "time": i.time}
                     for i in corpus.items()])
    queries = [q for _, q in corpus.queries(3, seed=seed)]

    def results() -> list[list[tuple[str, float, dict[str, float]]]]:
        return [[(h.memory.id, h.relevance, dict(h.signals))
                 for h in shared.search(q, user=user, now=NOW)] for q in queries]

    before = results()
    other = _user("other")
    shared.add_many([{"text": i.text + " and more words about it " * (n % 4), "user": other,
                      "session": i.session, "time": i.time}
                     for n, i in enumerate(Corpus(others, 1, seed=seed + 1).items())])
    assert results() == before


def test_relevance_stable_when_unrelated_memories_arrive(store: ltm.MemoryStore) -> None:
    """(d) relevance is in [0, 1]; 1,000 unrelated memories in the scope move a correct
    answer's relevance by less than 0.1."""
    store.add_conversation(
        [{"role": "ana", "content": "I finally booked the flights to Kyoto for April"},
         {"role": "assistant", "content": "How long will you stay?"},
         {"role": "ana", "content": "Two weeks, mostly temples and hiking"}],
        user="ana", session="trip")
    q = "when is Ana flying to Kyoto?"
    before = {h.memory.text: h.relevance for h in store.search(q, user="ana")}
    target = "I finally booked the flights to Kyoto for April"
    unrelated = [i for i in Corpus(3000, 1, seed=3).items()
                 if not re.search(r"(?i)kyoto|fl[iy]|ana\b|april|book|when", i.text)][:1000]
    assert len(unrelated) == 1000
    store.add_many([{"text": i.text, "user": "ana", "session": i.session, "time": i.time}
                    for i in unrelated])
    hits = store.search(q, user="ana", k=10)
    after = {h.memory.text: h.relevance for h in hits}
    assert all(0.0 <= h.relevance <= 1.0 and math.isfinite(h.relevance) for h in hits)
    assert target in after
    assert abs(after[target] - before[target]) < 0.1


def test_feedback_shifts_the_ranking(open_store: Callable[..., ltm.MemoryStore],
                                     store_path: Path) -> None:
    """Judgments fit the store's own weights (``ltm train ranker --store``); without any,
    searches use the shipped ones."""
    mem = open_store()
    assert mem.ranker is shipped() and stored_ranker(mem.backend) is None
    old = mem.add("my favourite drink is green tea", user="u", time="2020-01-01")
    new = mem.add("these days I mostly drink coffee", user="u", time="2024-06-01")
    q = "what do I like to drink"
    first = mem.search(q, user="u", now=NOW)[0].memory.id
    loser = new if first == old.id else old
    winner = old if loser is new else new
    for _ in range(30):  # the user keeps saying the other one is what they meant
        mem.feedback(q, loser.id, True, user="u", now=NOW)
        mem.feedback(q, winner.id, False, user="u", now=NOW)
    with pytest.raises(ltm.NotFound):
        mem.feedback(q, "no-such-id", True, user="u")
    model, n = fit_store(mem)
    assert model is not None and n == 60
    mem.close()
    got = CliRunner().invoke(ranker_command, ["--store", str(store_path)])
    assert got.exit_code == 0 and "from 60 judgments" in got.output, got.output
    mem = open_store()
    assert mem.ranker is not shipped()
    assert mem.search(q, user="u", now=NOW)[0].memory.id == loser.id


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 3), st.floats(0, 3), st.floats(-5, 15), st.floats(-5, 15),
       st.booleans())
def test_a_better_match_never_ranks_lower(t1: float, t2: float, d1: float, d2: float,
                                          label: bool) -> None:
    """The shipped model's own match is monotone: at least as much text and dense match
    (same label) never gives a lower logit."""
    import numpy as np

    from ltm.retrieval.ranker import RawPool

    lo_t, hi_t = sorted((t1, t2))
    lo_d, hi_d = sorted((d1, d2))
    n = 2
    pool = RawPool(np.array([lo_t, hi_t]), np.array([lo_d, hi_d]), np.full(n, -1),
                   np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), np.zeros(n),
                   np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n),
                   np.full(n, float(label)))
    own = shipped().own_logit(pool)
    assert own[1] >= own[0] - 1e-9
