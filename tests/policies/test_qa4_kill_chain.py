"""QA of issue 4: a supersession chain written by a process killed (SIGKILL) at a random moment
is whole after a reopen: every acknowledged link is there, each fact has at most one
predecessor, no link names a missing memory, and exactly one fact of the chain is current."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ltm

WRITER = r"""
import sys, ltm
store = ltm.open(sys.argv[1], embedder="hash")
head = store.list("u", kinds=["fact"]).memories[0].id
for n in range(100000):
    head = store.add(f"Ana's desk is number {n}", user="u", kind="fact", supersedes=head,
                     valid_from=f"{2000 + n // 365:04d}-01-01").id
    print(head, flush=True)  # acknowledged: the add returned
"""


@pytest.mark.parametrize("after", [0.6, 1.1])
def test_a_chain_is_whole_after_a_kill(tmp_path: Path, after: float) -> None:
    path = tmp_path / "s"
    with ltm.open(path, embedder="hash") as store:
        first = store.add("Ana's desk is number -1", user="u", kind="fact",
                          valid_from="1999-01-01")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    acked = []
    deadline = time.monotonic() + 60
    while len(acked) < 5 and time.monotonic() < deadline:  # it has started writing
        acked.append(proc.stdout.readline().strip())
    time.sleep(after)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    acked += [line for line in out.split("\n") if line]
    assert len(acked) >= 5
    with ltm.open(path, embedder="hash") as store:
        facts = {m.id: m for m in store.list("u", kinds=["fact"], limit=1000).memories}
        page = store.list("u", kinds=["fact"], limit=1000)
        while page.next_cursor is not None:
            page = store.list("u", kinds=["fact"], limit=1000, cursor=page.next_cursor)
            facts.update((m.id, m) for m in page.memories)
        assert set(acked) <= set(facts) and first.id in facts
        links = [m.superseded_by for m in facts.values() if m.superseded_by is not None]
        assert all(s in facts for s in links) and len(links) == len(set(links))
        current = [m for m in facts.values() if m.superseded_by is None]
        assert len(current) == 1 and len(links) == len(facts) - 1
        # the newest acknowledged fact is current or was superseded by one written after it
        newest = current[0]
        assert newest.id == acked[-1] or facts[acked[-1]].superseded_by == newest.id
        hits = store.search("Ana's desk number", user="u", kinds=["fact"], k=3)
        assert hits[0].memory.id == newest.id
