"""A time phrase that names what a memory is about, not when it was said, must not hide it
(issue 15, abstention with time phrases). "what did I write in the 2023-05-08 report?" reads
a window (8 May 2023); the answer, recorded in 2026, lies outside it, and the window's time
term (-2.4 in the logit at fit 0) cuts its relevance from 0.13 to 0.013, under the context
floor (0.015): context() came back empty although search ranks the answer first. A memory
whose own text names a time inside the window (read against the memory's time: "the
2023-05-08 report", "at the Halloween party in 2019") is evidence about that time and should
count as inside it (retrieval/pipeline.py, _names_time_in); one naming another date does
not."""

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
        assert hits[0].signals["time_window"] == 1.0
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
        assert hits[same.id].signals["time_window"] == 1.0
        assert hits[told.id].signals["time_window"] == 1.0  # recorded that day
        assert hits[other.id].signals["time_window"] < 0.01
        assert hits[same.id].relevance > hits[other.id].relevance
    finally:
        mem.close()
