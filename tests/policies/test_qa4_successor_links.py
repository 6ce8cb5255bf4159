"""QA of issue 4: no fact left naming a successor that is gone. Forgetting the newest fact
of a chain left the fact before it ``superseded_by`` an erased id for good (it could never be
superseded again: "already superseded by <erased id>"); a gc merge of a successor into an older
duplicate did the same. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest

import ltm
from ltm.errors import NotFound


def test_forgetting_the_newest_fact_lets_the_old_one_be_superseded_again(
        xstore: Callable[..., ltm.MemoryStore]) -> None:
    store = xstore()
    a = store.add("Ana works at Acme", user="u", kind="fact", valid_from="2019-01-01")
    b = store.add("Ana works at Initech", user="u", kind="fact", valid_from="2021-03-01",
                  supersedes=a.id)
    store.forget(b.id, user="u")
    old = store.get(a.id, user="u")
    # no link to a memory that is gone; when it stopped holding is still known
    assert old.superseded_by is None
    assert old.valid_to == datetime(2021, 3, 1, tzinfo=timezone.utc)
    c = store.add("Ana works at Globex", user="u", kind="fact", valid_from="2022-01-01",
                  supersedes=a.id)
    assert store.get(a.id, user="u").superseded_by == c.id
    # (superseding sets valid_to to the successor's valid_from, as for any supersession)
    assert [h.memory.id for h in store.search("where does Ana work", user="u",
                                              as_of="2021-06-01")] == [a.id]
    assert [h.memory.id for h in store.search("where does Ana work", user="u",
                                              as_of="2022-01-01")] == [c.id]


def test_forgetting_the_two_newest_of_a_chain_unlinks_the_oldest(
        xstore: Callable[..., ltm.MemoryStore]) -> None:
    store = xstore()
    a = store.add("Mara's phone is an iPhone 6", user="u", kind="fact", valid_from="2019-01-01")
    b = store.add("Mara's phone is an iPhone 12", user="u", kind="fact",
                  valid_from="2021-01-01", supersedes=a.id)
    c = store.add("Mara's phone is a Pixel", user="u", kind="fact", valid_from="2023-01-01",
                  supersedes=b.id)
    # erase the middle and the head in one forget (a session holding both)
    store.update(b.id, user="u", session="later")
    store.update(c.id, user="u", session="later")
    store.forget(user="u", session="later")
    assert store.get(a.id, user="u").superseded_by is None


def test_gc_merge_of_a_successor_keeps_the_old_fact_linked(
        xstore: Callable[..., ltm.MemoryStore]) -> None:
    store = xstore()
    # "Initech" is in the store already; the successor written with supersedes is not
    # deduplicated on write, so gc finds the pair and folds one into the other: the older
    # one (valid from 2018) into the successor, the one the chain may point at (helper 67,
    # session 13: it was the other way, a.superseded_by a fact valid from before a's start)
    first = store.add("Ana works at Initech", user="u", kind="fact", valid_from="2018-01-01")
    a = store.add("Ana works at Acme", user="u", kind="fact", valid_from="2019-01-01")
    b = store.add("Ana works at Initech", user="u", kind="fact", valid_from="2021-03-01",
                  supersedes=a.id)
    report = store.gc()
    assert report.merged == {b.id: [first.id]}
    with pytest.raises(NotFound):
        store.get(first.id, user="u")
    assert store.get(a.id, user="u").superseded_by == b.id
    ranked = [h.memory.id for h in store.search("where does Ana work, Initech or Acme?",
                                                user="u")]
    assert ranked.index(b.id) < ranked.index(a.id)
