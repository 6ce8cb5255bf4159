"""Bringing rows' full text up to this version (``MemoryStore.reindex``): a row an older ltm
process wrote after the migrations ran keeps the full text and length that version gave it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..segment import fts_words
from .connection import Connection
from .schema import relength_users, token_lengths

if TYPE_CHECKING:
    import psycopg


class Reindex(Connection):
    """``reindex_text`` (a part of ``PostgresBackend``)."""

    def reindex_text(self, user: str | None, after: Any, limit: int
                     ) -> tuple[int, int, Any] | None:
        """Write ``fts_text`` and ``tokens`` afresh (``segment.fts_words``, ``token_lengths``:
        as ``insert`` writes them) in the next ``limit`` rows past ``after`` (the (user, id)
        the batch before ended at; ``None`` at first), of ``user`` or of all, where they
        differ: one transaction under the users' write locks, their BM25 lengths and versions
        moved as an update of the text moves them. (rows read, rows rewritten, the last
        (user, id)) or ``None`` past the last row."""
        key = ("", "") if after is None else (str(after[0]), str(after[1]))
        where = "(user_id, id) > (%s, %s)" + ("" if user is None else " AND user_id = %s")
        params = [*key] if user is None else [*key, user]
        with self._conn() as conn:
            rows = conn.execute(f"SELECT user_id, id, text, fts_extra, fts_text, tokens FROM "
                                f"{self._m} WHERE {where} ORDER BY user_id, id LIMIT %s",
                                [*params, limit]).fetchall()
        if not rows:
            return None
        words = [fts_words(r[2]) for r in rows]
        counts = token_lengths((w or r[2], r[3]) for w, r in zip(words, rows))
        changed = [(r, w, c) for r, w, c in zip(rows, words, counts) if (w, c) != (r[4], r[5])]
        if changed:
            users = sorted({r[0] for r, _, _ in changed})

            def work(conn: psycopg.Connection[Any]) -> int:
                self._lock_users(conn, users)
                # (the text unchanged since it was read: an update meanwhile wrote its own)
                done = conn.execute(
                    f"UPDATE {self._m} m SET fts_text = k.w, tokens = k.c FROM unnest("
                    f"%s::text[], %s::text[], %s::text[], %s::text[], %s::int[]) AS "
                    f"k(u, i, t, w, c) WHERE m.user_id = k.u AND m.id = k.i AND m.text = k.t "
                    f"AND (m.fts_text IS DISTINCT FROM k.w OR m.tokens IS DISTINCT FROM k.c)",
                    [[r[0] for r, _, _ in changed], [r[1] for r, _, _ in changed],
                     [r[2] for r, _, _ in changed], [w for _, w, _ in changed],
                     [c for _, _, c in changed]]).rowcount
                relength_users(conn, self._s, users)
                return int(done)

            rewritten = self._retry(work)
        else:
            rewritten = 0
        return len(rows), rewritten, (rows[-1][0], rows[-1][1])
