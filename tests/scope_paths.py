"""Shared by the SQLite and PostgreSQL tests of the user-scope fast path: a store filled with
the signals the fast path reads from its arrays, and the hit-by-hit comparison of that path
with the general (SQL) one."""

from __future__ import annotations

from typing import Any

import numpy as np

import ltm
from ltm.bench.corpus import Corpus


class General:
    """The same backend without ``scope_view``: search takes the general (SQL) path."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "scope_view":
            raise AttributeError(name)
        return getattr(self._inner, name)


def fill(store: ltm.MemoryStore) -> None:
    """900 memories of three users with importance, sessionless turns, expired rows, and a
    superseded fact."""
    items: list[dict[str, Any]] = [
        {"text": i.text, "user": i.user, "session": i.session, "time": i.time}
        for i in Corpus(900, 3, 3).items()]
    for j, it in enumerate(items):  # the signals the fast path reads from its arrays
        if j % 11 == 0:
            it["importance"] = (j % 7) / 6
        if j % 17 == 0:
            it["session"] = None
        if j % 23 == 0:
            it["expires_at"] = "2000-01-01T00:00:00Z"  # already expired: never returned
    store.add_many(items)
    old = store.add("my favourite food is ramen", user="user-00000", kind="fact")
    store.add("my favourite food is now pho", user="user-00000", kind="fact",
              supersedes=old.id)


def assert_fast_path_ranks_like_general(store: ltm.MemoryStore) -> None:
    """44 queries: the fast path answers each, with the same hits and signals as the general
    path."""
    queries = [q for _, q in Corpus(900, 3, 3).queries(40, seed=5)]
    queries += ["favourite food", "what happened last week", "plans for May", "ramen"]
    real: Any = store.backend
    assert hasattr(real, "scope_view")
    used: list[int] = []
    scope_text = real.scope_text
    real.scope_text = lambda *a: used.append(1) or scope_text(*a)
    compared = 0
    try:
        for i, q in enumerate(queries):
            user = f"user-{i % 3:05d}"
            fast = store.search(q, user=user, k=10, now="2023-06-01T00:00:00Z")
            assert len(used) == i + 1  # the fast path answered
            store.backend = General(real)
            try:
                general = store.search(q, user=user, k=10, now="2023-06-01T00:00:00Z")
            finally:
                store.backend = real
            assert [h.memory.id for h in fast] == [h.memory.id for h in general], q
            for a, b in zip(fast, general):
                assert a.signals.keys() == b.signals.keys()
                assert np.allclose(list(a.signals.values()), list(b.signals.values()),
                                   atol=1e-6), q
            assert all(h.memory.expires_at is None for h in fast)
            compared += len(fast)
    finally:
        del real.scope_text
    assert compared > 300
    top = store.search("favourite food", user="user-00000", k=2)
    assert top[0].memory.text == "my favourite food is now pho"
