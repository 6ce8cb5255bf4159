"""Facts written by the caller with validity semantics: supersession chains and as_of."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ltm

Open = Callable[..., ltm.MemoryStore]


def test_chain_a_b_c(hstore: Open) -> None:
    mem = hstore()
    ep = mem.add("I start at Initech in March", user="ana", session="s")
    a = mem.add("Ana works at Acme", user="ana", kind="fact", valid_from="2019-01-01")
    b = mem.add("Ana works at Initech", user="ana", kind="fact", valid_from="2021-03-01",
                supersedes=a.id, sources=[ep.id])
    c = mem.add("Ana works at Globex", user="ana", kind="fact", valid_from="2024-09-01",
                supersedes=b.id)
    a2, b2 = mem.get(a.id, user="ana"), mem.get(b.id, user="ana")
    assert (a2.superseded_by, a2.valid_to) == (b.id, b.valid_from)
    assert (b2.superseded_by, b2.valid_to) == (c.id, c.valid_from)
    assert b2.sources == (ep.id,)
    assert [e.event for e in mem.history(a.id, user="ana")] == ["created", "superseded"]

    def at(t: str) -> list[str]:
        return [h.memory.id for h in mem.search("where does Ana work", user="ana",
                                                kinds=["fact"], as_of=t)]
    assert at("2018-06-01") == []
    assert at("2020-06-01") == [a.id]
    assert at("2021-03-01") == [b.id]  # valid_to is exclusive
    assert at("2025-01-01") == [c.id]
    now = mem.search("where does Ana work", user="ana", kinds=["fact"])
    assert now[0].memory.id == c.id
    assert all(h.signals.get("superseded", 0) < 0 for h in now[1:])
    # a superseded memory cannot be superseded twice; others' ids are not found
    with pytest.raises(ltm.InvalidInput, match="already superseded"):
        mem.add("Ana works at Hooli", user="ana", kind="fact", supersedes=a.id)
    with pytest.raises(ltm.NotFound):
        mem.add("Bo works at Hooli", user="bo", kind="fact", supersedes=c.id)


def test_forget_the_successor_leaves_history_consistent(hstore: Open) -> None:
    mem = hstore()
    a = mem.add("Ana likes tea", user="ana", kind="fact", valid_from="2020-01-01")
    b = mem.add("Ana likes coffee", user="ana", kind="fact", valid_from="2022-01-01",
                supersedes=a.id)
    mem.forget(b.id, user="ana")
    assert [e.event for e in mem.history(b.id, user="ana")] == ["deleted"]
    assert mem.history(b.id, user="ana")[0].data is None


T0 = datetime(2020, 1, 1, tzinfo=timezone.utc)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(gaps=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=6),
       probes=st.lists(st.integers(min_value=-30, max_value=3000), min_size=1, max_size=8))
def test_as_of_agrees_with_the_history(gaps: list[int], probes: list[int]) -> None:
    """A chain of supersessions at increasing days: as_of(T) returns exactly the version whose
    [valid_from, valid_to) holds T, as the history's superseded events and the stored
    intervals say."""
    with tempfile.TemporaryDirectory() as d:
        with ltm.open(d, embedder="hash") as mem:
            starts = [T0]
            for g in gaps:
                starts.append(starts[-1] + timedelta(days=g))
            ids: list[str] = []
            prev = None
            for n, start in enumerate(starts):
                m = mem.add(f"Ana's address is street number {n}", user="ana", kind="fact",
                            valid_from=start, supersedes=prev)
                ids.append(m.id)
                prev = m.id
            versions = [mem.get(i, user="ana") for i in ids]
            for n, v in enumerate(versions[:-1]):
                assert [e.event for e in mem.history(v.id, user="ana")][-1] == "superseded"
                assert v.valid_to == versions[n + 1].valid_from
            for p in probes:
                t = T0 + timedelta(days=p)
                expect = [v.id for v in versions if v.valid_from <= t
                          and (v.valid_to is None or t < v.valid_to)]
                got = [h.memory.id for h in mem.search("Ana address street", user="ana",
                                                       as_of=t, k=50)]
                assert got == expect
