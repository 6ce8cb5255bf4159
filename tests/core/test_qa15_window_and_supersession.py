"""Guarantees (a) and (b) of issue 15 on one result list where both apply: a fact valid in the
query's time window that a fact also valid in the window superseded. The supersession cap
lowers the old fact to its successor's relevance, below a memory outside the window whose
relevance without time is lower: "where did Mara work in 2023" puts a 2024 remark first and
Initech (Mara's employer until September 2023) under it. The successor, inside the window, is
now raised to the old fact's relevance instead, which keeps both guarantees. On both
backends."""

from __future__ import annotations

from collections.abc import Callable

from postgres_support import postgres_url
from relevance_guarantees import assert_inside_window_first, assert_successors_first
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]


def test_superseded_fact_valid_in_the_window(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    old = mem.add("Mara works at Initech as a software engineer", user="u", kind="fact",
                  valid_from="2023-01-10", time="2023-01-10")
    new = mem.add("Mara's new employer: Hooli", user="u", kind="fact",
                  valid_from="2023-09-01", time="2023-09-01", supersedes=old.id)
    mem.add("Mara said work at the office was stressful", user="u", time="2024-03-05")
    hits = mem.search("where did Mara work in 2023", user="u", now="2024-07-01T00:00:00Z")
    assert {h.memory.id for h in hits} >= {old.id, new.id}
    assert_successors_first(hits)
    assert_inside_window_first(hits)
