"""The fault harness's look at the disk (``ltm.bench.faults``): which vectors an erased memory
had, which vectors live memories hold, and which rows of the vector index's files still hold an
erased one. Standard library at module level, like the harness."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

# names of temporary files (a save cut short); the harness counts them as orphans
TEMP_MARKS = (".tmp", "tmp.", ".partial", ".old", ".bak", "-journal")


def vectors_of(embedder: Any, texts: list[str]) -> set[bytes]:
    """The vectors of ``texts`` as stored (float32 bytes)."""
    import numpy as np

    from ltm.engine import embed_text

    out: set[bytes] = set()
    for start in range(0, len(texts), 5_000):
        vecs = np.asarray(embedder.embed([embed_text(t, {}) for t in texts[start:start + 5_000]]),
                          dtype=np.float32)
        out.update(vec.tobytes() for vec in vecs)
    return out


def live_vectors(path: Path) -> set[bytes]:
    """The vectors of the memories the database holds: an erased memory's vector may also be
    a live one's (the embedder averages tokens, so texts of the same words in another order,
    such as 'q1a2z' and 'q2a1z', get the same vector), which is then rightly on disk."""
    db = sqlite3.connect(f"file:{path / 'memories.db'}?mode=ro", uri=True)
    try:
        return {bytes(e) for (e,) in db.execute("SELECT embedding FROM memories")
                if e is not None}
    except sqlite3.Error:
        return set()
    finally:
        db.close()


def erased_on_disk(path: Path, needles: set[bytes]) -> list[str]:
    """Which rows of the index's vector files (every ``.npy`` matrix under ``index/``,
    temporary files aside: counted as orphans) are vectors in ``needles``."""
    import numpy as np

    if not needles or not (path / "index").is_dir():
        return []
    dim = len(next(iter(needles))) // 4
    found = []
    for file in sorted((path / "index").rglob("*.npy")):
        if any(mark in file.name for mark in TEMP_MARKS):
            continue
        try:
            mat = np.load(file, mmap_mode="r")
        except (OSError, ValueError, EOFError):  # (EOFError: an empty file, a save cut short)
            continue  # not a matrix (or being replaced): the index check covers what is served
        if mat.ndim != 2 or mat.shape[1] != dim or mat.dtype != np.float32:
            continue
        for start in range(0, len(mat), 65_536):
            block = np.ascontiguousarray(mat[start:start + 65_536])
            found += [f"{file.relative_to(path)} row {start + i}"
                      for i, row in enumerate(block) if row.tobytes() in needles]
    return found
