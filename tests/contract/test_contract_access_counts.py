"""Access counts are per user: a user's searches count retrievals of that user's memories only,
also where two users hold the same explicit id (PostgreSQL keys ids per user)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import ltm
from ltm.ids import new_id


def test_searches_count_only_the_searching_users_memories(
        copen: Callable[..., ltm.MemoryStore], backend_kind: str) -> None:
    a = copen(embedder="hash")
    shared = new_id()
    a.add_many([{"text": "the violet lighthouse keeps its lamp lit", "user": "alice",
                 "id": shared}])
    if backend_kind == "sqlite":  # ids are store-wide there: bob gets another id
        with pytest.raises(ltm.InvalidInput):
            a.add_many([{"text": "the violet lighthouse keeps its lamp lit", "user": "bob",
                         "id": shared}])
        bob_id = a.add("the violet lighthouse keeps its lamp lit", user="bob").id
    else:
        bob_id = a.add_many([{"text": "the violet lighthouse keeps its lamp lit",
                              "user": "bob", "id": shared}])[0].id
    for _ in range(3):
        assert [h.memory.id for h in a.search("violet lighthouse", user="alice", k=5)] \
            == [shared]
    a.close()  # pending counts are written on close
    b = copen(embedder="hash")
    assert b.get(shared, user="alice").access_count >= 1
    bob = b.get(bob_id, user="bob")
    assert bob.access_count == 0 and bob.last_accessed is None
