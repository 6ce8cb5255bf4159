"""An export without embeddings (the REST default, GET /v1/users/{user}/export) does not read
the vectors: the SQLite backend fetched every row's 1 KB embedding blob and dropped it, so the
export of 5,000 memories allocated 8 MB instead of 3."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import ltm

N = 5_000
DIM = 256  # the hashing embedder's: one vector is 1 KiB


class _Head(io.TextIOBase):
    """Keeps the first two lines written (the header and one memory), drops the rest."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        if self.text.count("\n") < 2:
            self.text += s
        return len(s)


def test_export_without_embeddings_reads_no_vectors(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        assert mem.embedder.dim == DIM
        mem.add_many([{"text": f"memory {i}", "user": "u"} for i in range(N)])
        out = _Head()
        tracemalloc.start()
        try:
            assert mem.export(out, user="u", embeddings=False) == N
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < N * DIM * 4, peak  # less than the vectors alone would take
        assert not any("embedding" in k for k in json.loads(out.text.splitlines()[1]))
        with_vectors = _Head()
        mem.export(with_vectors, user="u", embeddings=True)
        row = json.loads(with_vectors.text.splitlines()[1])
        assert any("embedding" in k for k in row), row.keys()
