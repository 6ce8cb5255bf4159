"""Scope reads, what ``ltm.retrieval``'s per-user fast path and candidate assembly read of
one user's memories: the scope view (scoring columns as arrays, cached until the user's
``user_stats.version`` moves), dense scores over it, the light rows of candidates and their
sessions, and conversation neighbours."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import DimensionMismatch
from ...index.scope import ScopeView
from ..base import Filters
from ..common import SCOPE_EXPIRY
from .connection import Connection


class ScopeReads(Connection):
    """The user-scope fast path (ltm.retrieval.pipeline) and the candidates' light rows."""

    def scope_view(self, user: str) -> ScopeView | None:
        """The user's scoring columns as arrays, cached in this process until the user's
        ``version`` in ``user_stats`` moves (every insert, update and forget bumps it, in any
        process); None for a scope of ``hnsw_min_scope`` rows or more."""
        with self._conn() as conn:
            row = conn.execute(f"SELECT docs, lexemes, version FROM {self._st} "
                               f"WHERE user_id = %s", [user]).fetchone()
            if row is None:
                return ScopeView.from_rows(user, [])
            docs, lexemes, version = int(row[0]), int(row[1]), int(row[2])
            if docs >= self.hnsw_min_scope:
                return None
            with self._views_lock:
                hit = self._views.get(user)
            if hit is not None and hit[1] == version:
                return hit[0]
            rows = conn.execute(
                f"SELECT n, id, session, coalesce(seq, -1), seq IS NOT NULL, time, "
                f"coalesce(importance, 0.5), superseded_by IS NOT NULL, "
                f"{SCOPE_EXPIRY} FROM {self._m} WHERE user_id = %s "
                f"ORDER BY n", [user]).fetchall()
        view = ScopeView.from_rows(user, rows)
        with self._views_lock:
            if len(self._views) >= 256:
                self._views.clear()
            self._views[user] = (view, version, docs, lexemes)
        return view

    def scope_dense(self, vector: np.ndarray, view: ScopeView) -> np.ndarray | None:
        """Inner products of ``vector`` with every row of the view (NaN where a row has no
        vector), computed by the server over the user's rows."""
        out = np.full(len(view), np.nan, dtype=np.float64)
        if self.dim is None or len(view) == 0:
            return out
        if vector.shape != (self.dim,):
            raise DimensionMismatch(self.dim, int(vector.shape[-1]))
        q = np.ascontiguousarray(vector, dtype=np.float32)
        rows = self._read(f"SELECT n, -(embedding <#> %b) FROM {self._m} WHERE user_id = %s "
                          f"AND embedding IS NOT NULL", [q, view.user])
        if rows:
            pos = view.positions(np.fromiter((r[0] for r in rows), np.int64, count=len(rows)))
            sc = np.fromiter((r[1] for r in rows), np.float64, count=len(rows))
            ok = pos >= 0
            out[pos[ok]] = sc[ok]
        return out

    def scope_count(self, user: str) -> int:
        """How many memories the user holds (its ``user_stats`` row): the pipeline asks fewer
        candidates of a scope large enough for HNSW."""
        with self._conn() as conn:
            return self._scope_size(conn, user)

    def light_rows(self, ids: Sequence[str], flt: Filters, *,
                   whole_sessions: bool) -> list[tuple[Any, ...]]:
        """(id, session, seq, time, importance, superseded_by, row id) of the given memories,
        and with ``whole_sessions`` of every memory in their sessions, that pass the
        filters. The row id lets ``scores_at`` score session mates by it."""
        if not ids:
            return []
        if whole_sessions:
            with self._conn() as conn:
                size = self._scope_size(conn, flt.user)
            if size <= 2 * len(ids):
                return self._light_rows_whole_scope(ids, flt)
        return self._light_rows_by_id(ids, flt, whole_sessions=whole_sessions)

    def _light_rows_whole_scope(self, ids: Sequence[str], flt: Filters
                                ) -> list[tuple[Any, ...]]:
        """``light_rows`` with sessions, when the candidates are most of the scope (a scope
        up to a thousand rows or so, whose every row is a candidate): one read of the user's
        rows along its index, each with whether it passes the filters, instead of looking
        up a thousand ids and then their sessions (~6 ms -> ~1.5 ms at 1,000)."""
        where, params = self._where(flt)
        cols = "m.id, m.session, m.seq, m.time, m.importance, m.superseded_by, m.n"
        rows = self._read(f"SELECT {cols}, ({where}) FROM {self._m} m WHERE m.user_id = %s",
                          [*params, flt.user])
        wanted = set(ids)
        # the candidates' sessions, whether or not the candidates pass the filters
        sessions = {r[1] for r in rows if r[0] in wanted and r[1] is not None}
        return [r[:7] for r in rows if r[7] and (r[0] in wanted or r[1] in sessions)]

    def _light_rows_by_id(self, ids: Sequence[str], flt: Filters, *,
                          whole_sessions: bool) -> list[tuple[Any, ...]]:
        where, params = self._where(flt)
        cols = "m.id, m.session, m.seq, m.time, m.importance, m.superseded_by, m.n"
        sql = f"SELECT {cols} FROM {self._m} m WHERE {where} AND m.id = ANY(%s::text[])"
        args: list[Any] = [*params, list(ids)]
        if whole_sessions:
            sql += (f" UNION SELECT {cols} FROM {self._m} m WHERE {where} AND m.session IN "
                    f"(SELECT DISTINCT c.session FROM {self._m} c WHERE c.user_id = %s AND "
                    f"c.id = ANY(%s::text[]) AND c.session IS NOT NULL)")
            args += [*params, flt.user, list(ids)]
        return self._read(sql, args)

    def neighbors(self, ids: Sequence[str], user: str, window: int) -> dict[str, list[str]]:
        """For each episode id, the ids of the episodes within ``window`` turns of it in the
        same session (excluding itself)."""
        if not ids or window <= 0:
            return {}
        rows = self._read(
            f"SELECT c.id, n.id FROM {self._m} c JOIN {self._m} n ON n.user_id = c.user_id "
            f"AND n.session = c.session AND n.seq BETWEEN c.seq - %s AND c.seq + %s "
            f"AND n.id <> c.id WHERE c.user_id = %s AND c.session IS NOT NULL "
            f"AND c.seq IS NOT NULL AND c.id = ANY(%s::text[]) ORDER BY c.id, n.seq",
            [window, window, user, list(ids)])
        out: dict[str, list[str]] = {}
        for cid, nid in rows:
            out.setdefault(cid, []).append(nid)
        return out
