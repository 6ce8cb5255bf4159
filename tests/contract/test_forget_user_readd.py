"""A user forgotten whole and written again is searched afresh by a process that had the
user's scope cached (PostgreSQL keys its cached scope views on user_stats.version, whose row
now goes with the user: a new row must not repeat a version of the old one)."""

from __future__ import annotations

from collections.abc import Callable

import ltm


def test_forgotten_user_written_again_is_read_afresh(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    reader = copen(embedder="hash")
    writer = copen(embedder="hash")
    writer.add_many([{"text": f"old note {i} about tea", "user": "u"} for i in range(3)])
    assert len(reader.search("tea", user="u", k=10)) == 3  # the reader caches the scope
    writer.forget(user="u")
    new = writer.add_many([{"text": f"new note {i} about tea", "user": "u"} for i in range(3)])
    got = reader.search("tea", user="u", k=10)
    assert sorted(h.memory.id for h in got) == sorted(m.id for m in new)
    assert all(h.memory.text.startswith("new") for h in got)
    writer.forget(user="u")
    assert reader.search("tea", user="u", k=10) == []
