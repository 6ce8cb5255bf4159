"""Bringing rows' full text up to this version (``MemoryStore.reindex``): a row an older ltm
process wrote after the migrations ran keeps the full text that version gave it."""

from __future__ import annotations

from typing import Any

from .connection import Connection


class Reindex(Connection):
    """``reindex_text`` (a part of ``SqliteBackend``)."""

    def reindex_text(self, user: str | None, after: Any, limit: int
                     ) -> tuple[int, int, Any] | None:
        """Write ``fts_text`` afresh (``segment.fts_words``, as ``insert`` writes it) in the
        next ``limit`` rows past ``after`` (the last row of the batch before; ``None`` at
        first) (of ``user``, or of all), where it differs: one transaction, the full-text
        index and the user's version moved by the triggers, as an update of the text moves
        them; the users' scope snapshots are written again. (rows read, rows rewritten, the
        last row) or ``None`` past the last row."""
        after = 0 if after is None else int(after)
        where, params = ("n > ?", [after]) if user is None else ("n > ? AND user = ?",
                                                                  [after, user])
        with self.atomic() as c:
            last = c.execute(f"SELECT count(*), max(n) FROM (SELECT n FROM memories WHERE "
                             f"{where} ORDER BY n LIMIT ?)", [*params, limit]).fetchone()
            if not last[0]:
                return None
            bound: list[Any] = [*params, last[1]]
            users = [u for (u,) in c.execute(
                f"UPDATE memories SET fts_text = ltm_fts_words(text) WHERE {where} AND n <= ? "
                f"AND fts_text IS NOT ltm_fts_words(text) RETURNING user", bound)]
            # a user's scope snapshot holds the count of their rows' tokens (which no trigger
            # on fts_text drops): written again from the rows
            for u in sorted(set(users)):
                c.execute("DELETE FROM scope_snap WHERE user = ?", (u,))
            self._snap_pending.update(users)
        return int(last[0]), len(users), int(last[1])
