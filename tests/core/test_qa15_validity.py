"""A fact's validity interval is never inverted (issue 15: supersession and time windows as
guarantees). A successor that became valid before the fact it supersedes would give that fact
valid_to < valid_from: ``as_of`` could never return it, and a time window would count it as
inside (its interval "meets" any window holding its valid_from), lift its superseded penalty
and set the window guarantee against the supersession guarantee. Such writes are refused with
``InvalidInput`` and write nothing, on both backends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]


def test_inverted_intervals_are_refused(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    with pytest.raises(ltm.InvalidInput, match="valid_to"):
        mem.add_many([{"text": "Mara works at Initech", "user": "u", "kind": "fact",
                       "valid_from": "2025-01-01", "valid_to": "2020-01-01"}])
    old = mem.add("Mara works at Initech", user="u", kind="fact", valid_from="2024-05-01")
    with pytest.raises(ltm.InvalidInput, match="valid_from"):
        mem.add("Mara works at Hooli", user="u", kind="fact", valid_from="2023-01-01",
                supersedes=old.id)
    # nothing was written: the old fact is current, the refused successor absent
    assert [m.id for m in mem.list("u")] == [old.id]
    assert mem.get(old.id, user="u").superseded_by is None
    # a successor valid from the same moment (a correction) or later is accepted
    new = mem.add("Mara works at Hooli", user="u", kind="fact", valid_from="2024-05-01",
                  supersedes=old.id)
    got = mem.get(old.id, user="u")
    assert got.superseded_by == new.id and got.valid_to == got.valid_from


def test_a_dated_successor_of_a_reinforced_fact(copen: Callable[..., ltm.MemoryStore]) -> None:
    """Near-duplicate reinforcement returns the existing fact; said to hold since earlier, it
    holds since then, so a successor dated between the two starts supersedes it with a sound
    interval and as_of answers with the fact that held at each time."""
    mem = copen()
    kept = mem.add("I cook ramen", user="u", kind="fact", valid_from="2024-05-10")
    again = mem.add("I cook ramen", user="u", kind="fact", valid_from="2023-06-01")
    assert again.id == kept.id  # reinforced, not stored
    new = mem.add("I cook pho", user="u", kind="fact", valid_from="2023-09-05",
                  supersedes=again.id)
    old = mem.get(kept.id, user="u")
    assert old.valid_from is not None and old.valid_to is not None
    assert old.valid_from < old.valid_to == new.valid_from
    for at, want in (("2023-07-01", kept.id), ("2024-06-01", new.id)):
        assert [h.memory.id for h in mem.search("what do I cook", user="u", as_of=at)] == [want]
    with pytest.raises(ltm.InvalidInput):  # before even the earlier start: refused
        mem.add("I cook tacos", user="u", kind="fact", valid_from="2020-01-01",
                supersedes=new.id)
