"""The benchmarks' single-signal baselines ("BM25 alone", "dense alone": ``bench.locomo.
systems_for``) are ordered by their own raw score, also when the query names a time: the
time-window step of the ranking used to re-sort its head by the fused model's logit, so on
LoCoMo's 339 questions with a time phrase "BM25 alone" was partly the model (turn R@10 0.643,
0.629 by BM25 alone; dense 0.439 -> 0.399)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import ltm
from ltm.bench.locomo import systems_for
from ltm.store import MemoryStore

NOW = datetime(2024, 7, 1, 12, tzinfo=timezone.utc)


def test_a_baseline_keeps_its_own_order_under_a_time_phrase(tmp_path: Path) -> None:
    mem = ltm.open(tmp_path / "s")
    old = mem.add("I cook pasta and I cook rice, I cook a lot of pasta", user="u",
                  time=NOW - timedelta(days=200))
    new = mem.add("On Tuesday I cooked a new pasta recipe for friends", user="u",
                  time=NOW - timedelta(days=6))
    query = "what pasta did I cook last week"
    fused = mem.search(query, user="u", k=2, now=NOW)
    assert [h.memory.id for h in fused] == [new.id, old.id]  # the window lifts the new one
    configs = systems_for(mem.settings)
    bm25 = MemoryStore(mem.backend, configs["bm25"], mem.embedder)
    hits = bm25.search(query, user="u", k=2, now=NOW)
    assert [h.memory.id for h in hits] == [old.id, new.id]
    assert hits[0].signals["text"] > hits[1].signals["text"]
    assert hits[1].signals["time_window"] == 1.0  # its relevance still knows the window
    mem.close()
