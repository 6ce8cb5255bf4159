"""QA of issue 4's near-duplicate reinforcement on real stores (SQLite and PostgreSQL): a
write without expiry folded into a memory that expires no longer vanishes with it (it was
returned as stored, then erased at the other write's expiry); ``dedup_threshold = 1.0`` folds
exact repeats (float32 rounding scored a text 0.9999999 against itself and folded none); gc
merges keep the longest expiry; a superseded fact is never what a new write reinforces; users
never fold into each other."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest

import ltm
from ltm.errors import NotFound

Open = Callable[..., ltm.MemoryStore]

TEXTS = ["Ana is allergic to peanuts", "東京タワーは333メートルです", "a b c",
         "Zürich 🏔️ " * 300, "The quick brown fox jumps over the lazy dog " * 40,
         "x" * 5000 + " end"]


def test_a_write_without_expiry_outlives_the_memory_it_reinforces(xstore: Open) -> None:
    store = xstore()
    temp = store.add("Ana is allergic to peanuts", user="u", kind="fact",
                     expires_at="2027-01-01")
    same = store.add("Ana is allergic to peanuts", user="u", kind="fact")
    assert same.id == temp.id and same.expires_at is None
    assert store.gc(now="2030-01-01").expired == []
    assert store.get(temp.id, user="u").metadata["ltm_reinforced"] == 1


def test_the_later_expiry_wins_and_an_earlier_one_shortens_nothing(xstore: Open) -> None:
    store = xstore()
    m = store.add("the gate code is 4471", user="u", kind="fact", expires_at="2027-01-01")
    later = store.add("the gate code is 4471", user="u", kind="fact",
                      expires_at="2028-01-01T00:00:00+01:00")
    assert later.id == m.id
    assert later.expires_at == datetime(2027, 12, 31, 23, tzinfo=timezone.utc)
    earlier = store.add("the gate code is 4471", user="u", kind="fact",
                        expires_at="2026-12-31")
    assert earlier.expires_at == later.expires_at
    pinned = store.add("the gate code is 4471", user="u", kind="fact", pinned=True,
                       expires_at="2026-12-30")
    assert pinned.pinned and pinned.expires_at == later.expires_at


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_threshold_one_folds_exact_repeats(hstore: Open, text: str) -> None:
    for embedder in ("hash", "wordllama"):
        store = hstore(f"s-{embedder}", embedder=embedder,
                       retention={"note": {"dedup_threshold": 1.0}})
        first = store.add(text, user="u", kind="note")
        again = store.add(text, user="u", kind="note")
        assert again.id == first.id, embedder
        other = store.add("something else entirely", user="u", kind="note")
        assert other.id != first.id


def test_gc_merge_keeps_the_longest_expiry(xstore: Open) -> None:
    store = xstore(retention={"fact": {"dedup_threshold": None}})
    a = store.add("Bo's locker is number 12", user="u", kind="fact", expires_at="2027-01-01")
    b = store.add("Bo's locker is number 12", user="u", kind="fact")
    c = store.add("Bo's bike is red", user="u", kind="fact", expires_at="2027-01-01")
    d = store.add("Bo's bike is red", user="u", kind="fact", expires_at="2029-01-01")
    store.close()
    store = xstore(retention={"fact": {"dedup_threshold": 0.95}})
    assert store.gc(now="2026-12-08").merged == {a.id: [b.id], c.id: [d.id]}
    assert store.get(a.id, user="u").expires_at is None
    assert store.get(c.id, user="u").expires_at == datetime(2029, 1, 1, tzinfo=timezone.utc)
    for gone in (b.id, d.id):
        with pytest.raises(NotFound):
            store.get(gone, user="u")


def test_a_superseded_fact_is_never_reinforced(xstore: Open) -> None:
    store = xstore()
    old = store.add("Ana lives in Porto", user="u", kind="fact", valid_from="2019-01-01")
    new = store.add("Ana lives in Lisbon", user="u", kind="fact", valid_from="2021-01-01",
                    supersedes=old.id)
    back = store.add("Ana lives in Porto", user="u", kind="fact", valid_from="2024-01-01")
    assert back.id not in (old.id, new.id)  # she moved back: a new fact, not the old one
    assert store.get(old.id, user="u").superseded_by == new.id
    other_user = store.add("Ana lives in Lisbon", user="v", kind="fact")
    assert other_user.id != new.id and other_user.user == "v"
