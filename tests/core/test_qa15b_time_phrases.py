"""Time phrases a user writes that the parser read wrong (issue 15, guarantee (b)): the calendar
of ``now``'s own UTC offset, since/until/before with a relative phrase, a bare weekday after
"on"/"since", an ISO date with a time, "in the last week" (rolling), "last weekend" asked on a
Sunday, holidays, and non-time uses of "last week"/"last month" that made a window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.timeparse import parse_time_window

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

THU = datetime(2026, 3, 12, 15, 0, tzinfo=timezone.utc)
SUN = datetime(2026, 3, 15, 15, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("query, now, start, end", [
    ("what did I do since Monday?", THU, date(2026, 3, 9), THU),
    ("since last Monday", THU, date(2026, 3, 9), THU),
    ("what happened since yesterday", THU, date(2026, 3, 11), THU),
    ("since last week", THU, date(2026, 3, 2), THU),
    ("until yesterday", THU, date(1, 1, 2), date(2026, 3, 12)),
    ("what did I cook before last summer", THU, date(1, 1, 2), date(2025, 6, 1)),
    ("what did I do on Tuesday", THU, date(2026, 3, 10), date(2026, 3, 11)),
    ("the meeting on 2024-05-08T10:00", THU, date(2024, 5, 8), date(2024, 5, 9)),
    ("notes from 2024-05-08T10:00:00Z", THU, date(2024, 5, 8), date(2024, 5, 9)),
    ("what did I read in the last week", THU, date(2026, 3, 5), THU),
    ("last weekend", SUN, date(2026, 3, 7), date(2026, 3, 9)),  # asked on Sunday: the one before
    ("this weekend", SUN, date(2026, 3, 14), date(2026, 3, 16)),
    ("what did we eat at Christmas", THU, date(2025, 12, 24), date(2025, 12, 27)),
    ("gifts before Christmas 2023", THU, date(1, 1, 2), date(2023, 12, 24)),
    ("Thanksgiving 2025", THU, date(2025, 11, 27), date(2025, 11, 28)),
    ("the last week of May 2023", THU, date(2023, 5, 1), date(2023, 6, 1)),
    ("what are our plans for this summer?", THU, date(2026, 6, 1), date(2026, 9, 1)),
    ("this winter", THU, date(2025, 12, 1), date(2026, 3, 1)),  # the one just ended
])
def test_windows(query: str, now: datetime, start: date, end: date | datetime) -> None:
    w = parse_time_window(query, now)
    assert w is not None, query
    assert w.start_dt.date() == start
    assert (w.end_dt if isinstance(end, datetime) else w.end_dt.date()) == end


@pytest.mark.parametrize("query", ["what went wrong in the last week of the project",
                                   "the last month of school", "happy new year",
                                   "the gym on Mondays"])
def test_not_a_window(query: str) -> None:
    assert parse_time_window(query, THU) is None


def test_the_calendar_is_that_of_nows_offset() -> None:
    # 10:00 on Monday 9 March in UTC-5: yesterday is Sunday from 00:00-05:00 (05:00 UTC)
    for now in ["2026-03-09T10:00:00-05:00",
                datetime(2026, 3, 9, 10, tzinfo=timezone(timedelta(hours=-5)))]:
        w = parse_time_window("yesterday", now)
        assert w is not None
        assert (w.start_dt, w.end_dt) == (datetime(2026, 3, 8, 5, tzinfo=timezone.utc),
                                          datetime(2026, 3, 9, 5, tzinfo=timezone.utc))
    # 02:00 on Monday in UTC+9 is still Sunday in UTC: last week is the one before the Monday
    w = parse_time_window("last week", "2026-03-09T02:00:00+09:00")
    assert w is not None and w.start_dt == datetime(2026, 3, 1, 15, tzinfo=timezone.utc)
    # an open start stays in range whatever the offset
    w = parse_time_window("before 2020", "2026-03-09T02:00:00+14:00")
    assert w is not None and w.start_dt.year == 1


def test_yesterday_in_the_users_time_zone_ranks_first(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    """Guarantee (b) with offsets: the same words on Sunday 23:30-05:00 (Monday 04:30 UTC) and
    on Saturday 20:00-05:00 (Sunday 01:00 UTC); asked "yesterday" on Monday 10:00-05:00, the
    Sunday one is inside the window and must come first. UTC's calendar put it outside and the
    Saturday one inside."""
    mem = copen()
    sunday = mem.add("We watched a film at the cinema downtown", user="u", session="s1",
                     time="2026-03-08T23:30:00-05:00")
    saturday = mem.add("We watched a film at the cinema downtown", user="u", session="s2",
                       time="2026-03-07T20:00:00-05:00")
    mem.add("I bought new running shoes", user="u", session="s3", time="2026-03-08T12:00:00Z")
    hits = mem.search("which film did we watch at the cinema yesterday?", user="u",
                      now="2026-03-09T10:00:00-05:00")
    assert [h.memory.id for h in hits[:2]] == [sunday.id, saturday.id]
    assert hits[0].signals["time_window"] == 1.0 > hits[1].signals["time_window"]


def test_before_a_relative_phrase_ranks_what_came_before(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    """"before last summer" read as "last summer" boosted the memory inside summer 2025 above
    the same words from before it, which is what the user asked for (recency off: the same
    words, so the relevance without time is the same)."""
    mem = copen(recency_weight=0.0)
    spring = mem.add("I cooked a big pot of lentil soup", user="u", session="a",
                     time="2025-04-10")
    summer = mem.add("I cooked a big pot of lentil soup", user="u", session="b",
                     time="2025-07-10")
    hits = mem.search("what did I cook before last summer?", user="u", now=THU)
    assert [h.memory.id for h in hits[:2]] == [spring.id, summer.id]
    assert hits[0].signals["time_window"] == 1.0 > hits[1].signals["time_window"]


@pytest.mark.parametrize("query", ["yesterday this last week", "since Christmas",
                                   "thanksgiving monday", "1900 2099 thanksgiving past sunday"])
def test_now_at_the_edge_of_time_never_raises(query: str) -> None:
    # a window that would start before year 1 is no window (it raised OverflowError,
    # ValueError or InvalidInput naming "time")
    for now in [datetime(1, 1, 3, tzinfo=timezone.utc), "0001-01-03T00:00:00+14:00"]:
        w = parse_time_window(query, now)
        assert w is None or w.start < w.end
