"""A fact superseded by one that holds only from a later date is still the current fact until
then: searched as of now (or an ``as_of`` before that date) it carries no superseded penalty
and is not capped under its successor; from that date on the successor comes first. On both
backends."""

from __future__ import annotations

from collections.abc import Callable

from postgres_support import postgres_url
from relevance_guarantees import assert_successors_first
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

Q = "where does Ana live"


def test_a_successor_from_a_later_date_waits_for_it(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    paris = mem.add("Ana lives in Paris", user="u", kind="fact", valid_from="2020-01-01")
    berlin = mem.add("Ana lives in Berlin", user="u", kind="fact", valid_from="2030-04-01",
                     supersedes=paris.id)
    today = mem.search(Q, user="u", now="2026-06-01T00:00:00Z")
    assert [h.memory.id for h in today][:2] == [paris.id, berlin.id]
    assert today[0].signals["superseded"] == 0.0
    before = mem.search(Q, user="u", now="2031-01-01T00:00:00Z", as_of="2029-01-01")
    assert before[0].memory.id == paris.id
    later = mem.search(Q, user="u", now="2031-01-01T00:00:00Z")
    assert [h.memory.id for h in later][:2] == [berlin.id, paris.id]
    assert later[1].signals["superseded"] < 0
    assert_successors_first(later)
