"""Time phrases in queries: parsing against a reference time, and their effect on search."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ltm
from ltm.timeparse import parse_time_window

NOW = datetime(2026, 3, 12, 15, 0, tzinfo=timezone.utc)  # a Thursday


@pytest.mark.parametrize("query, start, end", [
    ("what did I do last week?", date(2026, 3, 2), date(2026, 3, 9)),
    ("anything in May 2023", date(2023, 5, 1), date(2023, 6, 1)),
    ("what happened in May", date(2025, 5, 1), date(2025, 6, 1)),
    ("in March", date(2026, 3, 1), date(2026, 4, 1)),
    ("two years ago", date(2024, 1, 1), date(2025, 1, 1)),
    ("3 days ago", date(2026, 3, 9), date(2026, 3, 10)),
    ("a few weeks ago", date(2026, 2, 16), date(2026, 2, 23)),
    ("yesterday", date(2026, 3, 11), date(2026, 3, 12)),
    ("the day before yesterday", date(2026, 3, 10), date(2026, 3, 11)),
    ("last weekend", date(2026, 3, 7), date(2026, 3, 9)),
    ("last month", date(2026, 2, 1), date(2026, 3, 1)),
    ("last year", date(2025, 1, 1), date(2026, 1, 1)),
    ("this year", date(2026, 1, 1), date(2027, 1, 1)),
    ("last Friday", date(2026, 3, 6), date(2026, 3, 7)),
    ("last summer", date(2025, 6, 1), date(2025, 9, 1)),
    ("on 8 May, 2023", date(2023, 5, 8), date(2023, 5, 9)),
    ("May 8th, 2023", date(2023, 5, 8), date(2023, 5, 9)),
    ("2023-05-08", date(2023, 5, 8), date(2023, 5, 9)),
    ("what did we do in 2022", date(2022, 1, 1), date(2023, 1, 1)),
    ("in June 2023 and in August 2023", date(2023, 6, 1), date(2023, 9, 1)),
])
def test_phrases_resolve_to_calendar_windows(query: str, start: date, end: date) -> None:
    w = parse_time_window(query, NOW)
    assert w is not None, query
    assert (w.start_dt.date(), w.end_dt.date()) == (start, end)


@pytest.mark.parametrize("query", ["where does Ana live?", "he may come", "I paid 2000 dollars",
                                   "what is her favourite May flower"])
def test_no_time_no_window(query: str) -> None:
    assert parse_time_window(query, NOW) is None


def test_rolling_and_open_windows() -> None:
    w = parse_time_window("in the past 3 days", NOW)
    assert w is not None and w.end_dt == NOW and w.start_dt.date() == date(2026, 3, 9)
    since = parse_time_window("since March 2025", NOW)
    assert since is not None and since.start_dt.date() == date(2025, 3, 1) and since.end_dt == NOW
    before = parse_time_window("before 2020", NOW)
    assert before is not None and before.end_dt.date() == date(2020, 1, 1)


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
       st.sampled_from(["last week", "yesterday", "last month", "2 years ago", "in May",
                        "last Monday", "last weekend", "this year", "recently"]))
def test_relative_windows_are_in_the_past_and_nonempty(now: datetime, phrase: str) -> None:
    w = parse_time_window(f"what happened {phrase}?", now)
    assert w is not None and w.start < w.end
    assert w.start <= int(now.replace(tzinfo=timezone.utc).timestamp() * 1e6)


def _diary(mem: ltm.MemoryStore) -> dict[str, str]:
    ids = {}
    for when in ["2026-03-04", "2025-11-20", "2024-06-01"]:  # same words: time decides
        ids[when] = mem.add("went hiking in the mountains", user="ana", session=when,
                            time=when).id
    mem.add("cooked a risotto", user="ana", session="x", time="2026-03-05")
    return ids


def test_search_boosts_the_window(hstore: Callable[..., ltm.MemoryStore]) -> None:
    mem = hstore(recency_weight=0.0)
    ids = _diary(mem)
    hits = mem.search("who did I go hiking with last week", user="ana", now=NOW)
    assert hits[0].memory.id == ids["2026-03-04"]
    assert hits[0].signals["time_window"] == pytest.approx(1.0)  # inside the window
    hits = mem.search("who did I go hiking with two years ago", user="ana", now=NOW)
    assert hits[0].memory.id == ids["2024-06-01"]
    assert len(hits) >= 3  # boost, not filter


def test_filter_mode_and_off(hstore: Callable[..., ltm.MemoryStore]) -> None:
    mem = hstore(time_phrases="filter")
    ids = _diary(mem)
    hits = mem.search("hiking in November 2025", user="ana", now=NOW)
    assert [h.memory.id for h in hits] == [ids["2025-11-20"]]
    mem.close()
    off = hstore(time_phrases="off")
    hits = off.search("hiking last week", user="ana", now=NOW)
    assert len(hits) >= 3 and all("time_window" not in h.signals for h in hits)


def test_fact_validity_meets_the_window(hstore: Callable[..., ltm.MemoryStore]) -> None:
    mem = hstore(recency_weight=0.0)
    for other in ["Ana likes green tea", "Ana works as a nurse", "Bo plays the cello",
                  "Ana has a cat named Mo", "Ana was born in Porto"]:
        mem.add(other, user="ana", kind="fact", time="2018-01-01")
    paris = mem.add("Ana lives in Paris", user="ana", kind="fact", time="2019-02-01")
    lisbon = mem.add("Ana lives in Lisbon", user="ana", kind="fact", time="2024-05-01",
                     supersedes=paris.id)
    hits = mem.search("where did Ana live in 2021", user="ana", now=NOW)
    assert hits[0].memory.id == paris.id  # valid 2019-2024, though superseded
    hits = mem.search("where does Ana live", user="ana", now=NOW)
    assert hits[0].memory.id == lisbon.id
