"""A time phrase's fit for facts (issue 15): a fact that held during the window but began
long before it ("I cook dinner", valid since 2019, recorded during the week) fits "last week"
less than an event of that week (``timefit._HELD_FIT``: before, it fitted fully and ranked
first); a fact that began in the window fits it fully, one that began just before by the
closeness of its start; a superseded fact that held in the window loses its penalty as
before. Both backends."""

from __future__ import annotations

from collections.abc import Callable

import ltm

Open = Callable[..., ltm.MemoryStore]
NOW = "2026-12-07T12:00Z"  # a Monday: "last week" is Nov 30 - Dec 6


def test_an_event_of_the_week_outranks_a_fact_held_long_before_it(xstore: Open) -> None:
    mem = xstore(recency_weight=0.0)
    # recorded during the week, valid since 2019: counted as inside the window before
    fact = mem.add("I cook dinner for the whole family", user="u", kind="fact",
                   time="2026-12-03T09:00Z", valid_from="2019-05-01T00:00Z")
    event = mem.add("I cook paella for Rui and the neighbours", user="u",
                    time="2026-12-04T20:00Z")
    mem.add("I cook soup on cold evenings", user="u", time="2026-10-02T20:00Z")
    hits = mem.search("what did I cook last week?", user="u", now=NOW)
    assert [h.memory.id for h in hits[:2]] == [event.id, fact.id]
    by_id = {h.memory.id: h for h in hits}
    assert by_id[event.id].signals["time_window"] == 1.0
    assert by_id[fact.id].signals["time_window"] == 0.8


def test_a_fact_that_began_in_the_window_fits_it_fully(xstore: Open) -> None:
    mem = xstore(recency_weight=0.0)
    began = mem.add("I started to cook porridge every morning", user="u", kind="fact",
                    time="2026-12-05T09:00Z", valid_from="2026-12-02T00:00Z")
    held = mem.add("I cook porridge for the kids", user="u", kind="fact",
                   time="2026-12-05T09:00Z", valid_from="2026-11-29T00:00Z")
    hits = mem.search("what did I cook last week?", user="u", now=NOW)
    fits = {h.memory.id: h.signals["time_window"] for h in hits}
    assert fits[began.id] == 1.0
    # began a day before the window: the closeness of its start (a day of a week's width)
    assert fits[held.id] == 0.5 ** (1 / 7)


def test_a_superseded_fact_that_held_in_the_window_loses_its_penalty(xstore: Open) -> None:
    mem = xstore(recency_weight=0.0)
    old = mem.add("I work at the Acme bakery", user="u", kind="fact",
                  valid_from="2018-01-01T00:00Z")
    new = mem.add("I work at the Initech office", user="u", kind="fact",
                  valid_from="2026-12-03T00:00Z", supersedes=old.id)
    hits = mem.search("where did I work in 2020?", user="u", now=NOW)
    assert hits[0].memory.id == old.id
    assert "superseded" not in hits[0].signals or hits[0].signals["superseded"] == 0.0
    assert hits[0].signals["time_window"] == 0.8  # held in 2020, began in 2018
    today = mem.search("where do I work?", user="u", now=NOW)
    assert today[0].memory.id == new.id
