"""Scattered rows of the memory-mapped vector file are read with preadv (no fault-around of
the pages around each row), and equal what the mapping holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import ltm
from ltm.bench.corpus import Corpus


def test_scattered_reads_equal_the_mapping(open_store: Callable[..., ltm.MemoryStore]) -> None:
    store = open_store(embedder="hash")
    store.add_many([{"text": i.text, "user": i.user, "session": i.session}
                    for i in Corpus(900, 3, 2).items()])
    store.close()
    store = open_store(embedder="hash")
    backend: Any = store.backend
    idx = backend._vector_index()
    assert getattr(idx.base, "filename", None)  # mapped from its file
    rng = np.random.default_rng(1)
    pos = rng.choice(idx.nb, 200, replace=False)
    pos = np.concatenate([pos, pos[:5], np.arange(10, 40)])  # repeats and one long run
    got = idx._take_base(pos)
    assert idx._base_fd is not None  # read from the file, not through the mapping
    assert np.array_equal(got, np.asarray(idx.base[pos]))
    rowids = idx.rowids[pos[:50]]
    assert np.array_equal(idx.vectors_of(rowids), np.asarray(idx.base[pos[:50]]))
    added = store.add("a new row in the in-memory tail", user="user-00000")
    vecs = backend.vectors([added.id, store.search("dinner", user="user-00001")[0].memory.id],
                           "user-00000")
    assert added.id in vecs and np.isclose(np.linalg.norm(vecs[added.id]), 1.0, atol=1e-3)
