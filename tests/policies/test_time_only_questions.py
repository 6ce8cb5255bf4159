"""A question that asks for its time window alone ("what did I do yesterday?", issue 15): the
window is its match (``timefit.window_gain``). Before, such a query had no word to match and
its memories inside the window got relevance ~0.005, under ``context_min_relevance``, so
``context()`` was empty; memories outside the window gain nothing, so a window where nothing
happened still gives an empty context. Both backends."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import ltm
from ltm.retrieval.ranker import FULL, shipped
from ltm.retrieval.timefit import asks_for_window, window_gain
from ltm.timeparse import parse_time_window
from ltm.timeutil import to_us

Open = Callable[..., ltm.MemoryStore]
NOW = "2026-12-07T12:00Z"  # a Monday


def _store(xstore: Open) -> ltm.MemoryStore:
    mem = xstore(recency_weight=0.0)
    for t, text in [("2026-12-06T19:00Z", "Dinner with Rui at the Thai place"),
                    ("2026-12-06T10:00Z", "Went for a long run along the river"),
                    ("2026-12-04T15:00Z", "Dentist appointment, one filling"),
                    ("2026-11-20T20:00Z", "Watched a film at the cinema"),
                    ("2026-03-10T12:00Z", "Moved into the new flat")]:
        mem.add(text, user="u", time=t)
    return mem


@pytest.mark.parametrize("query", ["what did I do yesterday?", "what happened yesterday?",
                                   "yesterday"])
def test_the_window_is_what_a_time_only_question_asks_for(xstore: Open, query: str) -> None:
    mem = _store(xstore)
    floor = mem.settings.context_min_relevance
    hits = mem.search(query, user="u", now=NOW)
    inside = [h for h in hits if h.signals.get("time_window") == 1.0]
    assert {h.memory.text for h in inside} == {"Dinner with Rui at the Thai place",
                                               "Went for a long run along the river"}
    assert all(h.relevance >= floor for h in inside)  # before: ~0.005 each
    assert all(h.relevance < floor for h in hits if h not in inside)
    block = mem.context(query, user="u", now=NOW)
    assert "Dinner with Rui" in block and "long run" in block and "Dentist" not in block


def test_nothing_in_the_window_still_gives_an_empty_context(xstore: Open) -> None:
    mem = _store(xstore)
    # Tuesday Dec 1: nothing then; the dentist (Friday) and the weekend are days away
    assert mem.context("what did I do last Tuesday?", user="u", now=NOW) == ""
    assert mem.context("what happened in July?", user="u", now=NOW) == ""


def test_a_question_with_its_own_words_is_ranked_as_before(xstore: Open) -> None:
    mem = _store(xstore)
    hits = mem.search("what did I eat yesterday at dinner?", user="u", now=NOW)
    assert hits[0].memory.text == "Dinner with Rui at the Thai place"
    window = parse_time_window("what did I eat yesterday at dinner?", to_us(NOW))
    assert window_gain("what did I eat yesterday at dinner?", window, shipped()) == 0.0
    # the time part of the logit is the ranker's own (no gain)
    r = shipped()
    assert hits[0].signals["time"] == pytest.approx(
        r.time_fit_weight + r.scale * float(r.full_w[FULL.index("window")]))


@pytest.mark.parametrize(("query", "asks"), [
    ("what did I do yesterday?", True), ("What happened last week?", True),
    ("what was I up to last weekend", True), ("where did I go on Saturday?", True),
    ("anything happen in March?", True), ("last week", True),
    ("what did we talk about yesterday?", True), ("remind me what happened two days ago", True),
    ("summarize last week", True), ("show me everything from yesterday", True),
    ("what did Ana do yesterday?", False), ("what did I eat yesterday?", False),
    ("which movie did I watch last month?", False), ("what did I do?", False)])
def test_which_questions_ask_for_the_window_alone(query: str, asks: bool) -> None:
    window = parse_time_window(query, to_us(NOW))
    assert asks_for_window(query, window) is asks
    assert (window_gain(query, window, shipped()) > 0) is asks
