"""Workarounds for engine behaviour the server depends on (each says when it can go)."""

from __future__ import annotations

from ..store import MemoryStore


def note_write(store: MemoryStore) -> None:
    """Tell the SQLite backend that this process wrote.

    Its count caches (store total, per-user scope size, used for BM25 IDF) are keyed by a write
    mark whose own-connection part (``_commits``) is never advanced, so after this process
    writes, the cached counts go stale: ranking uses wrong IDFs, and a search raises
    ``ValueError: math domain error`` once a term's document frequency exceeds the stale total.
    Advancing the counter after each write keeps them honest. Harmless (and removable) once the
    backend advances it itself.
    """
    backend = store.backend
    lock = getattr(backend, "_lock", None)
    if lock is not None and hasattr(backend, "_commits"):
        with lock:
            backend._commits += 1
