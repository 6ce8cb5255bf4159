"""Time phrases naming a month by "last"/"this" or a season by "in the": "trip last November",
"this past March", "over the summer" named no window, so a question about them ranked by words
alone: "trip last November" put two June hikes first and the November flight to Denver 6th."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.timeparse import parse_time_window
from ltm.timeutil import from_us, to_us

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

NOW = "2026-06-15T12:00"  # a Monday
ROWS = [  # (query, asked at, first day, day after the last) or None: no window
    ("trip last November", NOW, date(2025, 11, 1), date(2025, 12, 1)),
    ("last March", NOW, date(2026, 3, 1), date(2026, 4, 1)),
    ("last March", "2026-03-20T12:00", date(2025, 3, 1), date(2025, 4, 1)),  # a year back
    ("what did we do this past March", NOW, date(2026, 3, 1), date(2026, 4, 1)),
    ("this March", NOW, date(2026, 3, 1), date(2026, 4, 1)),
    ("since last November", NOW, date(2025, 11, 1), date(2026, 6, 15)),
    ("last November 2024", NOW, date(2024, 11, 1), date(2024, 12, 1)),
    ("last Nov.", NOW, date(2025, 11, 1), date(2025, 12, 1)),
    ("in the summer", NOW, date(2026, 6, 1), date(2026, 9, 1)),
    ("during winter", NOW, date(2025, 12, 1), date(2026, 3, 1)),
    ("over the summer", "2026-01-10T12:00", date(2025, 6, 1), date(2025, 9, 1)),
    ("this November", NOW, None, None),  # to come: no window
    ("this may be it", NOW, None, None),
    ("the last march we joined", NOW, None, None),
    ("last may", NOW, None, None),
    ("I broke my wrist in the fall", NOW, None, None),
    # "fall": autumn after in/during/over the (the most recent one begun) and after last/this,
    # a tumble when it is told ("of Rome", "from the ladder") or a word of one is in the query
    ("what did we do in the fall", NOW, date(2025, 9, 1), date(2025, 12, 1)),
    ("during the fall", NOW, date(2025, 9, 1), date(2025, 12, 1)),
    ("over the fall", "2026-10-20T12:00", date(2026, 9, 1), date(2026, 12, 1)),  # under way
    ("where did we go in the Fall", NOW, date(2025, 9, 1), date(2025, 12, 1)),
    ("classes in the fall semester", NOW, date(2025, 9, 1), date(2025, 12, 1)),
    ("broke my wrist in the fall of 2019", NOW, date(2019, 9, 1), date(2019, 12, 1)),
    ("what did I plant last fall", NOW, date(2025, 9, 1), date(2025, 12, 1)),
    ("the fall of Rome", NOW, None, None),
    ("was she hurt in the fall", NOW, None, None),
    ("the hip he fractured in the fall", NOW, None, None),
    ("injured in the fall from the ladder", NOW, None, None),
    ("after the fall", NOW, None, None),
    ("I had a fall in the garden", NOW, None, None),
    ("since my last fall", NOW, None, None),
    ("Grandma's last fall", NOW, None, None),
    ("in the spring of life", NOW, None, None),
    ("in Summer's room", NOW, None, None),
]


@pytest.mark.parametrize(("query", "now", "first", "after"), ROWS)
def test_month_and_season_phrases(query: str, now: str, first: date | None,
                                  after: date | None) -> None:
    w = parse_time_window(query, to_us(now))
    if first is None:
        assert w is None, query
    else:
        assert w is not None, query
        assert (from_us(w.start).date(), from_us(w.end).date()) == (first, after), query


EPISODES = {"tam": ("We hiked Mount Tam", "2026-06-06T10:00"),
            "peak": ("We hiked Mission Peak", "2026-05-30T10:00"),
            "dentist": ("Dentist appointment, two fillings", "2026-03-03T09:00"),
            "denver": ("Flew to Denver for the offsite", "2025-11-20T08:00"),
            "car": ("Bought a used Subaru", "2024-02-10T12:00")}


def test_the_episode_of_the_month_comes_first(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    ids = {mem.add(text, user="u", time=t).id: key for key, (text, t) in EPISODES.items()}
    for query, want in [("trip last November", "denver"),
                        ("what did we do this past March", "dentist")]:
        top = mem.search(query, user="u", k=1, now=NOW)[0]
        assert ids[top.memory.id] == want, query
