"""Long memories' passage vectors in PostgreSQL (``ltm.backends.chunks``): stored by the
writes in their transaction (``_put_chunks``), deleted with their memory by the foreign key's
cascade (migration 0014), and read per user into one matrix, cached in this process until the
user's ``user_stats.version`` moves (``chunk_set``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..chunks import Chunker, ChunkSet, prepared
from .connection import Connection

if TYPE_CHECKING:
    import psycopg

_CACHED_USERS = 256  # users whose passages this process holds at most


class Chunks(Connection):
    """Passage vectors of long memories (a part of ``PostgresBackend``)."""

    # set by the engine (``ltm.retrieval.chunks.Chunker``); None: no passage is stored
    chunker: Chunker | None = None

    def _put_chunks(self, conn: psycopg.Connection[Any],
                    got: Sequence[tuple[str, str, float, float, bytes]],
                    replace: bool = False) -> None:
        """Store prepared passages ((user, memory id, bg, bg_sd, blob): ``chunks.prepared``)
        in the caller's transaction (``replace``: over those the memory has)."""
        if not got:
            return
        conflict = "ON CONFLICT (user_id, id) DO UPDATE SET bg = excluded.bg, " \
            "bg_sd = excluded.bg_sd, data = excluded.data" if replace else ""
        with conn.cursor() as cur:
            # (for the memories that exist)
            cur.executemany(f"INSERT INTO {self._s}.chunk_vectors (user_id, id, bg, bg_sd, data) "
                            f"SELECT m.user_id, m.id, %s, %s, %s FROM {self._m} m "
                            f"WHERE m.user_id = %s AND m.id = %s {conflict}",
                            [(g[2], g[3], g[4], g[0], g[1]) for g in got], returning=False)

    def _drop_chunks(self, conn: psycopg.Connection[Any], user: str, memory_id: str) -> None:
        conn.execute(f"DELETE FROM {self._s}.chunk_vectors WHERE user_id = %s AND id = %s",
                     [user, memory_id])

    def chunk_set(self, user: str) -> ChunkSet | None:
        """The user's long memories' passages (None: none), cached until the user's memories
        change (any process's write moves the version)."""
        if self.dim is None:
            return None
        with self._conn() as conn:
            row = conn.execute(f"SELECT version FROM {self._st} WHERE user_id = %s",
                               [user]).fetchone()
            if row is None:
                return None
            version = int(row[0])
            with self._chunk_lock:
                hit = self._chunk_cache.get(user)
            if hit is not None and hit[0] == version:
                return hit[1]
            rows = conn.execute(f"SELECT m.n, c.id, c.bg, c.bg_sd, c.data FROM "
                                f"{self._s}.chunk_vectors c JOIN {self._m} m ON "
                                f"m.user_id = c.user_id AND m.id = c.id "
                                f"WHERE c.user_id = %s", [user]).fetchall()
        got = ChunkSet.from_rows([(int(n), i, float(b), float(sd), bytes(d))
                                  for n, i, b, sd, d in rows], self.dim)
        with self._chunk_lock:
            if len(self._chunk_cache) >= _CACHED_USERS:
                self._chunk_cache.clear()
            self._chunk_cache[user] = (version, got)
        return got

    def store_chunks(self, items: Sequence[tuple[str, str, str]]) -> int:
        """(``ChunkReader.store_chunks``) The users' versions move with them: every
        process's caches of those users read afresh."""
        got = prepared(self.chunker, items)
        if not got:
            return 0
        users = sorted({g[0] for g in got})

        def work(conn: psycopg.Connection[Any]) -> int:
            self._lock_users(conn, users)
            n = 0
            for g in got:
                cur = conn.execute(
                    f"INSERT INTO {self._s}.chunk_vectors (user_id, id, bg, bg_sd, data) "
                    f"SELECT m.user_id, m.id, %s, %s, %s FROM {self._m} m WHERE m.user_id = %s "
                    f"AND m.id = %s ON CONFLICT (user_id, id) DO UPDATE SET bg = excluded.bg, "
                    f"bg_sd = excluded.bg_sd, data = excluded.data",
                    [g[2], g[3], g[4], g[0], g[1]])
                n += max(cur.rowcount, 0)
            conn.execute(f"UPDATE {self._st} SET version = version + 1 "
                         f"WHERE user_id = ANY(%s::text[])", [users])
            return n

        return self._retry(work)
