"""Fact extraction's state (``ltm.policies.extract``): per user, the last episode processed
and the LLM tokens spent today."""

from __future__ import annotations

from typing import Any

from ...timeutil import now_us
from .connection import Connection


class ExtractionState(Connection):
    """The ``extraction_state`` table (a part of ``SqliteBackend``)."""

    def extraction_state(self, user: str, *, lock: bool = False) -> tuple[int, int, int]:
        """(cursor, tokens, day) of ``user``'s extraction: the last episode ``n`` processed,
        LLM tokens spent on ``day``. ``lock``: inside ``atomic()``, which already holds
        SQLite's write lock, so there is nothing more to take."""
        with self._lock:
            row = self.conn.execute("SELECT cursor, tokens, day FROM extraction_state "
                                    "WHERE user = ?", (user,)).fetchone()
        return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)

    def save_extraction_state(self, user: str, cursor: int, tokens: int, day: int) -> None:
        with self.atomic() as c:
            c.execute("INSERT INTO extraction_state (user, cursor, tokens, day, updated_at) "
                      "VALUES (?, ?, ?, ?, ?) ON CONFLICT(user) DO UPDATE SET "
                      "cursor = excluded.cursor, tokens = excluded.tokens, day = excluded.day, "
                      "updated_at = excluded.updated_at", (user, cursor, tokens, day, now_us()))

    def extraction_pending(self, user: str | None = None) -> dict[str, int]:
        """Episodes past each user's extraction cursor."""
        sql = ("SELECT m.user, count(*) FROM memories m LEFT JOIN extraction_state s ON "
               "s.user = m.user WHERE m.kind = 'episode' AND m.n > coalesce(s.cursor, 0)")
        params: list[Any] = []
        if user is not None:
            sql += " AND m.user = ?"
            params.append(user)
        with self._lock:
            return dict(self.conn.execute(sql + " GROUP BY m.user", params).fetchall())

    def episodes_after(self, user: str, cursor: int, limit: int) -> list[tuple[int, str]]:
        """(n, id) of ``user``'s next ``limit`` episodes after ``cursor``, in the order they
        were stored (one writer at a time: ``n`` grows in commit order)."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT n, id FROM memories WHERE user = ? AND kind = 'episode' AND n > ? "
                "ORDER BY n LIMIT ?", (user, cursor, limit)).fetchall()
        return [(int(n), str(i)) for n, i in rows]

    def prune_extraction_state(self) -> None:
        """Forget the extraction state of users who have no memories left."""
        with self.atomic() as c:
            c.execute("DELETE FROM extraction_state WHERE user NOT IN "
                      "(SELECT DISTINCT user FROM memories)")
