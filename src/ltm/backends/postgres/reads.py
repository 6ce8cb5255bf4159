"""Reads of whole memories: by id, history, export, pages (``scan``), counts and stats."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, cast

import numpy as np

from ...errors import InvalidInput, StoreError
from ...model import HistoryEvent, Memory
from ...timeutil import from_us
from ..base import Filters, scan_order
from ..common import SAFE_KEY, pg_metadata_key, tombstone_user, user_hash
from .connection import Connection
from .schema import _COLS, _row_to_memory, ident

log = logging.getLogger(__name__)


class Reads(Connection):
    """Memories, their history and the store's counts."""

    def get(self, memory_id: str, user: str) -> Memory | None:
        rows = self._read(f"SELECT {_COLS} FROM {self._m} WHERE user_id = %s AND id = %s",
                          [user, memory_id])
        return _row_to_memory(rows[0]) if rows else None

    def get_many(self, ids: Sequence[str], user: str) -> dict[str, Memory]:
        if not ids:
            return {}
        rows = self._read(f"SELECT {_COLS} FROM {self._m} WHERE user_id = %s AND "
                          f"id = ANY(%s::text[])", [user, list(ids)])
        return {r[1]: _row_to_memory(r) for r in rows}

    def superseded_until(self, ids: Sequence[str], user: str) -> dict[str, int]:
        """(``Backend.superseded_until``)"""
        if not ids:
            return {}
        return dict(self._read(
            f"SELECT superseded_by, MAX(COALESCE(valid_to, valid_from, time)) FROM {self._m} "
            f"WHERE user_id = %s AND superseded_by = ANY(%s::text[]) GROUP BY superseded_by",
            [user, list(ids)]))

    def history(self, memory_id: str, user: str) -> list[HistoryEvent]:
        rows = self._read(f"SELECT event, at, data FROM {self._h} WHERE user_id = ANY(%s) "
                          f"AND memory_id = %s ORDER BY n", [[user, tombstone_user(user)],
                                                             memory_id])
        return [HistoryEvent(memory_id, e, from_us(at), dict(d) if d is not None else None)
                for e, at, d in rows]

    def histories(self, ids: Sequence[str], user: str) -> dict[str, list[HistoryEvent]]:
        """(``Backend.histories``) The events ``user``'s memories ``ids`` recorded under the
        user, in order (an export's read: not the tombstones of forgotten ones)."""
        out: dict[str, list[HistoryEvent]] = {}
        rows = self._read(f"SELECT memory_id, event, at, data FROM {self._h} WHERE user_id = %s"
                          f" AND memory_id = ANY(%s::text[]) ORDER BY n", [user, list(ids)])
        for mid, e, at, d in rows:
            out.setdefault(mid, []).append(
                HistoryEvent(mid, e, from_us(at), dict(d) if d is not None else None))
        return out

    def iter_export(self, user: str | None, with_vectors: bool = True
                    ) -> Iterator[tuple[Memory, np.ndarray | None]]:
        """Every memory (of ``user``, or of all), in insertion order, streamed through a
        server-side cursor."""
        vec = "embedding" if with_vectors else "NULL::vector"
        sql = f"SELECT {_COLS}, {vec} FROM {self._m}"
        params: list[Any] = []
        if user is not None:
            sql += " WHERE user_id = %s"
            params.append(user)
        sql += " ORDER BY n"
        # the cursor is closed also when the caller stops early (a search for the first match)
        with self._tx() as conn, conn.cursor(name=f"ltm_export_{next(self._cursors)}",
                                             binary=True) as cur:
            cur.itersize = 1000
            cur.execute(cast(Any, sql), params)
            for r in cur:
                yield _row_to_memory(r), r[-1]

    def hold_sources(self, ids: Sequence[str], user: str) -> set[str]:
        """The ids among ``ids`` that are memories of ``user``, each held (``FOR KEY SHARE``)
        until the enclosing ``atomic()`` transaction ends: a forget of one waits for it and
        then its cascade sees what the transaction derived from it; one that a forget in
        flight erased is not among them (``Engine.check_sources``)."""
        if not ids:
            return set()
        with self._conn() as conn:
            self._lock_users(conn, [user])  # (the order every write of the user locks in)
            rows = conn.execute(f"SELECT id FROM {self._m} WHERE user_id = %s AND "
                                f"id = ANY(%s::text[]) ORDER BY id FOR KEY SHARE",
                                [user, list(ids)]).fetchall()
        return {r[0] for r in rows}

    def derived_from(self, ids: Sequence[str], user: str) -> list[Memory]:
        """``user``'s memories whose ``sources`` name any of ``ids``, in insertion order
        (found through the GIN index ``memories_sources``)."""
        if not ids:
            return []
        rows = self._read(f"SELECT {_COLS} FROM {self._m} WHERE user_id = %s AND "
                          f"sources && %s::text[] ORDER BY n", [user, list(ids)])
        return [_row_to_memory(r) for r in rows]

    def scan(self, flt: Filters, *, order: str = "newest", limit: int = 100,
             before: tuple[int, str] | None = None) -> list[Memory]:
        """A page of the memories ``flt`` matches, by (time, id): ``newest`` or ``oldest``
        first, at most ``limit``, starting past the key ``before`` (the last (time, id) of
        the previous page); walks the (user_id, time, id) index."""
        desc = scan_order(order)
        where, params = self._where(flt)
        if before is not None:
            where += f" AND (m.time, m.id) {'<' if desc else '>'} (%s, %s)"
            params += [int(before[0]), str(before[1])]
        d = "DESC" if desc else "ASC"
        rows = self._read(f"SELECT {_COLS} FROM {self._m} m WHERE {where} "
                          f"ORDER BY m.time {d}, m.id {d} LIMIT %s", [*params, int(limit)])
        return [_row_to_memory(r) for r in rows]

    def metadata_index(self, key: str) -> None:
        """Index the memories by ``(user_id, metadata[key])`` where they hold ``key`` (a
        partial index), so that a metadata filter on ``key`` reads the matching rows instead
        of every row of the user: for a key that names an item, as the LangGraph and LangChain
        adapters' keys do. Built once per store, CONCURRENTLY (writers are not blocked); a
        build a failure left invalid is made again."""
        if not SAFE_KEY.fullmatch(key):
            raise InvalidInput(f"metadata index key {key!r} must match [A-Za-z0-9_-]{{1,64}}",
                               field="key")
        if key in self._meta_indexes:
            return
        if getattr(self._local, "conn", None) is not None:
            # CONCURRENTLY would wait for this thread's own open transaction
            raise StoreError("metadata_index() cannot run inside an atomic() block")
        name = "memories_meta_" + (key if len(key) <= 40 else user_hash(key))
        expr = pg_metadata_key("metadata", key)
        with self._pooled() as conn:
            row = conn.execute(
                "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND "
                "c.relname = %s", [self.schema, name]).fetchone()
            if row is None or not row[0]:
                if row is not None:
                    conn.execute(cast(Any, f"DROP INDEX CONCURRENTLY IF EXISTS "
                                           f"{self._s}.{ident(name)}"))
                try:
                    conn.execute(cast(Any, f"CREATE INDEX CONCURRENTLY IF NOT EXISTS "
                                           f"{ident(name)} ON {self._m} (user_id, {expr}) "
                                           f"WHERE {expr} IS NOT NULL"))
                except self._psycopg.Error as exc:  # e.g. another process builds it now
                    log.warning("indexing metadata %r failed: %s", key, exc)
                    return
        self._meta_indexes.add(key)

    def user_counts(self, user: str, now: int | None = None
                    ) -> tuple[dict[str, int], list[tuple[str, int, int, int]],
                               list[tuple[int, int]]]:
        """``user``'s memories counted (those expired at ``now`` left out): by kind, by
        session (session, count, first time, last time) and by UTC day (day number, count)."""
        where, params = self._where(Filters(user=user, now=now))
        kinds = self._read(f"SELECT kind, count(*) FROM {self._m} m WHERE {where} "
                           f"GROUP BY kind", params)
        sessions = self._read(
            f"SELECT session, count(*), min(time), max(time) FROM {self._m} m WHERE {where} "
            f"AND session IS NOT NULL GROUP BY session", params)
        days = self._read(
            f"SELECT floor(time / 86400000000.0)::bigint AS day, count(*) FROM {self._m} m "
            f"WHERE {where} GROUP BY day ORDER BY day", params)
        return ({k: int(c) for k, c in kinds},
                [(str(s), int(c), int(a), int(b)) for s, c, a, b in sessions],
                [(int(d), int(c)) for d, c in days])

    def users(self) -> list[str]:
        return [r[0] for r in self._read(
            f"SELECT user_id FROM {self._st} WHERE docs > 0 ORDER BY user_id")]

    def stats(self) -> dict[str, Any]:
        kinds = dict(self._read(f"SELECT kind, count(*) FROM {self._m} GROUP BY kind"))
        users = self._read(f"SELECT count(*) FROM {self._st} WHERE docs > 0")[0][0]
        deleted = self._read(f"SELECT coalesce(sum(count), 0) FROM {self._s}.deletions")[0][0]
        size = self._read(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'", [self.schema])[0][0]
        # the scopes searched through an HNSW index of their own (SQLite's key of that name)
        scopes = self._read(
            "SELECT count(*) FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND "
            "c.relname LIKE 'memories\\_hnsw\\_%%' AND i.indisvalid", [self.schema])[0][0]
        return {"memories": sum(int(v) for v in kinds.values()),
                "by_kind": {k: int(v) for k, v in kinds.items()}, "users": int(users),
                "deleted_total": int(deleted), "bytes_on_disk": int(size), "dim": self.dim,
                "hnsw_scopes": int(scopes), "backend": "postgres", "schema": self.schema}
