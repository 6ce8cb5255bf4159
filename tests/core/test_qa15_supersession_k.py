"""Supersession (issue 15, guarantee (a)) whatever ``k`` is. The cap that keeps a superseded
fact below its successor is applied to the first ``k`` hits only, so with a small ``k`` the
successor is cut first and the outdated fact is returned as the answer (with a relevance the
same search with k=10 would not give it); a superseded fact in the head now brings its
successor into it before the cut. On both backends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

OLD = "Mara works at Initech as a senior software engineer in the Austin office"


def test_top_hit_is_never_a_superseded_fact_whatever_k(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    old = mem.add(OLD, user="u", kind="fact", valid_from="2021-01-01")
    new = mem.add("Mara switched jobs: now at Hooli", user="u", kind="fact",
                  valid_from="2023-01-01", supersedes=old.id)
    wide = mem.search(OLD, user="u", k=10)
    assert [h.memory.id for h in wide] == [new.id, old.id]
    for k in (1, 2):
        top = mem.search(OLD, user="u", k=k)
        assert top[0].memory.id == new.id, k
        assert top[0].relevance == pytest.approx(wide[0].relevance, abs=1e-6)
    # an abstaining search agrees with the wide list: the outdated fact is no answer alone
    floor = (wide[0].relevance + mem.search(OLD, user="u", k=1)[0].relevance) / 2
    assert all(h.memory.id != old.id
               for h in mem.search(OLD, user="u", k=1, min_relevance=floor))


def test_a_small_k_is_the_head_of_a_larger_one(copen: Callable[..., ltm.MemoryStore]) -> None:
    """A superseded fact first by its own match drops under its weakly matching successor:
    the candidate that came second by its own match becomes the best hit, whatever k is."""
    mem = copen()
    old = mem.add(OLD, user="u", kind="fact", valid_from="2021-01-01")
    mem.add("Mara: now at Hooli", user="u", kind="fact", valid_from="2023-01-01",
            supersedes=old.id)
    mem.add("Mara likes Austin", user="u")
    wide = [h.memory.id for h in mem.search(OLD, user="u", k=10)]
    assert len(wide) == 3 and wide[-1] == old.id
    for k in (1, 2):
        assert [h.memory.id for h in mem.search(OLD, user="u", k=k)] == wide[:k], k
