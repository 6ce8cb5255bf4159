"""Reads outside the per-user fast path: rows by id, dense search over the vector index, the
light rows and neighbours the retrieval pipeline ranks, history, export, paged scans and
counts."""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ...errors import DimensionMismatch
from ...model import HistoryEvent, Memory
from ...timeutil import from_us
from ..base import Filters, scan_order
from ..common import memory_from_columns, tombstone_user
from .connection import Connection
from .schema import _COLUMNS, _row_to_memory

_HELD_MAX = 20_000  # memories the hydration cache holds (``Reads._held``) before it starts afresh
_SCALARS = (str, int, float, bool, type(None))


def _held(r: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any, Any]:
    """A memories row with its metadata and sources decoded, where they hold no container
    (a copy of each is then a whole copy); None where they do (decoded again when read)."""
    meta = json.loads(r[7]) if r[7] else None
    if isinstance(meta, dict) and not all(isinstance(v, _SCALARS) for v in meta.values()):
        meta = None
    sources = json.loads(r[14]) if r[14] else None
    if isinstance(sources, list) and not all(isinstance(v, _SCALARS) for v in sources):
        sources = None
    return r, meta, sources


def _from_held(held: tuple[tuple[Any, ...], Any, Any]) -> Memory:
    """A new ``Memory`` from a ``_held`` row: what ``_row_to_memory`` makes of the row."""
    r, meta, sources = held
    (_, mid, user, agent, session, kind, text, metadata, importance, time_, recorded_at,
     valid_from, valid_to, superseded_by, raw_sources, access_count, last_accessed, pinned,
     expires_at, seq) = r
    if meta is None and metadata:
        meta = json.loads(metadata)
    if sources is None and raw_sources:
        sources = json.loads(raw_sources)
    # (memory_from_columns copies the metadata mapping and the sources into a tuple)
    return memory_from_columns(
        user, mid, agent, session, kind, text, meta, importance, time_, recorded_at,
        valid_from, valid_to, superseded_by, sources, access_count, last_accessed, pinned,
        expires_at, seq)


# a filtered dense search in a scope served by HNSW scans the rows the filter allows exactly
# when they are this few (a time window, a session)
_EXACT_ALLOWED = 10_000


