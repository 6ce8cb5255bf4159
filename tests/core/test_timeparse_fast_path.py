"""The fast path of the time-phrase parser reads what the full scan reads. An ASCII query is
matched lowercased, without IGNORECASE, and only by the patterns whose words it holds; a query
with any other character runs every pattern on the query as written. Both give one window."""

from __future__ import annotations

from test_qa25_time_phrases import DOCUMENTED, ENHANCED, FIXED, NOWS
from test_qa26_time_months import ROWS

from ltm import timeparse
from ltm.timeparse import parse_time_window

# words that only look like time, and abbreviations that start a name
NO_WINDOW = ["May I ask you something", "my sister May called", "Summer is my cat",
             "the March on Washington", "this may be it", "the last march", "I relied on Sat Nav",
             "since Sun Microsystems was bought", "Q1 of the quiz", "in her twenties",
             "scored in the 90s", "version 1.2.2023", "I had a fall in the garden"]
QUERIES = sorted({q for q, *_ in DOCUMENTED + FIXED + ENHANCED + ROWS} | set(NO_WINDOW))
WRITTEN = [v for q in QUERIES for v in (q, q.upper(), q.title()) if v.isascii()]


def _read(query: str, now: object) -> tuple[int, int, str, int] | None:
    w = parse_time_window(query, now)
    return None if w is None else (w.start, w.end, w.phrase, w.scale)


def test_an_ascii_query_reads_as_the_full_scan_reads_it() -> None:
    """An em dash sends a query down the full scan (a character not ASCII, without case) and
    names no time: each documented form, in capitals and in title case too, at 9 ``now``s,
    reads the same either way."""
    assert len(WRITTEN) > 600
    differ = [(q, now, _read(q, now), _read(q + " \u2014", now))
              for q in WRITTEN for now in NOWS[:9]]
    differ = [d for d in differ if d[2] != d[3]]
    assert differ == []
    assert sum(_read(q, NOWS[0]) is not None for q in WRITTEN) > 300


def test_every_pattern_that_matches_finds_the_words_it_needs() -> None:
    """What a pattern needs before it is run (``_HINTS``, the relative patterns' words) is in
    every query it matches; a pattern given a word it does not need would be skipped."""
    relative = [v for k, v in vars(timeparse).items() if k.startswith("_R_")]
    assert len(relative) >= 15
    checked = 0
    for query in WRITTEN:
        low = query.lower()
        held = {name for name, words in timeparse._HINTS.items()
                if any(w in low for w in words)}
        for needs, rx, _ in timeparse._ABS_RE:
            if rx.search(query):
                assert needs <= held, (query, rx.pattern[:80], needs - held)
                checked += 1
        for words, rel in relative:
            if rel.search(low):
                assert any(w in low for w in words), (query, rel.pattern[:80])
                checked += 1
        slow = timeparse._MAYBE_RELATIVE.search(low) or timeparse._MAYBE_ABSOLUTE.search(query)
        assert timeparse._maybe_time(query, low) == bool(slow), query
    assert checked > 500
