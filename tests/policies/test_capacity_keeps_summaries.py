"""Capacity eviction makes room without erasing what stands for the evicted memories: after
consolidation archives a session's turns, a full scope evicts those originals first and the
summary stays (it used to be cascaded away with its last source, so gc erased a summary in the
same run that made it). Expiry still cascades. Both backends."""

from __future__ import annotations

from collections.abc import Callable

from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

SPEC = ('{"episode": {"capacity": 4, "consolidate_after_days": 10, '
        '"consolidate_min_turns": 4, "originals": "archive"}}')


def test_a_full_scope_evicts_archived_originals_and_keeps_their_summary(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash", retention=SPEC)
    old = mem.add_conversation([{"speaker": "ana", "content": f"Kyoto plan step {i}"}
                                for i in range(6)], user="ana", session="s1",
                               time="2024-01-10T10:00")
    new = mem.add_many([{"text": f"fresh note {i}", "user": "ana", "session": "s2",
                         "time": "2024-03-01T10:00"} for i in range(3)])
    report = mem.gc(now="2024-03-02")
    (summary_id, session), = report.consolidated.items()
    assert session == "s1"
    assert len(report.evicted) == 5 and set(report.evicted) <= {m.id for m in old}
    assert not report.cascaded
    summary = mem.get(summary_id, user="ana")
    assert summary.kind == "summary" and set(summary.sources) == {m.id for m in old}
    assert all(mem.get(m.id, user="ana") for m in new)  # current memories were not touched
    dry = mem.gc(now="2024-03-02", dry_run=True)
    assert not dry.evicted and not dry.cascaded
