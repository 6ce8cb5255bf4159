"""Both backends (helper 67, thirteenth session): restoring a forgotten memory from an export
listed its ``deleted`` tombstone before the imported ``created`` (the tombstone was written
first), so its history read "deleted, created, updated" of a memory that exists. Now the
restore moves the tombstone after the imported events and records ``restored``: created,
updated, deleted, restored, in the order they happened."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import ltm


def _events(mem: ltm.MemoryStore, mid: str) -> list[str]:
    return [e.event for e in mem.history(mid, user="u")]


def test_a_restored_memory_reads_deleted_then_restored(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    m = mem.add("the spare key is under the blue pot", user="u")
    other = mem.add("the bike lock code is 2468", user="u")
    mem.update(m.id, user="u", importance=0.9)
    buf = io.StringIO()
    mem.export(buf, user="u")
    mem.forget(m.id, user="u")
    assert _events(mem, m.id) == ["deleted"]
    report = mem.import_(io.StringIO(buf.getvalue()))
    assert (report.imported, report.skipped) == (1, 1)
    assert _events(mem, m.id) == ["created", "updated", "deleted", "restored"]
    history = mem.history(m.id, user="u")
    assert [e.at for e in history] == sorted(e.at for e in history)
    assert mem.get(m.id, user="u").importance == 0.9
    assert _events(mem, other.id) == ["created"]  # never erased: nothing to restore
    # an export without history (as before it had one): created at its recorded time
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    for d in lines[1:]:
        d.pop("history", None)
    mem.forget(m.id, user="u")
    mem.import_(io.StringIO("\n".join(json.dumps(d) for d in lines)))
    assert _events(mem, m.id) == ["created", "deleted", "restored"]
    # exported again, the restored memory carries its own events (a tombstone stays behind)
    again = io.StringIO()
    mem.export(again, user="u")
    line = next(json.loads(x) for x in again.getvalue().splitlines()[1:]
                if json.loads(x)["id"] == m.id)
    assert [e["event"] for e in line["history"]] == ["created", "restored"]
