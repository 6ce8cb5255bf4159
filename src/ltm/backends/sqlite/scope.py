"""One user's scope as arrays (``ltm.retrieval.pipeline``'s fast path): the scope's row count,
its scoring columns cached per user mark (another user's writes leave them valid; after this
connection's own inserts of the user's rows alone they are grown by the new rows, not read
again: ``Connection._own_appends``) and kept as snapshot rows (``scope_snap``), its dense
scores, and the rows a filter allows (through a large scope's own time index)."""

from __future__ import annotations

import logging
import sqlite3

import numpy as np

from ...errors import DimensionMismatch, InvalidInput, StoreError
from ...index.scope import ScopeView
from ..base import Filters
from ..common import SAFE_KEY, SCOPE_EXPIRY, SQLITE, user_hash
from .connection import Connection

log = logging.getLogger(__name__)

_SNAPSHOT_MIN = 64  # smaller scopes are read row by row as quickly as from a snapshot
_SNAPSHOT_BATCH = 32  # snapshots a reader queues before it writes them
_VIEWS_MAX = 256  # users whose scope views the cache holds ...
_VIEW_ROWS_MAX = 2_000_000  # ... and rows in all (~60 bytes a row)
# a view's columns (``ScopeView.from_rows``)
_VIEW_COLUMNS = ("n, id, session, coalesce(seq, -1), seq IS NOT NULL, time, "
                 f"coalesce(importance, 0.5), superseded_by IS NOT NULL, {SCOPE_EXPIRY}")


def _read_only(view: ScopeView) -> ScopeView:
    """``view`` with its arrays made read-only: a cached view is shared by every search until
    the next write (the pipeline ranks a pool that is the whole scope on its arrays)."""
    for a in (view.rowids, view.session, view.seq, view.has_seq, view.time, view.importance,
              view.superseded, view.expires, view.id_rank):
        a.flags.writeable = False
    return view


