"""A search query full of time phrases (any client can send 100,000 characters) is read in
time linear in its length: reading its time phrases took ~19 s at 100,000 characters (two
quadratic scans), a worker tied up per request."""

from __future__ import annotations

import time

from server_support import Served

from ltm.timeparse import parse_time_window

PHRASES = "last week since monday in may 2023 before 3 days ago "
NOW = "2026-01-07T12:00:00Z"


def test_a_long_query_of_time_phrases_is_read_quickly() -> None:
    short = parse_time_window(PHRASES * 3, NOW)
    query = (PHRASES * 2000)[:100_000]
    t0 = time.perf_counter()
    long = parse_time_window(query, NOW)
    took = time.perf_counter() - t0
    assert short is not None and long is not None
    assert (long.start, long.end) == (short.start, short.end)
    assert took < 3.0, took  # ~19 s before on this machine; ~0.3 s after


def test_since_still_modifies_the_phrase_after_it() -> None:
    since = parse_time_window("what happened since last week", NOW)
    plain = parse_time_window("what happened last week", NOW)
    assert since is not None and plain is not None
    assert since.start == plain.start and since.end > plain.end


def test_rest_search_with_such_a_query_answers(served: Served) -> None:
    with served.client("alice") as c:
        t0 = time.perf_counter()
        r = c.post("/v1/users/alice/search", json={"query": (PHRASES * 2000)[:100_000],
                                                   "k": 5, "now": NOW})
        took = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    assert took < 10.0, took
