"""An open time window ("before last week", "before 2020", "since ...") must still tell inside
from outside. The time_window signal halves with every window width outside the window, and an
open window's span is the centuries back to year 1 (or forward to now): a memory 8 days after
"before last week" got time_window 0.99999, as good as inside, so recency alone put it above
the same words from inside the window. TimeWindow.width is the width of the span the phrase
names (7 days for "last week", a year for "2020"); retrieval/timefit.py halves an open
window's fit by it, at least weekly (_halving: "the week before August 3" is told on August 3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.timeparse import parse_time_window

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

THU = datetime(2026, 3, 12, 15, 0, tzinfo=timezone.utc)


def test_an_open_window_keeps_the_width_of_its_phrase() -> None:
    day = 86_400_000_000
    for query, width in [("before last week", 7), ("since 2020", 366), ("until yesterday", 1),
                         ("in 2023", 365), ("last week", 7)]:
        w = parse_time_window(query, THU)
        assert w is not None and w.width == width * day, query


def test_outside_an_open_window_is_outside(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    inside = mem.add("I cooked a big pot of lentil soup", user="u", session="a",
                     time="2026-02-20T19:00:00Z")
    outside = mem.add("I cooked a big pot of lentil soup", user="u", session="b",
                      time="2026-03-10T19:00:00Z")
    hits = mem.search("what did I cook before last week?", user="u", now=THU)
    assert [h.memory.id for h in hits[:2]] == [inside.id, outside.id]
    assert hits[1].signals["time_window"] < 0.5
