"""Long memories' passage vectors in SQLite (``ltm.backends.chunks``): stored by the writes
(``_put_chunks``, in their transaction), deleted by the triggers of migration 0016, and read
per user into one matrix, cached until the user's mark moves (``chunk_set``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..chunks import Chunker, ChunkSet, prepared
from .connection import Connection

_CACHED_USERS = 256  # users whose passages this connection holds at most


class Chunks(Connection):
    """Passage vectors of long memories (a part of ``SqliteBackend``)."""

    # set by the engine (``ltm.retrieval.chunks.Chunker``); None: no passage is stored
    chunker: Chunker | None = None

    def _put_chunks(self, c: sqlite3.Connection,
                    got: Sequence[tuple[str, str, float, float, bytes]]) -> None:
        """Store prepared passages ((user, memory id, bg, bg_sd, blob): ``chunks.prepared``)
        in the caller's transaction, for the memories that exist (keyed by their row id)."""
        if got:
            c.executemany("INSERT OR REPLACE INTO chunk_vectors (n, user, id, bg, bg_sd, data) "
                          "SELECT n, user, id, ?, ?, ? FROM memories WHERE id = ? "
                          "AND user = ?", [(g[2], g[3], g[4], g[1], g[0]) for g in got])

    def chunk_set(self, user: str) -> ChunkSet | None:
        """The user's long memories' passages (None: none), cached until the user's rows
        change."""
        if self.dim is None:
            return None
        with self._lock:
            mark = self._user_mark(user)
            hit = self._chunk_cache.get(user)
            if hit is not None and hit[0] == mark:
                return hit[1]
            rows = self.conn.execute("SELECT n, id, bg, bg_sd, data FROM chunk_vectors "
                                     "WHERE user = ?",
                                     (user,)).fetchall()
            got = ChunkSet.from_rows(rows, self.dim)
            if len(self._chunk_cache) >= _CACHED_USERS:
                self._chunk_cache.clear()
            self._chunk_cache[user] = (mark, got)
            return got

    def store_chunks(self, items: Sequence[tuple[str, str, str]]) -> int:
        """(``ChunkReader.store_chunks``) The users' versions move with them, as a write of
        their rows moves them: every process's caches of those users read afresh."""
        got = prepared(self.chunker, items)
        if not got:
            return 0
        users = sorted({g[0] for g in got})
        with self.atomic() as c:
            before = c.total_changes
            self._put_chunks(c, got)
            stored = c.total_changes - before
            for start in range(0, len(users), 900):
                some = users[start:start + 900]
                marks = ",".join("?" * len(some))
                c.execute(f"DELETE FROM user_versions WHERE user IN ({marks})", some)
                c.executemany("INSERT INTO user_versions (user) SELECT ? WHERE EXISTS "
                              "(SELECT 1 FROM memories WHERE user = ?)",
                              [(u, u) for u in some])
        return stored
