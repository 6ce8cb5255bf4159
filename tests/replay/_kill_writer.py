"""Child process for the kill -9 test: writes to a buffer folder forever.

Before each checkpoint it appends ``<generation> <digest>`` to a log (fsynced),
so the parent knows what every checkpoint must reopen to.
Usage: python _kill_writer.py FOLDER LOG KIND SEED
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from ltm.replay import KINDS, open_buffer

folder, log_path, kind, seed = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
schema = {"obs": ((16,), "float32"), "action": ((), "int64"), "tag": object}
if (folder / "manifest.json").exists():
    buf = open_buffer(folder)
else:
    cls = KINDS[kind]
    buf = cls(3000, schema, path=folder, seed=seed)
rng = np.random.default_rng(seed)
log = open(log_path, "a")  # noqa: SIM115 - open until the process is killed


def record() -> None:
    log.write(f"{buf._storage.generation + 1} {buf.digest()}\n")
    log.flush()
    os.fsync(log.fileno())


record_initial = f"{buf._storage.generation} {buf.digest()}\n"
log.write(record_initial)
log.flush()
os.fsync(log.fileno())
step = 0
while True:
    n = int(rng.integers(1, 200))
    start = buf.added
    buf.extend(
        {
            "obs": rng.random((n, 16), dtype=np.float32),
            "action": np.arange(start, start + n),
            "tag": [f"item-{i}" for i in range(start, start + n)],
        }
    )
    b = buf.sample(32)
    if kind == "prioritized":
        buf.update_priorities(b.indices, rng.random(32) * 5, b.stamps)
    step += 1
    if step % 7 == 0:
        record()
        buf.checkpoint()
