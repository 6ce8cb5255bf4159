"""Forgetting a summary gives back the originals it archived (``originals: "archive"``): they
were ranked ``archived_penalty`` lower only because the summary stood for them. Originals
that another summary still names stay archived. Both backends."""

from __future__ import annotations

from collections.abc import Callable

from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

ARCHIVE = '{"episode": {"originals": "archive"}}'


def _session(mem: ltm.MemoryStore, session: str, topic: str) -> list[ltm.Memory]:
    return mem.add_conversation(
        [{"speaker": "ana", "content": f"We booked the {topic} trip for April"},
         {"speaker": "bo", "content": f"How long will you stay on the {topic} trip?"},
         {"speaker": "ana", "content": f"Two weeks, the {topic} trip is long"}],
        user="ana", session=session, time="2024-01-10T10:00")


def test_forgetting_a_summary_unarchives_what_it_stood_for(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash", retention=ARCHIVE)
    kyoto = _session(mem, "s1", "Kyoto")
    lima = _session(mem, "s2", "Lima")
    s1 = mem.consolidate("s1", user="ana")
    s2 = mem.consolidate("s2", user="ana")
    assert s1 is not None and s2 is not None
    assert all(mem.get(m.id, user="ana").metadata.get("ltm_archived") for m in kyoto + lima)
    receipt = mem.forget(s1.id, user="ana")
    assert receipt.ids == [s1.id]
    for m in kyoto:
        back = mem.get(m.id, user="ana")
        assert "ltm_archived" not in back.metadata
        assert mem.history(m.id, user="ana")[-1].event == "unarchived"
    assert all(mem.get(m.id, user="ana").metadata.get("ltm_archived") for m in lima)
    hits = mem.search("Kyoto trip", user="ana", k=10)
    assert hits and all("archived" not in h.signals for h in hits
                        if h.memory.id in {m.id for m in kyoto})
    lima_hits = [h for h in mem.search("Lima trip", user="ana", k=10)
                 if h.memory.id in {m.id for m in lima}]
    assert lima_hits and all(h.signals["archived"] < 0 for h in lima_hits)
