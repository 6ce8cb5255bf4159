"""Metadata may hold a NUL character (the adapters keep agents' values whole, and SQLite and
PostgreSQL's json column store it). On PostgreSQL one such memory made every
metadata-filtered list or search of its user fail with a raw UntranslatableCharacter (the
filter read the column as jsonb, which cannot hold NUL), and updating its metadata failed the
same way (the history record is jsonb), as did a filter value holding NUL."""

from __future__ import annotations

from collections.abc import Callable

from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]


def test_a_nul_in_metadata_breaks_no_query(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    odd = mem.add("plain text about tea", user="alice", metadata={"note": "b\x00c", "tag": "x"})
    other = mem.add("other text about tea", user="alice", metadata={"tag": "x"})
    mem.add("text about coffee", user="alice", metadata={"tag": "y"})
    listed = {m.id for m in mem.list("alice", metadata={"tag": "x"}).memories}
    assert listed == {odd.id, other.id}
    assert {h.memory.id for h in mem.search("tea", user="alice", metadata={"tag": "x"})} \
        == {odd.id, other.id}
    assert [m.id for m in mem.list("alice", metadata={"missing": None}).memories] != []
    mem.update(odd.id, user="alice", metadata={"note": "d\x00e", "tag": "x"})
    assert mem.get(odd.id, user="alice").metadata["note"] == "d\x00e"
    assert [e.event for e in mem.history(odd.id, user="alice")] == ["created", "updated"]
    # a filter value holding NUL: an answer, no raw error (SQLite matches nothing with it)
    assert [m.id for m in mem.list("alice", metadata={"note": "d\x00e"}).memories] in \
        ([], [odd.id])
    mem.forget(odd.id, user="alice")
    assert [m.id for m in mem.list("alice", metadata={"tag": "x"}).memories] == [other.id]
