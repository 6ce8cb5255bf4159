"""Shared by the relevance tests (issue 15): the six facts about Priya the abstention, reranker
and feedback tests store; and for the guarantee property tests with and without the optional
reranker (guarantees (a) and (b)), how each scenario is written into a store and the check of
a result list against the guarantee."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import ltm

# six facts about one person, each asked about in plain words by the tests that store them
PRIYA_FACTS = ["Priya has been vegetarian since 2019 and avoids eggs",
               "Priya works as a nurse at the city hospital",
               "Priya's sister Anika lives in Toronto",
               "Priya runs five kilometres every morning",
               "Priya is allergic to cats",
               "Priya drives an old blue Volkswagen"]


def add_supersession_chain(store: ltm.MemoryStore, user: str,
                           chain: Sequence[tuple[str, str]]) -> None:
    """Facts about Sam, each valid from a later year and superseding the one before."""
    prev = None
    for n, (topic, thing) in enumerate(chain):
        prev = store.add(f"Sam {topic} {thing}", user=user, kind="fact",
                         valid_from=f"{2010 + n}-01-01",
                         supersedes=None if prev is None else prev.id)


def assert_successors_first(hits: Sequence[ltm.Hit]) -> None:
    """(a) in one result list a superseded fact never ranks above its successor."""
    rank = {h.memory.id: r for r, h in enumerate(hits)}
    for h in hits:
        succ = h.memory.superseded_by
        if succ in rank:
            assert rank[succ] < rank[h.memory.id]


def add_dated(store: ltm.MemoryStore, user: str, items: Sequence[tuple[str, str, int]],
              now: datetime) -> None:
    """Episodes "I <topic> <thing>", each ``days`` before ``now``."""
    store.add_many([{"text": f"I {t} {x}", "user": user, "time": now - timedelta(days=d)}
                    for t, x, d in items])


def assert_inside_window_first(hits: Sequence[ltm.Hit]) -> None:
    """(b) a memory inside the query's time window ranks above one outside whenever its
    relevance without time is at least as high."""
    for i, a in enumerate(hits):
        for b in hits[i + 1:]:  # a ranks above b
            if b.signals["time_window"] == 1.0 and a.signals["time_window"] < 1.0:
                assert a.signals["fused"] - a.signals["time"] > \
                    b.signals["fused"] - b.signals["time"]
