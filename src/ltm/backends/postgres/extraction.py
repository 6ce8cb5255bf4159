"""The state of fact extraction (``ltm.policies.extract``): each user's cursor in the episode
stream (``memories.n``) and the LLM tokens spent today."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ...timeutil import now_us
from .connection import Connection

if TYPE_CHECKING:
    import psycopg


class ExtractionState(Connection):
    """Per-user extraction cursors, under an advisory lock per user."""

    def extraction_state(self, user: str, *, lock: bool = False) -> tuple[int, int, int]:
        """(cursor, tokens, day) of ``user``'s extraction. ``lock`` (inside ``atomic()``):
        take the user's extraction lock until the transaction ends, so that two workers do
        not both apply the same batch."""
        with self._conn() as conn:
            if lock:
                self._lock_key(conn, f"ltm-extract:{self.schema}:{user}")
            row = conn.execute(f"SELECT cursor, tokens, day FROM {self._s}.extraction_state "
                               f"WHERE user_id = %s", [user]).fetchone()
        return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)

    def save_extraction_state(self, user: str, cursor: int, tokens: int, day: int) -> None:
        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute(f"INSERT INTO {self._s}.extraction_state (user_id, cursor, tokens, day, "
                         f"updated_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (user_id) DO "
                         f"UPDATE SET cursor = excluded.cursor, tokens = excluded.tokens, "
                         f"day = excluded.day, updated_at = excluded.updated_at",
                         [user, cursor, tokens, day, now_us()])

        self._retry(work)

    def extraction_pending(self, user: str | None = None) -> dict[str, int]:
        """Episodes past each user's extraction cursor."""
        sql = (f"SELECT m.user_id, count(*) FROM {self._m} m LEFT JOIN "
               f"{self._s}.extraction_state e ON e.user_id = m.user_id "
               f"WHERE m.kind = 'episode' AND m.n > coalesce(e.cursor, 0)")
        params: list[Any] = []
        if user is not None:
            sql += " AND m.user_id = %s"
            params.append(user)
        with self._conn() as conn:
            return {str(u): int(c) for u, c in conn.execute(sql + " GROUP BY m.user_id",
                                                             params)}

    def episodes_after(self, user: str, cursor: int, limit: int) -> list[tuple[int, str]]:
        """(n, id) of ``user``'s next ``limit`` episodes after ``cursor``, below a horizon
        that no uncommitted row can fall under. ``n`` is drawn when a row is inserted, not
        when it commits: a writer still open when the extractor reads may commit a lower
        ``n`` than rows already visible, and a cursor moved past it would skip that row.
        So the horizon is the identity's value read under a SHARE lock on the table, which
        waits for the writers in progress (and holds new ones back only for that read)."""
        with self._tx() as conn:
            seq = conn.execute("SELECT pg_get_serial_sequence(%s, 'n')", [self._m]).fetchone()
            assert seq is not None and seq[0], "memories.n is an identity column"
            conn.execute(cast(Any, f"LOCK TABLE {self._m} IN SHARE MODE"))
            # the sequence's name as PostgreSQL quotes it
            horizon = conn.execute(cast(Any, f"SELECT CASE WHEN is_called THEN last_value "
                                             f"ELSE 0 END FROM {seq[0]}")).fetchone()
        top = int(horizon[0]) if horizon else 0
        rows = self._read(f"SELECT n, id FROM {self._m} WHERE user_id = %s AND kind = 'episode' "
                          f"AND n > %s AND n <= %s ORDER BY n LIMIT %s",
                          [user, cursor, top, limit])
        return [(int(n), str(i)) for n, i in rows]

    def prune_extraction_state(self) -> None:
        """Forget the extraction state of users who have no memories left."""
        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute(f"DELETE FROM {self._s}.extraction_state e WHERE NOT EXISTS "
                         f"(SELECT 1 FROM {self._m} m WHERE m.user_id = e.user_id)")

        self._retry(work)
