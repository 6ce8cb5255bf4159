"""A read-modify-write of a meta row by several processes loses nothing when made under
``Backend.lock_meta`` inside ``atomic()`` (both backends). Without it the relevance judgments
(``ltm.retrieval.feedback``: one meta row per user, read, appended to, written back) lost
updates, and a process that read the row before another erased a memory's judgments wrote
them back: 30 of 30 judgments of forgotten memories were in the store again after a concurrent
``feedback()`` loop in another process (now: the judgments are read and written under the lock)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from store_locations import Location

import ltm
from ltm.retrieval.feedback import load_feedback

INCREMENT = r"""
import json, sys
import ltm
mem = ltm.open(sys.argv[1], embedder="hash")
backend = mem.backend
for _ in range(int(sys.argv[2])):
    with backend.atomic():
        backend.lock_meta("qa14-counter")
        n = int(backend.get_meta("qa14-counter") or 0)
        backend.set_meta("qa14-counter", str(n + 1))
mem.close()
"""


def _spawn(code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_lock_meta_serialises_read_modify_write(location: Location,
                                                copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    procs = [_spawn(INCREMENT, location, 150) for _ in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert mem.backend.get_meta("qa14-counter") == "450"


def test_lock_meta_outside_a_transaction_is_refused(copen: Callable[..., ltm.MemoryStore]
                                                    ) -> None:
    mem = copen(embedder="hash")
    with pytest.raises(ltm.errors.StoreError):
        mem.backend.lock_meta("qa14-counter")


FEEDBACK = r"""
import sys
import ltm
mem = ltm.open(sys.argv[1], embedder="hash")
for i in range(int(sys.argv[3])):
    mem.feedback(f"loop {i}", sys.argv[2], True, user="u")
mem.close()
"""


def test_concurrent_feedback_neither_loses_nor_resurrects(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with ltm.open(path, embedder="hash", erase="fast") as mem:
        ids = [m.id for m in mem.add_many([{"text": f"n {i}", "user": "u"}
                                           for i in range(31)])]
        for i in range(30):
            mem.feedback(f"secret query {i}", ids[i], True, user="u")
        loops = [_spawn(FEEDBACK, path, ids[30], 300) for _ in range(2)]
        deadline = time.monotonic() + 120
        while sum(j["id"] == ids[30] for j in load_feedback(mem.backend, "u")) < 20 \
                and time.monotonic() < deadline:
            time.sleep(0.05)  # the loops are writing: forget while they do
        for i in range(30):
            mem.forget(ids[i], user="u")
        for p in loops:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        judged = [j["id"] for j in load_feedback(mem.backend, "u")]
    assert [i for i in judged if i in ids[:30]] == []  # none of the forgotten ones back
    assert judged.count(ids[30]) == 600  # and none of the 600 acknowledged lost


def test_delete_meta(copen: Callable[..., ltm.MemoryStore]) -> None:
    """What an erasure of a meta row (a user's judgments, which name the user in their key)
    needs: the row gone, not emptied."""
    mem = copen(embedder="hash")
    mem.backend.set_meta("qa14-key", "value")
    mem.backend.delete_meta("qa14-key")
    mem.backend.delete_meta("qa14-never-set")
    assert mem.backend.get_meta("qa14-key") is None
    with mem.backend.atomic():
        mem.backend.set_meta("qa14-key", "again")
        mem.backend.delete_meta("qa14-key")
    assert mem.backend.get_meta("qa14-key") is None
