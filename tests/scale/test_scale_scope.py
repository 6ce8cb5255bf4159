"""The user-scope fast path ranks exactly like the general path, and the vector index files are
left current by a process that only wrote, memory-mapped on open, and rewritten without
erased rows."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import ltm


def test_scope_path_ranks_like_the_general_path(
        open_store: Callable[..., ltm.MemoryStore]) -> None:
    from scope_paths import assert_fast_path_ranks_like_general, fill

    store = open_store(embedder="hash")
    fill(store)
    assert_fast_path_ranks_like_general(store)


def test_writer_leaves_current_mapped_index(store_path: Path) -> None:
    code = ("import sys, ltm\n"
            "from ltm.bench.corpus import Corpus\n"
            "with ltm.open(sys.argv[1], embedder='hash') as m:\n"
            "    m.add_many([{'text': i.text, 'user': i.user, 'session': i.session}\n"
            "                for i in Corpus(600, 4, 1).items()])\n")
    subprocess.run([sys.executable, "-c", code, str(store_path)], check=True, timeout=120)
    # saved by a process that never searched
    (gen,) = (store_path / "index").glob("gen-*")
    with ltm.open(store_path, embedder="hash") as m:
        backend: Any = m.backend
        idx = backend._vector_index()
        assert isinstance(idx.base, np.memmap) and idx.nb == 600  # mapped, not rebuilt
        assert idx.epoch == backend._log_head()
        owner = np.load(gen / "owner.npy")
        assert np.all(owner[1:] >= owner[:-1])  # one contiguous block per user
        user = "user-00002"
        rowids, vecs = idx.user_rows(user)
        assert len(rowids) == 150
        victim = m.search("dinner", user=user, k=1)[0].memory
        vec_before = idx.vectors_of(rowids[:1])
        assert np.array_equal(vec_before[0], vecs[0])
        m.forget(victim.id, user=user)
        # the full-text index's own row count (BM25's N) follows deletions
        assert backend._fts_averages()[0] == 599 == backend._total_count()
        assert victim.id not in {h.memory.id for h in m.search("dinner", user=user, k=50)}
    with ltm.open(store_path, embedder="hash") as m:
        idx = m.backend._vector_index()  # type: ignore[attr-defined]
        assert idx.nb == 599 and idx.count(user) == 149  # the erased row left the files
        for u in ("user-00000", "user-00001", "user-00003"):
            assert idx.count(u) == 150
