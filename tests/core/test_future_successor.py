"""A fact superseded by one that holds only from a later date is still the current fact until
then: searched as of now (or an ``as_of`` before that date) it carries no superseded penalty
and is not capped under its successor; from that date on the successor comes first. On both
backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from postgres_support import postgres_url
from relevance_guarantees import assert_successors_first
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

Q = "where does Ana live"


def test_a_successor_from_a_later_date_waits_for_it(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    paris = mem.add("Ana lives in Paris", user="u", kind="fact", valid_from="2020-01-01")
    berlin = mem.add("Ana lives in Berlin", user="u", kind="fact", valid_from="2030-04-01",
                     supersedes=paris.id)
    today = mem.search(Q, user="u", now="2026-06-01T00:00:00Z")
    assert [h.memory.id for h in today][:2] == [paris.id, berlin.id]
    assert today[0].signals["superseded"] == 0.0
    before = mem.search(Q, user="u", now="2031-01-01T00:00:00Z", as_of="2029-01-01")
    assert before[0].memory.id == paris.id
    later = mem.search(Q, user="u", now="2031-01-01T00:00:00Z")
    assert [h.memory.id for h in later][:2] == [berlin.id, paris.id]
    assert later[1].signals["superseded"] < 0
    assert_successors_first(later)


def test_a_small_k_is_the_head_of_a_larger_one_as_of_a_past_moment(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    """The penalty comes off before the head is chosen: as of a moment when a superseded fact
    was still current, k=1 gives the start of the k=10 list (a random probe found k=1
    answering 'I studies astronomy' while k=10 put the then-current 'I studies Lisbon now'
    first)."""
    mem = copen()
    now = datetime(2024, 7, 1, 12, tzinfo=timezone.utc)
    mem.add_many([{"text": t, "user": "u", "kind": kind, "time": now - timedelta(days=d),
                   "session": session} for t, kind, d, session in _PROBE_ITEMS])
    prev = None
    for text, days in (("I works at chess now", 400), ("I studies Lisbon now", 300),
                       ("I plays Acme now", 200)):
        when = now - timedelta(days=days)
        prev = mem.add(text, user="u", kind="fact", valid_from=when, time=when,
                       supersedes=None if prev is None else prev.id)
    q, as_of = "what did I studies last month", now - timedelta(days=250)
    full = mem.search(q, user="u", k=30, now=now, as_of=as_of)
    assert full[0].memory.text == "I studies Lisbon now"
    assert full[0].signals["superseded"] == 0.0
    for k in (1, 2, 3):
        part = mem.search(q, user="u", k=k, now=now, as_of=as_of)
        assert [h.memory.id for h in part] == [h.memory.id for h in full[:k]], k


_PROBE_ITEMS = [
    ("I drives a Lisbon", "episode", 177, "s2"), ("I cooks Acme", "fact", 201, None),
    ("I reads about tennis", "episode", 433, None), ("I reads about stamps", "fact", 43, "s2"),
    ("I studies astronomy", "summary", 428, None), ("I cooks tennis", "episode", 222, "s2"),
    ("I cooks Volvo", "episode", 278, "s1"), ("I cooks astronomy", "episode", 419, "s2"),
    ("I drives a Volvo", "episode", 385, "s2"), ("I lives in stamps", "summary", 203, None),
    ("I collects Lisbon", "fact", 76, "s2"), ("I cooks tennis", "summary", 83, "s2"),
    ("I drives a Porto", "summary", 238, "s2"), ("I studies tennis", "episode", 164, "s1"),
    ("I works at ramen", "episode", 497, "s1"), ("I plays Volvo", "episode", 223, None),
    ("I works at tennis", "episode", 370, "s1"), ("I works at Acme", "episode", 3, "s2"),
    ("I plays astronomy", "episode", 77, "s1"), ("I works at biology", "episode", 33, "s1")]


def test_a_successor_not_yet_valid_ranks_below_the_current_fact(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    """Asked in 2024, a fact valid from 2025 ranked above the one it supersedes (a future date
    has the best recency): the current fact is the answer then, and now comes first; along a
    chain, each fact not yet valid below the one before it."""
    mem = copen()
    globex = mem.add("Mara works at Globex", user="u", kind="fact", valid_from="2023-01-01",
                     time="2023-01-01")
    initech = mem.add("Mara works at Initech", user="u", kind="fact",
                      valid_from="2025-01-01", time="2025-01-01", supersedes=globex.id)
    hooli = mem.add("Mara works at Hooli", user="u", kind="fact", valid_from="2027-01-01",
                    time="2027-01-01", supersedes=initech.id)
    mem.add("Mara has a dog called Pip", user="u", time="2023-06-01")
    q = "where does Mara work"
    for now, order in (("2024-01-01", [globex, initech, hooli]),
                       ("2026-01-01", [initech, hooli, globex]),
                       ("2028-01-01", [hooli, initech, globex])):
        hits = mem.search(q, user="u", k=4, now=f"{now}T00:00:00Z")
        ids = [h.memory.id for h in hits if h.memory.kind == "fact"]
        assert ids == [m.id for m in order], now
        rels = [h.relevance for h in hits]
        assert rels == sorted(rels, reverse=True)
    assert_successors_first(hits)  # (2028: every successor holds)


def test_asked_about_a_time_before_the_successor_the_fact_then_comes_first(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    """A question about 2023, asked in 2026: the fact that held in 2023 ranks above the one
    that replaced it in 2024 (the window's end falls before the successor's start)."""
    mem = copen()
    globex = mem.add("Mara works at Globex", user="u", kind="fact", valid_from="2023-01-01",
                     time="2023-01-01")
    initech = mem.add("Mara works at Initech", user="u", kind="fact",
                      valid_from="2024-01-01", time="2024-01-01", supersedes=globex.id)
    mem.add("Mara has a dog called Pip", user="u", time="2023-06-01")
    hits = mem.search("where did Mara work in 2023", user="u", k=3,
                      now="2026-06-01T00:00:00Z")
    facts = [h.memory.id for h in hits if h.memory.kind == "fact"]
    assert facts == [globex.id, initech.id]
    rels = [h.relevance for h in hits]
    assert rels == sorted(rels, reverse=True)
