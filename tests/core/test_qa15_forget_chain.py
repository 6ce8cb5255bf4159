"""Supersession (issue 15, guarantee (a)) after a forget inside a chain: A superseded by B
superseded by C; erasing B leaves A's ``superseded_by`` naming a memory that no longer exists,
so nothing kept A (outdated twice over) below C, the current fact. Forget now relinks A to C
in the same transaction. On both backends."""

from __future__ import annotations

from collections.abc import Callable

from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

OLDEST = "Mara's phone is an iPhone 6 with a cracked screen and a blue case"


def test_forgetting_the_middle_of_a_chain_keeps_the_oldest_below_the_newest(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    a = mem.add(OLDEST, user="u", kind="fact", valid_from="2019-01-01")
    b = mem.add("Mara's phone is an iPhone 12", user="u", kind="fact",
                valid_from="2021-01-01", supersedes=a.id)
    c = mem.add("Mara's phone is a Pixel", user="u", kind="fact", valid_from="2023-01-01",
                supersedes=b.id)
    before = [h.memory.id for h in mem.search(OLDEST, user="u", k=5)]
    assert before.index(b.id) < before.index(a.id) and before[0] in (b.id, c.id)
    mem.forget(b.id, user="u")
    after = [h.memory.id for h in mem.search(OLDEST, user="u", k=5)]
    assert set(after) == {a.id, c.id}
    assert after.index(c.id) < after.index(a.id)


def test_relinks_skip_every_erased_link() -> None:
    from ltm.backends.common import successor_relinks

    # A -> B -> C -> D with B and C erased: A's link goes to D; an erased head (D) or an
    # erased cycle links nothing
    assert sorted(successor_relinks([("B", "C"), ("C", "D")])) == [("B", "D"), ("C", "D")]
    assert successor_relinks([("D", None), ("X", "Y"), ("Y", "X")]) == []
