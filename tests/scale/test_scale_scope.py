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
from ltm.bench.corpus import Corpus


class _General:
    """The same backend without ``scope_view``: search takes the general (SQL) path."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "scope_view":
            raise AttributeError(name)
        return getattr(self._inner, name)


def _items(n: int, users: int) -> list[dict[str, Any]]:
    return [{"text": i.text, "user": i.user, "session": i.session, "time": i.time}
            for i in Corpus(n, users, 3).items()]


def test_scope_path_ranks_like_the_general_path(
        open_store: Callable[..., ltm.MemoryStore]) -> None:
    store = open_store(embedder="hash")
    items = _items(900, 3)
    for j, it in enumerate(items):  # the signals the fast path reads from its arrays
        if j % 11 == 0:
            it["importance"] = (j % 7) / 6
        if j % 17 == 0:
            it["session"] = None
        if j % 23 == 0:
            it["expires_at"] = "2000-01-01T00:00:00Z"  # already expired: never returned
    store.add_many(items)
    old = store.add("my favourite food is ramen", user="user-00000", kind="fact")
    store.add("my favourite food is now pho", user="user-00000", kind="fact",
              supersedes=old.id)
    queries = [q for _, q in Corpus(900, 3, 3).queries(40, seed=5)]
    queries += ["favourite food", "what happened last week", "plans for May", "ramen"]
    real = store.backend
    assert hasattr(real, "scope_view")
    compared = 0
    for i, q in enumerate(queries):
        user = f"user-{i % 3:05d}"
        fast = store.search(q, user=user, k=10, now="2023-06-01T00:00:00Z")
        store.backend = _General(real)  # type: ignore[assignment]
        try:
            general = store.search(q, user=user, k=10, now="2023-06-01T00:00:00Z")
        finally:
            store.backend = real
        assert [h.memory.id for h in fast] == [h.memory.id for h in general], q
        for a, b in zip(fast, general):
            assert a.signals.keys() == b.signals.keys()
            assert np.allclose(list(a.signals.values()), list(b.signals.values()), atol=1e-6)
        assert all(h.memory.expires_at is None for h in fast)
        compared += len(fast)
    assert compared > 300
    top = store.search("favourite food", user="user-00000", k=2)
    assert top[0].memory.text == "my favourite food is now pho"


def test_writer_leaves_current_mapped_index(store_path: Path) -> None:
    code = ("import sys, ltm\n"
            "from ltm.bench.corpus import Corpus\n"
            "with ltm.open(sys.argv[1], embedder='hash') as m:\n"
            "    m.add_many([{'text': i.text, 'user': i.user, 'session': i.session}\n"
            "                for i in Corpus(600, 4, 1).items()])\n")
    subprocess.run([sys.executable, "-c", code, str(store_path)], check=True, timeout=120)
    meta = store_path / "index" / "meta.json"
    assert meta.exists()  # saved by a process that never searched
    with ltm.open(store_path, embedder="hash") as m:
        backend: Any = m.backend
        idx = backend._vector_index()
        assert isinstance(idx.base, np.memmap) and idx.nb == 600  # mapped, not rebuilt
        assert idx.epoch == backend._log_head()
        owner = np.load(store_path / "index" / "owner.npy")
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
