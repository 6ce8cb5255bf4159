"""An erased memory's vector leaves the HNSW graph file of a large scope too (issue 14:
forget removes vectors and index entries; F6's raw-bytes checks read the ``.npy`` matrices
only). usearch keeps a removed node's vector (half precision) in the file it saves; the graph
of a scope served by HNSW held every forgotten vector of that scope after forget and close."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ltm
from ltm.backends.base import Filters


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and needle in p.read_bytes()]


def _top(mem: ltm.MemoryStore, text: str) -> tuple[str, float]:
    vec = mem.embedder.embed([text])[0]
    return mem.backend.dense_search(vec, Filters(user="u", now=0), 1)[0]


def test_forgotten_vector_is_in_no_file_of_an_hnsw_scope(tmp_path: Path) -> None:
    path = tmp_path / "s"
    texts = [f"note {i} about zqx{i} topic{i % 7}" for i in range(100)]
    with ltm.open(path, embedder="hash", hnsw_min_scope=30) as mem:
        rows = mem.add_many([{"text": t, "user": "u"} for t in texts])
        mem.add("a repeated line", user="u")
        twin = mem.add("a repeated line", user="u")  # the same vector as the one before
        mem.search("topic3 note", user="u")
        assert mem.stats()["hnsw_scopes"] == 1
    with ltm.open(path, embedder="hash", hnsw_min_scope=30) as mem:  # the graph mapped
        mem.search("topic3 note", user="u")
        gone = [rows[17], rows[42]]
        vecs = mem.embedder.embed([m.text for m in gone])
        for m in gone:
            mem.forget(m.id, user="u")
        mem.forget(twin.id, user="u")
    with ltm.open(path, embedder="hash", hnsw_min_scope=30, erase="fast") as mem:
        mem.search("topic3 note", user="u")
        mem.forget(rows[60].id, user="u")  # no compaction: saved on close
        vecs = np.concatenate([vecs, mem.embedder.embed([rows[60].text])])
    for vec in vecs:
        for width in (np.float16, np.float32):
            assert _files_holding(path, vec.astype(width).tobytes()) == []
    with ltm.open(path, embedder="hash", hnsw_min_scope=30) as mem:
        for m in rows[:10] + rows[90:]:
            got, score = _top(mem, m.text)
            assert got == m.id and score > 0.99
        got, score = _top(mem, "a repeated line")  # the twin that stays is still found
        assert score > 0.99 and got != twin.id