class ScopeCache(Connection):
    """Per-user scope reads and their caches (a part of ``SqliteBackend``)."""

    # rows in the cached views and the views' number when counted: counted again only where
    # that number changed outside ``scope_view`` (which adds every view), not at each view
    _scope_held: tuple[int, int] = (0, 0)

    def scope_count(self, user: str) -> int:
        """How many memories the user holds (cached until the user's next write)."""
        with self._lock:
            return self._scope_count(user)

    def _scope_count(self, user: str, mark: tuple[int, int] | None = None) -> int:
        mark = mark or self._user_mark(user)  # (a caller's user mark: the same read)
        key = ("scope", user)
        hit = self._count_cache.get(key)
        if hit is not None and hit[1] == mark:
            return hit[0]
        grown = self._own_appends(user, hit[1], mark) if hit is not None else None
        n = hit[0] + grown[2] if hit is not None and grown is not None else int(
            self.conn.execute("SELECT count(*) FROM memories WHERE user = ?",
                              (user,)).fetchone()[0])
        if n:  # (a user with no memories is not held: one forgotten whole leaves no name)
            self._count_cache[key] = (n, mark)
        return n

    def scope_view(self, user: str) -> ScopeView | None:
        """The user's scoring columns (cached until the next write to the user's memories, by
        any connection: ``_user_mark``); None for a scope larger than ``hnsw_min_scope``
        (served by HNSW and the general path). Read from the user's snapshot (``scope_snap``)
        where one is current, else from the covering index; a scope of ``_SNAPSHOT_MIN`` rows
        or more read that way is queued for a snapshot."""
        with self._lock:
            mark = self._user_mark(user)
            hit = self._scope_cache.get(user)
            if hit is not None and hit[1] == mark:
                return hit[0]
            view = self._grown_view(hit[0], hit[1], mark) if hit is not None else None
            snap = None
            if view is None:
                snap = self.conn.execute("SELECT data FROM scope_snap WHERE user = ?",
                                         (user,)).fetchone()
            if snap is not None:
                view = ScopeView.from_bytes(user, snap[0])
            if view is None:
                if self._scope_count(user, mark) > self.hnsw_min_scope:
                    return None
                view = self._read_scope(user)
                if len(view) >= _SNAPSHOT_MIN:
                    self._snap_pending.add(user)
                    if len(self._snap_pending) >= _SNAPSHOT_BATCH:
                        self._persist_snapshots(wait=False)
            if len(view) > self.hnsw_min_scope:
                return None
            rows, entries = self._scope_held
            if entries != len(self._scope_cache):  # (views dropped elsewhere: a forget)
                rows = sum(len(v) for v, _ in self._scope_cache.values())
            old = self._scope_cache.pop(user, None)
            held = len(view) + rows - (len(old[0]) if old is not None else 0)
            while self._scope_cache and (len(self._scope_cache) >= _VIEWS_MAX
                                         or held > _VIEW_ROWS_MAX):
                # the view built longest ago goes first (a cache hit does not move it)
                held -= len(self._scope_cache.pop(next(iter(self._scope_cache)))[0])
            self._scope_cache[user] = (_read_only(view), mark)
            self._scope_held = (held, len(self._scope_cache))
            self._count_cache[("scope", user)] = (len(view), mark)
            return view

    def _read_scope(self, user: str) -> ScopeView:
        rows = self.conn.execute(
            f"SELECT {_VIEW_COLUMNS} FROM memories INDEXED BY memories_scope "
            "WHERE user = ?", (user,)).fetchall()
        return ScopeView.from_rows(user, rows)

    def _grown_view(self, view: ScopeView, since: tuple[int, int], mark: tuple[int, int]
                    ) -> ScopeView | None:
        """``view`` (read under the user mark ``since``) with the rows this connection has
        inserted since and those whose scoring columns it changed, where nothing else changed
        the user's rows (``_own_appends``): those rows are read by row id, not the whole scope
        again (a search right after the user's own ``add``, or a supersession). None where
        the change is not such a one."""
        got = self._own_appends(view.user, since, mark)
        if got is None:
            return None
        first, last, count, changed = got
        if view.session_names is None and len(view):  # a snapshot's view
            view.name_sessions([s for (s,) in self.conn.execute(
                "SELECT DISTINCT session FROM memories INDEXED BY memories_scope WHERE "
                "user = ? AND n <= ? AND session IS NOT NULL ORDER BY session",
                (view.user, int(view.rowids[-1])))])
        old = sorted({n for n in changed if not first <= n <= last})  # (new rows: read below)
        grown: ScopeView | None = view
        if old:
            rows = self.conn.execute(
                f"SELECT {_VIEW_COLUMNS} FROM memories WHERE n IN ({','.join('?' * len(old))}) "
                "AND +user = ? ORDER BY n", (*old, view.user)).fetchall()
            grown = view.changed(rows) if len(rows) == len(old) else None
        if grown is not None and count:
            rows = self.conn.execute(
                f"SELECT {_VIEW_COLUMNS} FROM memories WHERE n BETWEEN ? AND ? AND +user = ? "
                "ORDER BY n", (first, last, view.user)).fetchall()
            grown = grown.appended(rows) if len(rows) == count else None
        return grown

    def _persist_snapshots(self, *, wait: bool) -> None:
        """Write the snapshots of the queued users, each read afresh inside the write
        transaction (so a snapshot always matches the rows committed with it). ``wait=False``
        (from a read): give up at once if another connection holds the write lock."""
        with self._lock:
            if not self._snap_pending or self._depth > 0:
                return
            users = sorted(self._snap_pending)
            timeout = None
            if not wait:
                timeout = self.conn.execute("PRAGMA busy_timeout").fetchone()[0]
                self.conn.execute("PRAGMA busy_timeout = 0")
            self._access_only = True  # no memory changes: this process's caches stay valid
            try:
                with self.atomic() as c:
                    for user in users:
                        if not _SNAPSHOT_MIN <= self._scope_count(user) <= self.hnsw_min_scope:
                            continue  # too small to gain, or served by HNSW
                        c.execute("INSERT OR REPLACE INTO scope_snap (user, data, tokens) "
                                  "VALUES (?, ?, ?)", (user, self._read_scope(user).to_bytes(),
                                                       self._count_tokens(user)))
                self._snap_pending.clear()
            except (sqlite3.OperationalError, StoreError) as exc:  # StoreBusy: the lock is held
                if wait:
                    raise
                # a read never fails for a snapshot (a busy or read-only store): it is retried
                # with the next batch, and readers rebuild scopes from rows meanwhile
                log.debug("scope snapshots not written (%s)", exc)
                if len(self._snap_pending) > 4 * _SNAPSHOT_BATCH:
                    self._snap_pending.clear()
            finally:
                self._access_only = False
                if timeout is not None:
                    self.conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")

    def scope_dense(self, vector: np.ndarray, view: ScopeView) -> np.ndarray | None:
        """Dot products of ``vector`` with every row of the view (NaN where a row has no
        vector); None when the scope is served by HNSW (too large for an exact scan)."""
        with self._lock:
            idx = self._vector_index()
            if self.dim is None:
                return np.full(len(view), np.nan)
            if vector.shape != (self.dim,):
                raise DimensionMismatch(self.dim, int(vector.shape[-1]))
            if idx.count(view.user) >= self.hnsw_min_scope:
                return None
            rowids, scores = idx.scores_all(view.user, vector)
            # where the index's rows of the user sit in the view: the same for every query
            # while the view and the index's rows are
            held = self._dense_places.get(view.user)
            if held is None or held[0] is not view or (
                    held[1] is not rowids and not np.array_equal(held[1], rowids)):
                pos = view.positions(rowids)
                ok = pos >= 0
                order: np.ndarray | None = None
                if len(rowids) == len(view) and bool(ok.all()):  # a vector for every row?
                    order = np.full(len(view), -1, dtype=np.int64)
                    order[pos] = np.arange(len(view))
                    if not bool((order >= 0).all()):
                        order = None  # a row twice in the index: not a permutation
                if len(self._dense_places) >= 256:
                    self._dense_places.clear()
                held = self._dense_places[view.user] = (view, rowids, pos[ok], ok, order)
        _, _, places, ok, order = held
        if order is not None:
            return scores[order].astype(np.float64)
        out = np.full(len(view), np.nan, dtype=np.float64)
        out[places] = scores[ok]
        return out

    def _allowed_rowids(self, flt: Filters) -> np.ndarray:
        index = ""
        if flt.since is not None or flt.until is not None:
            name = self._time_index(flt.user)
            if name is not None:
                index = f" INDEXED BY {name}"
        where, params = self._where(flt, user_literal=bool(index))
        rows = self.conn.execute(f"SELECT m.n FROM memories m{index} WHERE {where}",
                                 params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def metadata_index(self, key: str) -> None:
        """Index the memories by ``(user, metadata[key])`` where they hold ``key`` (a partial
        index: rows without it cost nothing), so that a metadata filter on ``key`` reads the
        matching rows instead of every row of the user. For a key that names an item, as the
        LangGraph and LangChain adapters' keys do; made once per store."""
        name = _meta_index_name(key)
        with self._lock:
            if name in self._meta_indexes:
                return
            if self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND "
                                 "name = ?", (name,)).fetchone() is None:
                path = f"json_extract(metadata, '$.\"{key}\"')"
                with self.atomic() as c:
                    c.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON memories (user, {path}) '
                              f"WHERE {path} IS NOT NULL")
            self._meta_indexes.add(name)

    def _metadata_index_for(self, flt: Filters) -> str | None:
        """The name of an index made by ``metadata_index`` that serves a key ``flt`` tests
        for a value (None: none)."""
        if not flt.metadata or not self._meta_indexes:
            return None
        for key, value in flt.metadata.items():
            name = _meta_index_name(key)
            if value is not None and name in self._meta_indexes:
                return name
        return None

    def _time_index(self, user: str) -> str | None:
        """The name of ``user``'s own index on (time, expires_at), made on first use, for a
        scope of at least ``hnsw_min_scope`` rows (smaller ones walk their rows); None for a
        smaller scope, or when it cannot be made now (inside a transaction, store busy)."""
        name = "memories_time_" + user_hash(user)
        schema = int(self.conn.execute("PRAGMA schema_version").fetchone()[0])
        if schema != self._time_schema:  # a forget that emptied a scope drops its index
            self._time_indexes.clear()
            self._time_schema = schema
        if name in self._time_indexes:
            return name
        if self._scope_count(user) < self.hnsw_min_scope:
            return None
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                             (name,)).fetchone() is None:
            if self._depth:
                return None
            try:
                with self.atomic() as c:
                    # a partial index: only this user's rows, so no other user's writes pay
                    c.execute(f"CREATE INDEX IF NOT EXISTS {name} ON memories(time, expires_at) "
                              f"WHERE user = {SQLITE.user_literal(user)}")
            except (sqlite3.OperationalError, StoreError) as exc:  # read-only, busy
                log.info("no time index for a large scope yet (%s): rows are walked", exc)
                return None
        self._time_indexes.add(name)
        return name


def _meta_index_name(key: str) -> str:
    """The index ``metadata_index`` makes for ``key`` (a filter key: letters, digits, _ and -)."""
    if not SAFE_KEY.fullmatch(key):
        raise InvalidInput(f"metadata index key {key!r} must match [A-Za-z0-9_-]{{1,64}}",
                           field="key")
    return "memories_meta_" + key
