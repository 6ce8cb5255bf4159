"""Forgetting a memory forgets the relevance judgments about it (issue 15's ``feedback`` meets
the erasure promise: "erased for real"). A judgment keeps its query, which usually quotes what
was asked about: forgetting the memory by id, by session or by time left the judgment, so its
words stayed in the store's files. Only forgetting the whole user dropped judgments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.retrieval.feedback import load_feedback

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

SECRET = "Zanzibar-octopus-7731 is my recovery phrase"


def test_forgetting_memories_drops_their_judgments(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    secret = mem.add(SECRET, user="u", session="sx")
    kept = mem.add("I water the plants on Sundays", user="u", session="home")
    old = mem.add("my old bike was a red Peugeot", user="u", time="2020-01-01")
    mem.feedback("what is my Zanzibar recovery phrase", secret.id, True, user="u")
    mem.feedback("when do I water the plants", kept.id, True, user="u")
    mem.feedback("which bike did I have", old.id, False, user="u")
    mem.forget(secret.id, user="u")
    assert [j["id"] for j in load_feedback(mem.backend, "u")] == [kept.id, old.id]
    mem.forget(user="u", before="2021-01-01")
    assert [j["id"] for j in load_feedback(mem.backend, "u")] == [kept.id]
    mem.forget(user="u", session="home")
    assert load_feedback(mem.backend, "u") == []


def test_the_query_of_a_forgotten_memory_is_in_no_file(store_path: Path) -> None:
    with ltm.open(store_path) as mem:
        secret = mem.add(SECRET, user="u", session="sx")
        mem.add("an ordinary note about gardening", user="u")
        mem.feedback("what is my Zanzibar recovery phrase", secret.id, True, user="u")
        mem.forget(session="sx", user="u")
    raw = b"".join(p.read_bytes() for p in sorted(store_path.rglob("*")) if p.is_file())
    for needle in (b"Zanzibar", b"recovery phrase"):
        assert needle not in raw, needle


def test_memories_gc_expires_lose_their_judgments(
        open_store: Callable[..., ltm.MemoryStore]) -> None:
    """The same for what retention erases (``gc``: time to live, capacity)."""
    mem = open_store(retention='{"episode": {"ttl_days": 30}}')
    secret = mem.add(SECRET, user="u")
    kept = mem.add("a fact kept forever", user="u", kind="fact")
    mem.feedback("what is my Zanzibar recovery phrase", secret.id, True, user="u")
    mem.feedback("which fact is kept", kept.id, True, user="u")
    later = datetime.now(timezone.utc) + timedelta(days=400)
    assert mem.gc(now=later).expired == [secret.id]
    assert [j["id"] for j in load_feedback(mem.backend, "u")] == [kept.id]
