"""A speaker (or name, title, caption) holding NUL is stored on both backends, as other
metadata with NUL is: PostgreSQL refused the whole write ('Postgres cannot store this value:
invalid byte sequence for encoding "UTF8": 0x00 ... column fts_extra', a 422 over REST) because
those words are also kept as full text; SQLite stored it."""

from __future__ import annotations

from collections.abc import Callable

from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]  # fixtures


def test_a_speaker_with_nul_is_stored_and_searchable(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    turns = mem.add_conversation([{"content": "the zebra crossed", "role": "ann\x00marie"}],
                                 user="u", session="s")
    m = mem.add("a note about giraffes", user="u", metadata={"title": "x\x00y", "n": 1})
    assert mem.get(turns[0].id, user="u").metadata["speaker"] == "ann\x00marie"
    assert mem.get(m.id, user="u").metadata["title"] == "x\x00y"
    assert [h.memory.id for h in mem.search("marie", user="u", k=1)] == [turns[0].id]
