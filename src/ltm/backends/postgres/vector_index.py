"""The per-user vector index: each scope of ``hnsw_min_scope`` memories or more gets a partial
HNSW index of its own (built CONCURRENTLY once it outgrows exact scans, or at the end of a
``bulk_load()``); dense search uses it, or scans the user's rows exactly."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ...errors import DimensionMismatch, StoreError
from ..base import Filters
from ..common import user_hash
from .connection import Connection
from .schema import ident, scope_index_name, scope_index_sql

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search


class VectorSearch(Connection):
    """Upkeep of the per-scope HNSW indexes, and the dense reads."""

    def _index_grown(self, users: Iterable[str]) -> None:
        """Build the HNSW index of scopes that outgrew exact scans, or, inside
        ``bulk_load()``, note them for its end."""
        with self._defer_lock:
            if self._deferred is not None:
                self._deferred.update(users)
                return
        for user in sorted(users):
            self.ensure_scope_index(user)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Defer HNSW index builds to the end of a large load (any thread's inserts).

        Normally a scope's index is built when it reaches ``hnsw_min_scope`` and every later
        insert goes into the graph, which pgvector does row by row (a few hundred rows a
        second on a small machine). Inside this block scopes that outgrow exact scans stay
        without one (and are searched exactly); on exit each gets its index, built once over
        all its rows. Blocks do not nest."""
        with self._defer_lock:
            if self._deferred is not None:
                raise StoreError("bulk_load() is already active on this store")
            self._deferred = set()
        try:
            yield
        finally:
            with self._defer_lock:
                users, self._deferred = self._deferred, None
            for user in sorted(users):
                self.ensure_scope_index(user)

    def scope_indexed(self, user: str) -> bool:
        """Whether ``user``'s scope has a valid HNSW index (dense search uses it)."""
        with self._conn() as conn:
            return bool(self._scope_index_valid(conn, user))

    def _scope_index_valid(self, conn: psycopg.Connection[Any], user: str) -> bool | None:
        """True: the user's HNSW index is built; False: a failed build left it invalid;
        None: there is none."""
        row = conn.execute(
            "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND "
            "c.relname = %s", [self.schema, scope_index_name(user_hash(user))]).fetchone()
        return None if row is None else bool(row[0])

    def ensure_scope_index(self, user: str) -> None:
        """Build the HNSW index of ``user``'s scope if it is missing (CONCURRENTLY: writers
        are not blocked). Called after an insert takes a scope past ``hnsw_min_scope``."""
        from psycopg import sql

        name = scope_index_name(user_hash(user))
        with self._pooled() as conn:
            state = self._scope_index_valid(conn, user)
            if state:
                self._indexed.add(user)
                return
            if state is False:
                conn.execute(cast(Any, f"DROP INDEX CONCURRENTLY IF EXISTS {self._s}."
                                       f"{ident(name)}"))
            log.info("building the HNSW index of a scope of >= %d memories (schema %s)",
                     self.hnsw_min_scope, self.schema)
            literal = sql.Literal(user).as_string(conn)
            try:
                conn.execute("SELECT set_config('maintenance_work_mem', %s, false)",
                             [self.hnsw_build_mem])
                conn.execute(cast(Any, scope_index_sql(self._s, name, literal)))
            except self._psycopg.Error as exc:  # e.g. another process builds it right now
                log.warning("building the HNSW index for a scope failed: %s", exc)
                return
            finally:
                conn.execute("RESET maintenance_work_mem")
            if self._scope_index_valid(conn, user):
                self._indexed.add(user)
                conn.execute(cast(Any, f"ANALYZE {self._m}"))

    def dense_search(self, vector: np.ndarray, flt: Filters,
                     limit: int) -> list[tuple[str, float]]:
        if self.dim is None:
            return []
        if vector.shape != (self.dim,):
            raise DimensionMismatch(self.dim, int(vector.shape[-1]))
        q = np.ascontiguousarray(vector, dtype=np.float32)
        where, params = self._where(flt)
        with self._conn() as conn:
            size = self._scope_size(conn, flt.user)
            if size == 0:
                return []
            if size >= self.hnsw_min_scope and limit <= MAX_EF_SEARCH and (
                    flt.user in self._indexed or self._scope_index_valid(conn, flt.user)):
                self._indexed.add(flt.user)
                ef = min(MAX_EF_SEARCH, max(self.hnsw_ef_search, limit))
                with conn.transaction():
                    conn.execute(cast(Any, f"SET LOCAL hnsw.ef_search = {int(ef)}"))
                    # the partial index only matches a plan that knows the user's value; and
                    # with stale statistics the planner may think a sort of the scope cheaper
                    conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
                    conn.execute("SET LOCAL enable_sort = off")
                    rows = conn.execute(
                        f"SELECT m.id, -(m.embedding <#> %b) FROM {self._m} m WHERE {where} "
                        f"ORDER BY m.embedding <#> %b LIMIT %s",
                        [q, *params, q, limit]).fetchall()
                if len(rows) >= min(limit, size):
                    return [(r[0], float(r[1])) for r in rows]
                # the graph's neighbours were mostly filtered away: scan what the filter allows
            # exact: ORDER BY an expression the HNSW index cannot serve, over the user's rows
            rows = conn.execute(
                f"SELECT m.id, -(m.embedding <#> %b) AS s FROM {self._m} m WHERE {where} "
                f"AND m.embedding IS NOT NULL ORDER BY s DESC, m.id LIMIT %s",
                [q, *params, limit]).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def vectors(self, ids: Sequence[str], user: str) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        # the vectors as bytea (pgvector's binary form: dim, unused, big-endian float4s),
        # decoded in one numpy call: a search in a large scope asks for tens of thousands
        rows = self._read(f"SELECT id, vector_send(embedding) FROM {self._m} WHERE "
                          f"user_id = %s AND id = ANY(%s::text[]) AND embedding IS NOT NULL",
                          [user, list(ids)], binary=True)
        if not rows:
            return {}
        flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=">f4")
        vecs = flat.reshape(len(rows), -1)[:, 1:].astype(np.float32)  # (rows, dim)
        return {r[0]: vecs[j] for j, r in enumerate(rows)}

    def scores_at(self, rowids: np.ndarray, vector: np.ndarray, user: str) -> np.ndarray:
        """Inner products of ``vector`` with the rows ``rowids`` of ``user`` (the row ids
        ``light_rows`` returned; 0 for a row without a vector), computed by the server: for
        the pool's rows that neither retriever scored, without sending their vectors."""
        if len(rowids) == 0 or self.dim is None:
            return np.zeros(len(rowids))
        if vector.shape != (self.dim,):
            raise DimensionMismatch(self.dim, int(vector.shape[-1]))
        q = np.ascontiguousarray(vector, dtype=np.float32)
        rows = self._read(f"SELECT n, -(embedding <#> %b) FROM {self._m} WHERE user_id = %s "
                          f"AND n = ANY(%s) AND embedding IS NOT NULL",
                          [q, user, [int(r) for r in rowids]])
        got = {int(n): float(sc) for n, sc in rows}
        return np.array([got.get(int(r), 0.0) for r in rowids], dtype=np.float64)
