"""A time phrase that names what a memory is about, not when it was said, must not hide it
(issue 15, abstention with time phrases). "what did I write in the 2023-05-08 report?" reads
a window (8 May 2023); the answer, recorded in 2026, lies outside it, and the window's time
term (-2.4 in the logit at fit 0) cuts its relevance from 0.13 to 0.013, under the context
floor (0.015): context() came back empty although search ranks the answer first. A memory
whose own text names a time inside the window (read against the memory's time: "the
2023-05-08 report", "at the Halloween party in 2019") is evidence about that time and should
count as half inside it (retrieval/timefit.py, _names_time_in, _NAMED_FIT: being recorded
then is stronger evidence); one naming another date does not."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import ltm

NOW = datetime(2026, 3, 12, 9, tzinfo=timezone.utc)
FILLERS = ["I had pasta for dinner", "We talked about the budget at work", "My sister called",
           "I went for a run in the park", "The weather was rainy", "We played board games"]


def test_a_date_that_names_the_content_does_not_hide_it(tmp_path: Path) -> None:
    mem = ltm.open(tmp_path / "s")
    try:
        mem.add_many([{"text": f"{FILLERS[i % len(FILLERS)]} ({i})", "user": "u",
                       "session": f"s{i % 20}", "time": NOW - timedelta(days=2 + 2.5 * i)}
                      for i in range(100)])
        report = mem.add("The 2023-05-08 report said sales grew 4 percent", user="u",
                         session="rep", time=NOW - timedelta(days=20))
        asked = "what did I write in the 2023-05-08 report?"
        hits = mem.search(asked, user="u", k=3, now=NOW)
        assert hits[0].memory.id == report.id
        assert hits[0].signals["time_window"] == 0.5  # named there, recorded elsewhen
        assert "sales grew 4 percent" in mem.context(asked, user="u", now=NOW)
    finally:
        mem.close()


def test_a_date_named_outside_the_window_does_not_fit(tmp_path: Path) -> None:
    mem = ltm.open(tmp_path / "s")
    try:
        asked = "what did the 2023-05-08 report say?"
        same = mem.add("The 2023-05-08 report said sales grew 4 percent", user="u",
                       time=NOW - timedelta(days=20))
        other = mem.add("The 2022-05-08 report said sales fell 2 percent", user="u",
                        time=NOW - timedelta(days=21))
        told = mem.add("Today's report said the office moves in 2023", user="u",
                       time="2023-05-08T10:00:00Z")
        hits = {h.memory.id: h for h in mem.search(asked, user="u", k=5, now=NOW)}
        assert hits[same.id].signals["time_window"] == 0.5  # names it
        assert hits[told.id].signals["time_window"] == 1.0  # recorded that day
        assert hits[other.id].signals["time_window"] < 0.01
        assert hits[same.id].relevance > hits[other.id].relevance
    finally:
        mem.close()


def test_a_smaller_k_is_the_start_of_a_larger_one_with_dates_named(tmp_path: Path) -> None:
    """Which memories get their text read for a date does not depend on ``k`` beyond what a
    smaller k reaches: each list is the start of the next larger one's."""
    import random
    rng = random.Random(3)
    mem = ltm.open(tmp_path / "s")
    try:
        days = ["2023-05-08", "2023-05-09", "2022-05-08", "May 8, 2023", "2024-01-02"]
        mem.add_many([{"text": f"The {rng.choice(days)} {rng.choice(['report', 'memo', 'call'])}"
                               f" said {rng.choice(FILLERS).lower()} ({i})",
                       "user": "u", "time": NOW - timedelta(days=rng.randint(1, 900))}
                      for i in range(60)])
        for asked in ["what did the 2023-05-08 report say?", "the memo of May 8, 2023",
                      "what happened on 2023-05-09?"]:
            lists = [[h.memory.id for h in mem.search(asked, user="u", k=k, now=NOW)]
                     for k in range(1, 16)]
            named = [h for h in mem.search(asked, user="u", k=15, now=NOW)
                     if h.signals["time_window"] == 0.5]
            assert named, asked  # memories naming the date were read as inside the window
            for small, large in zip(lists, lists[1:]):
                assert large[:len(small)] == small, asked
    finally:
        mem.close()