def _previous(data: str | None) -> dict[str, Any] | None:
    """A history event's previous values as a ``Memory`` holds them (as PostgreSQL gives
    them): an update records the raw columns, metadata and sources as JSON text and pinned as
    0 / 1."""
    if not data:
        return None
    out = json.loads(data)
    for key in ("metadata", "sources"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    if "pinned" in out:
        out["pinned"] = bool(out["pinned"])
    return out

class Reads(Connection):
    """Row and vector reads (a part of ``SqliteBackend``)."""

    def get(self, memory_id: str, user: str) -> Memory | None:
        with self._lock:
            r = self.conn.execute(f"SELECT {_COLUMNS} FROM memories WHERE id = ? AND user = ?",
                                  (memory_id, user)).fetchone()
        return _row_to_memory(r) if r else None

    def get_many(self, ids: Sequence[str], user: str) -> dict[str, Memory]:
        """The user's memories among ``ids`` (by id, in id order). Rows read since the user's
        last write are decoded again from the hydration cache (``_held``) instead of read: a
        user's searches return many of the same memories."""
        out: dict[str, Memory] = {}
        with self._lock:
            held, mark = self._held_rows(user)
            todo = ids
            if held is not None:
                todo = []
                for i in ids:
                    got = held.get((user, i))
                    if got is None or got[0] != mark:
                        todo.append(i)
                    else:
                        out[i] = _from_held(got[1])
            for r in self._rows_of(todo, user, None if held is None else (mark[0], mark[2])):
                if held is None:
                    out[r[1]] = _row_to_memory(r)
                else:
                    row = _held(r)
                    held[(user, r[1])] = (mark, row)
                    out[r[1]] = _from_held(row)
        # in id order, as one read by id gives them
        return out if len(todo) == len(ids) else dict(sorted(out.items()))

    def _rows_of(self, ids: Sequence[str], user: str, mark: tuple[int, int] | None
                 ) -> Iterable[tuple[Any, ...]]:
        """The user's memory rows among ``ids``, in id order. Where the user's scope view of
        ``mark`` (the user mark now) holds them all, by their row ids (the table's own key:
        a cold read walks half the pages it walks through the id index)."""
        rowids = self._view_rowids(ids, user, mark) if mark is not None else None
        if rowids is not None:
            rows = self.conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE n IN ({','.join('?' * len(rowids))}) "
                "AND +user = ?", [*rowids, user]).fetchall()
            if len(rows) == len(ids):
                rows.sort(key=lambda r: r[1])  # (as the id index gives them)
                return rows
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), 900):
            chunk = list(ids[start:start + 900])
            out += self.conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE +user = ? AND id IN "
                f"({','.join('?' * len(chunk))})", [user, *chunk])
        return out

    def _view_rowids(self, ids: Sequence[str], user: str, mark: tuple[int, int]
                     ) -> list[int] | None:
        """The row ids of ``ids`` from the user's cached scope view of ``mark``, where it
        holds every one (found by bisection: its ids are in row-id order, and that is id
        order where the store made them); None otherwise."""
        hit = self._scope_cache.get(user)
        if hit is None or hit[1] != mark or not 0 < len(ids) <= 900:
            return None
        view = hit[0]
        in_order = view.memo.get("ids_in_order")
        if in_order is None:  # (a view never changes: read once)
            in_order = view.memo["ids_in_order"] = bool(
                (view.id_rank == np.arange(len(view))).all())
        if not in_order:
            return None
        names, rowids, out = view.ids, view.rowids, []
        for i in ids:
            at = bisect_left(names, i)
            if at == len(names) or names[at] != i:
                return None
            out.append(int(rowids[at]))
        return out

    def _held_rows(self, user: str) -> tuple[
            dict[tuple[str, str], tuple[tuple[int, int, int],
                                        tuple[tuple[Any, ...], Any, Any]]] | None,
            tuple[int, int, int]]:
        """The hydration cache, (user, id) -> (the user's held mark, the memory's row:
        ``_held``), an entry valid while the user's mark holds (``_held_mark``: any write of
        the user's memories or their access counts moves it, not another user's), and the
        user's mark now. None inside a transaction (its writes are not committed yet)."""
        if self._depth:
            return None, (0, 0, 0)
        if len(self._held_cache) >= _HELD_MAX:
            self._held_cache.clear()
        return self._held_cache, self._held_mark(user)

    def kinds(self, ids: Sequence[str], user: str, key: str) -> dict[str, tuple[str, bool]]:
        path = f'$."{key}"'
        out: dict[str, tuple[str, bool]] = {}
        # metadata is JSON written by the store; anything else may hold anything
        cols = ("SELECT id, kind, CASE WHEN metadata IS NULL THEN 0 WHEN json_valid(metadata) "
                "THEN json_extract(metadata, ?) IS NOT NULL ELSE 1 END FROM memories WHERE ")
        with self._lock:
            # by row id where the user's current view gives them (as ``get_many``)
            rowids = None if self._depth else self._view_rowids(ids, user,
                                                                self._user_mark(user))
            if rowids is not None:
                rows = self.conn.execute(
                    cols + f"n IN ({','.join('?' * len(rowids))}) AND +user = ?",
                    [path, *rowids, user]).fetchall()
                if len(rows) == len(ids):
                    return {mid: (kind, bool(held)) for mid, kind, held in sorted(rows)}
            for start in range(0, len(ids), 900):
                chunk = list(ids[start:start + 900])
                for mid, kind, held in self.conn.execute(
                        cols + f"+user = ? AND id IN ({','.join('?' * len(chunk))})",
                        [path, user, *chunk]):
                    out[mid] = (kind, bool(held))
        return out

    def dense_search(self, vector: np.ndarray, flt: Filters,
                     limit: int) -> list[tuple[str, float]]:
        with self._lock:
            idx = self._vector_index()
            if self.dim is None:
                return []
            if vector.shape != (self.dim,):
                raise DimensionMismatch(self.dim, int(vector.shape[-1]))
            plain = flt.only_user  # expiry is applied when candidates are hydrated
            scope = self._hnsw_scope(flt.user, idx)
            allowed = None if plain else self._allowed_rowids(flt)
            if scope is not None and allowed is not None and len(allowed) <= _EXACT_ALLOWED:
                # a filter that leaves this few rows: an exact scan of them costs about what
                # the graph does, and its answer does not depend on how the graph was built
                rowids, scores = idx.search(flt.user, vector, limit, allowed)
            elif scope is not None:
                want = limit if plain else limit * 8
                rowids, scores = scope.search(vector, want)
                if allowed is not None:
                    keep = np.isin(rowids, allowed)
                    if keep.sum() < min(limit, len(allowed)):
                        # the filter is too selective for the graph: scan what it allows
                        rowids, scores = idx.search(flt.user, vector, limit, allowed)
                    else:
                        rowids, scores = rowids[keep][:limit], scores[keep][:limit]
            else:
                rowids, scores = idx.search(flt.user, vector, limit, allowed)
            return self._ids_for(rowids, scores)

    def _ids_for(self, rowids: np.ndarray, scores: np.ndarray) -> list[tuple[str, float]]:
        if len(rowids) == 0:
            return []
        ids = dict(self.conn.execute(
            f"SELECT n, id FROM memories WHERE n IN ({','.join('?' * len(rowids))})",
            [int(r) for r in rowids]).fetchall())
        return [(ids[int(r)], float(s)) for r, s in zip(rowids, scores) if int(r) in ids]

    def vectors(self, ids: Sequence[str], user: str) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        with self._lock:
            idx = self._vector_index()
            rows = []
            for start in range(0, len(ids), 900):
                chunk = list(ids[start:start + 900])
                rows += self.conn.execute(
                    f"SELECT id, n FROM memories WHERE +user = ? AND id IN "
                    f"({','.join('?' * len(chunk))})", [user, *chunk]).fetchall()
            if not rows or self.dim is None:
                return {}
            vecs = idx.vectors_of(np.asarray([r[1] for r in rows], dtype=np.int64))
        return {r[0]: vecs[i] for i, r in enumerate(rows)}

    def scores_at(self, rowids: np.ndarray, vector: np.ndarray, user: str) -> np.ndarray:
        """Inner products of ``vector`` with the vectors of ``rowids`` (row ids of ``user``
        that ``light_rows`` returned; 0 for a row without one), for the pool's rows that
        neither retriever scored."""
        with self._lock:
            idx = self._vector_index()
            if self.dim is None:
                return np.zeros(len(rowids))
            if vector.shape != (self.dim,):
                raise DimensionMismatch(self.dim, int(vector.shape[-1]))
            vecs = idx.vectors_of(np.asarray(rowids, dtype=np.int64))
        return np.einsum("ij,j->i", vecs, vector.astype(np.float32, copy=False)
                         ).astype(np.float64)

    def light_rows(self, ids: Sequence[str], flt: Filters, *,
                   whole_sessions: bool) -> list[tuple[Any, ...]]:
        """(id, session, seq, time, importance, superseded_by, row id) of the given memories,
        and with ``whole_sessions`` of every memory in their sessions, that pass the filters.
        The row id lets ``scores_at`` score session mates without looking their ids up."""
        if not ids:
            return []
        where, params = self._where(flt)
        cols = "m.id, m.session, m.seq, m.time, m.importance, m.superseded_by, m.n"
        out: list[tuple[Any, ...]] = []
        sessions: set[str] = set()
        with self._lock:
            for start in range(0, len(ids), 900):
                chunk = list(ids[start:start + 900])
                marks = ",".join("?" * len(chunk))
                # '+m.user': look the ids up by their own index, not by walking the user's rows
                sql = (f"SELECT {cols} FROM memories m WHERE +{where} AND m.id IN ({marks})")
                out += self.conn.execute(sql, [*params, *chunk]).fetchall()
                if whole_sessions:
                    # the sessions of the candidates, whether or not they pass the filters
                    sessions.update(r[0] for r in self.conn.execute(
                        f"SELECT DISTINCT session FROM memories WHERE +user = ? AND id IN "
                        f"({marks}) AND session IS NOT NULL", [flt.user, *chunk]))
            # One statement per side: an OR of the two made SQLite walk every row of the user
            # (the whole scope: a second per query at a million memories).
            listed = sorted(sessions)
            for start in range(0, len(listed), 900):
                chunk = listed[start:start + 900]
                out += self.conn.execute(
                    f"SELECT {cols} FROM memories m WHERE {where} AND m.session IN "
                    f"({','.join('?' * len(chunk))})", [*params, *chunk]).fetchall()
        return list({r[0]: r for r in out}.values())

    def neighbors(self, ids: Sequence[str], user: str, window: int) -> dict[str, list[str]]:
        """For each episode id, the ids of the episodes within ``window`` turns of it in the
        same session (excluding itself)."""
        if not ids or window <= 0:
            return {}
        with self._lock:
            sql = (f"SELECT c.id, n.id FROM memories c JOIN memories n ON n.user = c.user AND "
                   f"n.session = c.session AND n.seq BETWEEN c.seq - ? AND c.seq + ? AND "
                   f"n.n != c.n WHERE c.user = ? AND c.session IS NOT NULL AND c.seq IS NOT NULL"
                   f" AND c.id IN ({','.join('?' * len(ids))})")
            out: dict[str, list[str]] = {}
            for cid, nid in self.conn.execute(sql, [window, window, user, *ids]):
                out.setdefault(cid, []).append(nid)
        return out

    def history(self, memory_id: str, user: str) -> list[HistoryEvent]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT event, at, data FROM history WHERE memory_id = ? AND user IN (?, ?) "
                "ORDER BY n", (memory_id, user, tombstone_user(user))).fetchall()
        return [HistoryEvent(memory_id, e, from_us(at), _previous(d)) for e, at, d in rows]

    def superseded_until(self, ids: Sequence[str], user: str) -> dict[str, int]:
        """(``Backend.superseded_until``)"""
        out: dict[str, int] = {}
        for start in range(0, len(ids), 900):
            chunk = list(ids[start:start + 900])
            with self._lock:
                out.update(self.conn.execute(
                    f"SELECT superseded_by, MAX(COALESCE(valid_to, valid_from, time)) FROM "
                    f"memories WHERE user = ? AND superseded_by IN "
                    f"({','.join('?' * len(chunk))}) GROUP BY superseded_by",
                    [user, *chunk]).fetchall())
        return out

    def histories(self, ids: Sequence[str], user: str) -> dict[str, list[HistoryEvent]]:
        """(``Backend.histories``) The events ``user``'s memories ``ids`` recorded under the
        user, in order (an export's read: not the tombstones of forgotten ones)."""
        out: dict[str, list[HistoryEvent]] = {}
        for start in range(0, len(ids), 900):
            chunk = list(ids[start:start + 900])
            with self._lock:
                rows = self.conn.execute(
                    f"SELECT memory_id, event, at, data FROM history WHERE user = ? AND "
                    f"memory_id IN ({','.join('?' * len(chunk))}) ORDER BY n",
                    [user, *chunk]).fetchall()
            for mid, e, at, d in rows:
                out.setdefault(mid, []).append(HistoryEvent(mid, e, from_us(at), _previous(d)))
        return out

    def iter_export(self, user: str | None,
                    with_vectors: bool = True) -> Iterator[tuple[Memory, np.ndarray | None]]:
        """Every memory (of ``user``, or of all), in insertion order. The whole store is read
        a page of rows at a time (by row id, each page a statement of its own): an export of a
        million memories held them all (~1.8 KB each with their vectors), and a read
        transaction held open for the whole export would keep a forget meanwhile from
        checkpointing its erasure out of the WAL. So a row forgotten before its page is read
        is not exported, and rows written meanwhile come at the end. A user's memories are
        read at once."""
        blob = "embedding" if with_vectors else "NULL"  # not 1 KB a row read for nothing
        sql = f"SELECT {_COLUMNS}, {blob} FROM memories"
        batches: Iterable[list[Any]]
        if user is not None:
            with self._lock:
                batches = [self.conn.execute(sql + " WHERE user = ? ORDER BY n",
                                             (user,)).fetchall()]
        else:
            batches = self._pages(sql + " WHERE n > ? ORDER BY n LIMIT 500")
        for batch in batches:
            for r in batch:
                vec = np.frombuffer(r[-1], dtype=np.float32) if (with_vectors and r[-1]) \
                    else None
                yield _row_to_memory(r[:-1]), vec

    def _pages(self, sql: str) -> Iterator[list[Any]]:
        """The rows of ``sql`` (its one parameter: the last row id read; ``n`` first)."""
        last = 0
        while True:
            with self._lock:
                page = self.conn.execute(sql, (last,)).fetchall()
            if not page:
                return
            yield page
            last = page[-1][0]

    def derived_from(self, ids: Sequence[str], user: str) -> list[Memory]:
        """``user``'s memories whose ``sources`` name any of ``ids``, in insertion order. Walks
        the user's derived memories only (the partial index ``memories_derived``); the ids go
        in as one JSON array, so there is no limit on how many."""
        if not ids:
            return []
        with self._lock:
            rows = self.conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE user = ? AND sources IS NOT NULL AND "
                "EXISTS (SELECT 1 FROM json_each(memories.sources) AS s WHERE s.value IN "
                "(SELECT value FROM json_each(?))) ORDER BY n",
                (user, json.dumps(list(ids)))).fetchall()
        return [_row_to_memory(r) for r in rows]

    def scan(self, flt: Filters, *, order: str = "newest", limit: int = 100,
             before: tuple[int, str] | None = None) -> list[Memory]:
        """A page of the memories ``flt`` matches, by (time, id): ``newest`` or ``oldest``
        first, at most ``limit``, starting past the key ``before`` (the last (time, id) of
        the previous page). A large scope walks its own time index (``_time_index``)."""
        desc = scan_order(order)
        with self._lock:
            index = ""
            keyed = self._metadata_index_for(flt)
            name = self._time_index(flt.user) if keyed is None else None
            if keyed is not None:  # the rows holding one value of an item's key: few
                index = f' INDEXED BY "{keyed}"'
            elif name is not None:
                index = f" INDEXED BY {name}"
            where, params = self._where(flt, user_literal=name is not None)
            if before is not None:
                where += f" AND (m.time, m.id) {'<' if desc else '>'} (?, ?)"
                # (a time past 64 bits is past every stored one: clamped, SQLite's range)
                params += [min(max(int(before[0]), -2**63), 2**63 - 1), str(before[1])]
            d = "DESC" if desc else "ASC"
            # the page's row numbers first: filtered on user, session, time and expiry only,
            # that walks the covering index memories_scope, not the rows; then its rows
            rows = self.conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE n IN (SELECT m.n FROM memories "
                f"m{index} WHERE {where} ORDER BY m.time {d}, m.id {d} LIMIT ?) "
                f"ORDER BY time {d}, id {d}", [*params, int(limit)]).fetchall()
        return [_row_to_memory(r) for r in rows]

    def user_counts(self, user: str, now: int | None = None
                    ) -> tuple[dict[str, int], list[tuple[str, int, int, int]],
                               list[tuple[int, int]]]:
        """``user``'s memories counted (those expired at ``now`` left out): by kind, by
        session (session, count, first time, last time) and by UTC day (day number, count)."""
        flt = Filters(user=user, now=now)
        where, params = self._where(flt)
        with self._lock:
            kinds = self.conn.execute(f"SELECT kind, count(*) FROM memories m WHERE {where} "
                                      f"GROUP BY kind", params).fetchall()
            sessions = self.conn.execute(
                f"SELECT session, count(*), min(time), max(time) FROM memories m WHERE {where} "
                f"AND session IS NOT NULL GROUP BY session", params).fetchall()
            days = self.conn.execute(
                f"SELECT time / 86400000000 - (time % 86400000000 < 0) AS day, count(*) "
                f"FROM memories m WHERE {where} GROUP BY day ORDER BY day", params).fetchall()
        return ({k: int(c) for k, c in kinds}, [tuple(r) for r in sessions],
                [(int(d), int(c)) for d, c in days])

    def users(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self.conn.execute(
                "SELECT DISTINCT user FROM memories ORDER BY user")]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            kinds = dict(self.conn.execute("SELECT kind, count(*) FROM memories GROUP BY kind"))
            users = self.conn.execute("SELECT count(DISTINCT user) FROM memories").fetchone()[0]
            deletions = self.conn.execute("SELECT coalesce(sum(count), 0) FROM deletions"
                                          ).fetchone()[0]
        size = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        return {"memories": sum(kinds.values()), "by_kind": kinds, "users": users,
                "deleted_total": deletions, "bytes_on_disk": size, "dim": self.dim,
                "hnsw_scopes": len(self._hnsw)}
