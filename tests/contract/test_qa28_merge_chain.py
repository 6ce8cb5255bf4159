"""Both backends (helper 67, thirteenth session): gc's near-duplicate merge kept the oldest
memory of a group and pointed every link at it, so a current duplicate older than a fact
chain became the successor of a fact that started after it (superseded_by -> a memory valid
from before its predecessor: a link ``add(supersedes=...)`` refuses). Now the survivor is one
the chain can point at (here the chain's head); a pinned duplicate that cannot be is kept
beside it, unmerged."""

from __future__ import annotations

from collections.abc import Callable

import ltm
from ltm.model import Memory


def _start(m: Memory) -> object:
    return m.valid_from if m.valid_from is not None else m.time


def _links_hold(mem: ltm.MemoryStore, user: str) -> None:
    for m in mem.list(user, limit=100):
        if m.superseded_by is not None:
            nxt = mem.get(m.superseded_by, user=user)
            assert _start(nxt) >= _start(m), (m.text, m.valid_from, nxt.text, nxt.valid_from)


def _chain(mem: ltm.MemoryStore, *, pin: bool) -> tuple[Memory, Memory, Memory]:
    old = mem.add("Ana works at Acme", user="u", kind="fact", valid_from="2018-01-01",
                  pinned=pin)
    mid = mem.add("Ana works at Beta", user="u", kind="fact", valid_from="2020-01-01")
    new = mem.add("Ana works at Acme", user="u", kind="fact", valid_from="2022-01-01",
                  supersedes=mid.id)
    return old, mid, new


def test_gc_merge_points_the_chain_at_a_successor_it_accepts(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    old, mid, new = _chain(mem, pin=False)
    report = mem.gc()
    assert report.merged == {new.id: [old.id]}
    got = mem.get(mid.id, user="u")
    assert got.superseded_by == new.id
    assert mem.get(new.id, user="u").valid_from == new.valid_from
    _links_hold(mem, "u")
    assert [h.memory.id for h in mem.search("where does Ana work", user="u", k=1)] == [new.id]


def test_gc_merge_keeps_a_pinned_duplicate_the_chain_cannot_point_at(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    old, mid, new = _chain(mem, pin=True)
    assert mem.gc(dry_run=True).merged == {}
    assert mem.gc().merged == {}
    assert mem.get(mid.id, user="u").superseded_by == new.id
    assert {mem.get(old.id, user="u").id, mem.get(new.id, user="u").id} == {old.id, new.id}
    _links_hold(mem, "u")


def test_a_duplicate_dated_earlier_does_not_move_a_successor_before_its_predecessor(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    # write-time reinforcement moves the memory's valid_from to the earlier start a
    # duplicate gives; a successor's went before the fact it superseded (2018 < 2020)
    mem = copen(embedder="hash")
    mid = mem.add("Ana works at Beta", user="u", kind="fact", valid_from="2020-01-01")
    new = mem.add("Ana works at Acme", user="u", kind="fact", valid_from="2022-01-01",
                  supersedes=mid.id)
    again = mem.add("Ana works at Acme", user="u", kind="fact", valid_from="2018-01-01")
    assert again.id == new.id and again.metadata["ltm_reinforced"] == 1
    assert _start(mem.get(new.id, user="u")) >= _start(mem.get(mid.id, user="u"))
    _links_hold(mem, "u")
    # a memory that superseded nothing still takes the earlier start
    solo = mem.add("Ana likes tea", user="u", kind="fact", valid_from="2022-01-01")
    mem.add("Ana likes tea", user="u", kind="fact", valid_from="2019-01-01")
    assert mem.get(solo.id, user="u").valid_from.year == 2019
