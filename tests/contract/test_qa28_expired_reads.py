"""Both backends (helper 67, thirteenth session): an unpinned memory past its ``expires_at`` is
gone for reads. ``get`` returned it while list, search and stats hid it; now it answers
``NotFound`` (saying when it expired) until gc erases it. A pinned one stays readable;
``update`` can revive an expired one (a later expiry, none, pinned) and refuses other changes
to it; forget by id and history still find it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import ltm
from ltm.errors import NotFound


def test_an_expired_memory_is_gone_for_get(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    gone = mem.add("temporary door code 4411", user="u", expires_at="2026-01-01")
    kept = mem.add("pinned door code 5522", user="u", expires_at="2026-01-01", pinned=True)
    live = mem.add("the wifi password is cobalt", user="u", expires_at="2999-01-01")
    assert {m.id for m in mem.list("u")} == {kept.id, live.id}
    with pytest.raises(NotFound, match="expired at 2026-01-01T00:00:00Z"):
        mem.get(gone.id, user="u")
    assert mem.get(kept.id, user="u").text == kept.text
    assert mem.get(live.id, user="u").text == live.text
    # a change that leaves it expired: gone as for get, nothing written
    with pytest.raises(NotFound, match="expired"):
        mem.update(gone.id, user="u", text="new door code 9999")
    with pytest.raises(NotFound, match="expired"):
        mem.update(gone.id, user="u", expires_at="2026-02-01")
    # unpinned, its expiry applies again; pinned again, it is back
    mem.update(kept.id, user="u", pinned=False)
    with pytest.raises(NotFound, match="expired"):
        mem.get(kept.id, user="u")
    assert mem.update(kept.id, user="u", pinned=True).pinned
    assert [e.event for e in mem.history(gone.id, user="u")] == ["created"]
    # revived: a later expiry (and the history shows it)
    back = mem.update(gone.id, user="u", expires_at="2999-01-01")
    assert mem.get(gone.id, user="u").text == back.text == gone.text
    assert {m.id for m in mem.list("u")} == {gone.id, kept.id, live.id}


def test_an_expired_memory_can_be_pinned_unexpired_or_forgotten(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    a = mem.add("old locker combination 12 34 56", user="u", expires_at="2026-01-01")
    b = mem.add("old gate code 7788", user="u", expires_at="2026-01-01")
    c = mem.add("old alarm code 3141", user="u", expires_at="2026-01-01")
    assert mem.update(a.id, user="u", pinned=True).pinned
    assert mem.get(a.id, user="u").text == a.text
    assert mem.update(b.id, user="u", clear_expiry=True).expires_at is None
    assert mem.get(b.id, user="u").text == b.text
    assert mem.forget(c.id, user="u").count == 1
    with pytest.raises(NotFound) as err:
        mem.get(c.id, user="u")
    assert err.value.expired is None  # erased: no longer there at all
