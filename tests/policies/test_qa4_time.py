"""QA of issue 4's time-aware recall on real stores: ``now`` in every accepted form reads the
same calendar, time phrases near the ends of the calendar never raise, the limits of a time are
stated exactly when refused (the message said 'years 1 to 9999' and refused 9999-12-31), DST
days follow ``now``'s own offset, and a phrase naming a past year brings back the fact that
held then."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import ltm
from ltm.errors import InvalidInput
from ltm.timeparse import parse_time_window

Open = Callable[..., ltm.MemoryStore]


def test_the_limits_of_a_time_are_stated_exactly(hstore: Open) -> None:
    store = hstore()
    first = store.add("the first day", user="u", kind="fact", valid_from="0001-01-02T00:00Z")
    last = store.add("the last day", user="u", kind="fact",
                     valid_from=datetime(9999, 12, 30, tzinfo=timezone.utc),
                     supersedes=first.id)
    assert store.get(first.id, user="u").valid_to == last.valid_from
    for bad in ("9999-12-30T00:00:00.000001Z", "9999-12-31", "0001-01-01T23:59:59Z",
                "0001-01-02T00:00:00+00:01", 253402128000.5, -62135510400.5):
        with pytest.raises(InvalidInput, match="0001-01-02 to 9999-12-30"):
            store.search("day", user="u", as_of=bad)
    assert [h.memory.id for h in store.search("day", user="u", as_of="9999-12-30T00:00Z")] \
        == [last.id]


def test_now_in_every_form_reads_the_same_calendar() -> None:
    instant = datetime(2026, 3, 12, 15, 0, tzinfo=timezone.utc)
    forms: list[object] = [instant, instant.replace(tzinfo=None), "2026-03-12T15:00:00Z",
                           "2026-03-12T15:00:00+00:00", instant.timestamp(),
                           int(instant.timestamp()), "2026-03-12T15:00"]
    windows = {parse_time_window("what did I do yesterday?", f) for f in forms}
    assert len(windows) == 1
    w = windows.pop()
    assert w is not None and (w.start_dt, w.end_dt) == (datetime(2026, 3, 11, tzinfo=timezone.utc),
                                                        datetime(2026, 3, 12, tzinfo=timezone.utc))
    # the same instant seen from UTC-5 is still the 12th there: "yesterday" is its 11th
    local = parse_time_window("yesterday", "2026-03-12T10:00:00-05:00")
    assert local is not None and local.start_dt == datetime(2026, 3, 11, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("now", ["0001-01-02T00:00:00Z", "0001-01-09T12:00:00Z",
                                 "9999-12-29T23:00:00Z", "9999-12-29T12:00:00-11:00"])
def test_time_phrases_at_the_ends_of_the_calendar_never_raise(hstore: Open, now: str) -> None:
    store = hstore()
    store.add("the ancient treaty was signed", user="u", time="0001-01-02T00:00:00Z")
    store.add("the last colony launched", user="u", time="9999-12-29T00:00:00Z")
    for query in ("what happened last week", "since 2020 what happened", "before 1900",
                  "two decades ago", "after 2099", "in the past 999 years", "yesterday",
                  "Christmas", "New Year's Day", "since last summer", "a few weeks ago",
                  "on Monday", "last night", "earlier this year", "in May 2023"):
        hits = store.search(query, user="u", now=now)
        assert len(hits) <= 2
        store.context(query, user="u", now=now)


def test_a_dst_day_is_read_in_nows_own_offset(hstore: Open) -> None:
    lisbon = ZoneInfo("Europe/Lisbon")
    store = hstore(time_phrases="filter")
    # 29 March 2026: clocks go from 01:00 (UTC+0) to 02:00 (UTC+1)
    inside = store.add("we ran along the river", user="u",
                       time=datetime(2026, 3, 29, 0, 30, tzinfo=lisbon))
    store.add("we ran in the park", user="u", time=datetime(2026, 3, 28, 22, 30, tzinfo=lisbon))
    now = datetime(2026, 3, 30, 9, 0, tzinfo=lisbon)  # UTC+1: yesterday began 23:00 UTC
    got = [h.memory.id for h in store.search("where did we run yesterday?", user="u", now=now)]
    assert got == [inside.id]
    w = parse_time_window("yesterday", now)
    assert w is not None and w.start_dt == datetime(2026, 3, 28, 23, tzinfo=timezone.utc)
    assert w.end_dt - w.start_dt == timedelta(days=1)


def test_a_phrase_naming_a_past_year_brings_back_what_held_then(xstore: Open) -> None:
    store = xstore()
    old = store.add("Ana works at Acme as an engineer", user="u", kind="fact",
                    valid_from="2018-01-01")
    new = store.add("Ana works at Initech as a manager", user="u", kind="fact",
                    valid_from="2022-06-01", supersedes=old.id)
    then = store.search("where did Ana work in 2020?", user="u", kinds=["fact"],
                        now="2026-03-12T00:00Z")
    assert then[0].memory.id == old.id
    today = store.search("where does Ana work?", user="u", kinds=["fact"],
                         now="2026-03-12T00:00Z")
    assert [h.memory.id for h in today] == [new.id, old.id]
    assert [h.memory.id for h in store.search("where does Ana work?", user="u",
                                              as_of="2020-06-01")] == [old.id]
    block = store.context("where did Ana work in 2020?", user="u", now="2026-03-12T00:00Z")
    assert "Acme" in block and "until 2022-06-01" in block
