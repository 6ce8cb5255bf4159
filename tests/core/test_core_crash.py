"""kill -9 in the middle of writes loses no acknowledged write and leaves a usable index;
concurrent writer processes lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import ltm

WRITER = """
import sys, ltm
m = ltm.open(sys.argv[1])
i = 0
while True:
    if i % 3 == 0:
        mems = m.add_many([{"text": f"batch note {i}-{j} about kayaks", "user": "u"}
                           for j in range(20)])
    else:
        mems = [m.add(f"single note {i} about kayaks", user="u", session="s")]
    for mem in mems:
        print(mem.id, flush=True)
    i += 1
"""


def test_kill_9_during_writes_loses_no_acknowledged_write(store_path: Path) -> None:
    with ltm.open(store_path) as m:  # a saved index exists, so the crash leaves it stale
        m.add("first", user="u")
        m.search("first", user="u")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(store_path)],
                            stdout=subprocess.PIPE, text=True)
    acked: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while len(acked) < 150 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            acked.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert len(acked) >= 150
    with ltm.open(store_path) as m:
        for mid in acked:
            assert m.get(mid, user="u").text.endswith("about kayaks")
        total = m.stats()["memories"]
        hits = m.search("kayaks", user="u", k=1000)
        assert len(hits) == total  # every stored memory is searchable: the index caught up
        assert {h.memory.id for h in hits} >= set(acked)


def test_concurrent_writer_processes_lose_nothing(store_path: Path) -> None:
    code = ("import sys, ltm\n"
            "m = ltm.open(sys.argv[1])\n"
            "for i in range(40):\n"
            "    m.add(f'writer {sys.argv[2]} note {i}', user='shared', session=sys.argv[2])\n"
            "m.close()\n")
    ltm.open(store_path).close()
    procs = [subprocess.Popen([sys.executable, "-c", code, str(store_path), str(w)])
             for w in range(3)]
    for p in procs:
        assert p.wait(timeout=180) == 0
    with ltm.open(store_path) as m:
        assert m.stats()["memories"] == 120
        for w in range(3):
            hits = m.search(f"writer {w} note", user="shared", k=200, session=str(w))
            assert len(hits) == 40
            assert sorted(h.memory.seq for h in hits) == list(range(40))
