"""``PostgresBackend``: opening a store (DSN, bootstrap, pool) and the writes (insert with
per-conversation sequence numbers, update, access counts); the reads, searches and erasure are
the parts it is made of."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ...errors import InvalidInput, NotFound, StoreError
from ...index.scope import ScopeView
from ...model import Memory
from ...timeutil import now_us
from ..base import Filters, NewRow, ids_taken, row_blocks
from ..chunks import ChunkSet, prepared
from ..common import extra_from
from ..segment import fts_words
from .chunks import Chunks
from .connection import _import_psycopg, _register_vector
from .dsn import parse_dsn, redact
from .erasure import Erasure
from .extraction import ExtractionState
from .fulltext import FullText
from .reads import Reads
from .reindex import Reindex
from .schema import _COLS, DOC_LENGTH, Schema, _row_to_memory, ident, token_lengths
from .scope import ScopeReads
from .vector_index import VectorSearch

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

_COPY_COLS = _COLS + ", fts_extra, fts_text, tokens, embedding"
_COPY_TYPES = ["text", "text", "text", "text", "text", "text", "json", "float8", "int8", "int8",
               "int8", "int8", "text", "text[]", "int4", "int8", "bool", "int8", "int4", "text",
               "text", "int4", "vector"]
_UPDATABLE = {"text", "agent", "session", "kind", "metadata", "importance", "time",
              "valid_from", "valid_to", "superseded_by", "sources", "pinned", "expires_at"}


class PostgresBackend(Erasure, ExtractionState, Reads, Reindex, ScopeReads, FullText,
                      VectorSearch, Schema, Chunks):
    """One ltm store in one schema of a PostgreSQL database with pgvector. Thread-safe (a
    connection pool); safe with several processes writing at once."""

    def __init__(self, dsn: str, *, schema: str | None = None, hnsw_min_scope: int = 50_000,
                 hnsw_ef_search: int = 128, pool_min: int = 1, pool_max: int = 4,
                 connect_timeout: float = 30.0) -> None:
        psycopg, psycopg_pool = _import_psycopg()
        self._psycopg = psycopg
        self.dsn, self.schema = parse_dsn(dsn, schema)
        dsn = self.dsn
        try:  # libpq's own parse: an unknown option, a bad percent-escape, a missing "="
            psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as exc:
            raise InvalidInput(f"not a valid PostgreSQL connection string {redact(dsn)}: "
                               f"{str(exc).strip()}", field="dsn") from None
        self.hnsw_min_scope = hnsw_min_scope
        # user -> (scope view, user_stats version, docs, lexemes) of that version
        self._views: dict[str, tuple[ScopeView, int, int, int]] = {}
        self._views_lock = threading.Lock()
        self._chunk_cache = {}
        self._chunk_lock = threading.Lock()
        self._words = {}
        self.hnsw_ef_search = hnsw_ef_search
        s = ident(self.schema)
        self._s = s
        self._m = f"{s}.memories"
        self._h = f"{s}.history"
        self._st = f"{s}.user_stats"
        self.dim: int | None = None
        self._local = threading.local()
        self._cursors = itertools.count()
        self._indexed: set[str] = set()  # users whose HNSW index is known to be valid
        self._empty_scopes: set[str] = set()  # emptied in a transaction: index to drop
        self._meta_indexes: set[str] = set()  # metadata keys known to be indexed
        self._deferred: set[str] | None = None  # inside bulk_load(): scopes to index on exit
        self._defer_lock = threading.Lock()
        self.hnsw_build_mem = "1GB"  # maintenance_work_mem while building a scope's index
        self._made_schema = False  # this open created the schema (drop_created)
        self._recorded: set[str] = set()  # meta keys this backend wrote
        try:
            with psycopg.connect(dsn, autocommit=True,
                                 connect_timeout=max(1, int(connect_timeout))) as conn:
                self._bootstrap(conn)
        except psycopg.Error as exc:
            self.drop_created()  # (a migration that failed half-way through the new tables)
            raise StoreError(f"cannot open Postgres store {redact(dsn)} "
                             f"(schema {self.schema}): {exc}") from None
        except BaseException:
            self.drop_created()
            raise
        self.pool: ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            dsn, min_size=pool_min, max_size=max(pool_min, pool_max),
            kwargs={"autocommit": True}, configure=_register_vector, open=False,
            name=f"ltm-{self.schema}")
        try:
            self.pool.open(wait=True, timeout=connect_timeout)
            dim = self.get_meta("dim")
        except BaseException as exc:
            self.pool.close()
            self.drop_created()
            if isinstance(exc, psycopg_pool.PoolTimeout):
                raise StoreError(f"cannot connect to {redact(dsn)}: {exc}") from None
            raise
        self.dim = int(dim) if dim else None

    def abandon(self) -> None:
        """Close after an open that failed past this backend (``ltm.open``: the embedder): a
        schema this open created is dropped again (``drop_created``), so that a failed first
        open leaves nothing behind."""
        self.close()
        self.drop_created()

    # -- writes ---------------------------------------------------------------------------
    def insert(self, rows: Sequence[NewRow], vectors: np.ndarray | Iterable[np.ndarray]
               ) -> None:
        if not rows:
            return
        # Row blocks (possibly still being embedded) are copied as they arrive; kept, so that
        # an attempt retried after a deadlock sends the same vectors again.
        arrived: list[np.ndarray] = []
        pending = iter([vectors] if isinstance(vectors, np.ndarray) else vectors)

        def blocks() -> Iterator[np.ndarray]:
            yield from arrived
            for block in pending:
                arrived.append(block)
                yield block

        keys = sorted({(r.user, r.session) for r in rows if r.kind == "episode"
                       and r.session is not None and r.seq is None})
        assigned = {r.id: r.seq for r in rows}
        mine = Counter(r.user for r in rows)  # rows this insert adds to each scope
        extras = [extra_from(r.metadata) for r in rows]
        words = [fts_words(r.text) for r in rows]
        lengths = dict(zip((r.id for r in rows), token_lengths(
            zip((w or r.text for w, r in zip(words, rows)), extras))))
        extra_of = dict(zip((r.id for r in rows), extras))
        words_of = dict(zip((r.id for r in rows), words))
        # long memories' passage vectors, embedded before the transaction
        passages = prepared(self.chunker, [(r.user, r.id, r.text) for r in rows]) \
            if self.chunker is not None else []

        def work(conn: psycopg.Connection[Any]) -> list[str]:
            self._lock_users(conn, mine)
            seqs: dict[tuple[str, str | None], int] = {}
            if keys:
                # one conversation is appended to by one writer at a time
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM "
                             "unnest(%s::text[]) WITH ORDINALITY AS t(k, o) ORDER BY o",
                             [["seq\x1f" + u + "\x1f" + str(s) for u, s in keys]])
                for u, s, top in conn.execute(
                        f"SELECT m.user_id, m.session, max(m.seq) FROM {self._m} m JOIN "
                        f"unnest(%s::text[], %s::text[]) AS k(u, s) ON m.user_id = k.u AND "
                        f"m.session = k.s GROUP BY 1, 2",
                        [[k[0] for k in keys], [k[1] for k in keys]]):
                    seqs[(u, s)] = int(top) if top is not None else -1
            for row in rows:
                row.seq = assigned[row.id]  # a retried attempt starts from the caller's values
                if row.kind == "episode" and row.session is not None and row.seq is None:
                    key = (row.user, row.session)
                    seqs[key] = seqs.get(key, -1) + 1
                    row.seq = seqs[key]
            with conn.cursor() as cur:
                with cur.copy(f"COPY {self._m} ({_COPY_COLS}) FROM STDIN (FORMAT BINARY)"
                              ) as copy:
                    copy.set_types(_COPY_TYPES)
                    for part, block in row_blocks(rows, blocks(), self.dim):
                        for row, vec in zip(part, block):
                            copy.write_row((
                                row.user, row.id, row.agent, row.session, row.kind, row.text,
                                self._json(row.metadata) if row.metadata else None,
                                row.importance, row.time, row.recorded_at, row.valid_from,
                                row.valid_to, row.superseded_by, row.sources or None,
                                row.access_count, row.last_accessed, bool(row.pinned),
                                row.expires_at, row.seq, extra_of[row.id], words_of[row.id],
                                lengths[row.id], vec))
                with cur.copy(f"COPY {self._h} (user_id, memory_id, event, at) FROM STDIN "
                              f"(FORMAT BINARY)") as copy:
                    copy.set_types(["text", "text", "text", "int8"])
                    for row in rows:
                        copy.write_row((row.user, row.id, "created", row.recorded_at))
            self._put_chunks(conn, passages)
            cur = conn.execute(
                # a new row's version starts at the clock in microseconds: a user forgotten
                # whole (row deleted) and written again never repeats a version a client
                # may still hold for its cached scope view
                f"INSERT INTO {self._st} (user_id, docs, lexemes, version) "
                f"SELECT m.user_id, count(*), coalesce(sum({DOC_LENGTH}), 0), "
                f"(extract(epoch FROM clock_timestamp()) * 1000000)::bigint FROM {self._m} m "
                f"JOIN unnest(%s::text[], %s::text[]) AS k(u, i) ON m.user_id = k.u AND "
                f"m.id = k.i GROUP BY m.user_id ORDER BY m.user_id "
                f"ON CONFLICT (user_id) DO UPDATE SET docs = {self._st}.docs + excluded.docs, "
                f"lexemes = {self._st}.lexemes + excluded.lexemes, "
                f"version = {self._st}.version + 1 RETURNING user_id, docs",
                [[r.user for r in rows], [r.id for r in rows]])
            # a scope this insert took past the size is checked even when this process saw
            # its index once: another process may have dropped it (forget of the whole user)
            return [u for u, docs in cur.fetchall() if docs >= self.hnsw_min_scope and (
                u not in self._indexed or docs - mine[u] < self.hnsw_min_scope)]

        errors = self._psycopg.errors
        try:
            grown = self._retry(work)
        except errors.UniqueViolation:
            with self._conn() as conn:
                held = [i for (i,) in conn.execute(
                    f"SELECT m.id FROM {self._m} m JOIN unnest(%s::text[], %s::text[]) AS "
                    f"k(u, i) ON m.user_id = k.u AND m.id = k.i",
                    [[r.user for r in rows], [r.id for r in rows]])]
            raise ids_taken(rows, held) from None
        except (errors.UntranslatableCharacter, errors.CharacterNotInRepertoire,
                errors.InvalidTextRepresentation) as exc:
            raise InvalidInput(f"Postgres cannot store this value: {exc}") from None
        if getattr(self._local, "conn", None) is not None:
            self._local.grown.update(grown)  # built once the enclosing transaction commits
            return
        self._index_grown(grown)

    def update(self, memory_id: str, user: str, changes: dict[str, Any],
               vector: np.ndarray | None, event: str = "updated") -> Memory:
        bad = set(changes) - _UPDATABLE
        if bad:
            raise StoreError(f"cannot update {sorted(bad)}")
        names = [c.strip() for c in _COLS.split(",")]

        def work(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
            self._lock_users(conn, [user])
            old = conn.execute(f"SELECT {_COLS}, {DOC_LENGTH} FROM {self._m} m "
                               f"WHERE user_id = %s AND id = %s FOR UPDATE",
                               [user, memory_id]).fetchone()
            if old is None:
                raise NotFound(memory_id, user=user)
            before = dict(zip(names, old))
            values: dict[str, Any] = dict(changes)
            if "metadata" in values:
                values["metadata"] = self._json(values["metadata"]) if values["metadata"] \
                    else None
            if "sources" in values:
                values["sources"] = list(values["sources"]) or None
            if "pinned" in values:
                values["pinned"] = bool(values["pinned"])
            if "text" in values or "metadata" in values:
                merged = changes["metadata"] if "metadata" in changes else before["metadata"]
                values["fts_extra"] = extra_from(merged)
                text = changes["text"] if "text" in changes else before["text"]
                words = fts_words(text)  # (what the row's fts_text holds, or will)
                if "text" in changes:
                    values["fts_text"] = words
                values["tokens"] = token_lengths([(words or text, values["fts_extra"])])[0]
            if vector is not None:
                values["embedding"] = np.ascontiguousarray(vector, np.float32)
            sets = ", ".join(f"{ident(k)} = %s" for k in values)
            new = conn.execute(f"UPDATE {self._m} m SET {sets} WHERE user_id = %s AND id = %s "
                               f"RETURNING {_COLS}, {DOC_LENGTH}",
                               [*values.values(), user, memory_id]).fetchone()
            assert new is not None  # the row is locked
            if "text" in values or vector is not None:
                # the passages of the text or vector replaced go; a long text's come afresh
                self._drop_chunks(conn, user, memory_id)
                self._put_chunks(conn, prepared(self.chunker, [
                    (user, memory_id, values["text"] if "text" in values else before["text"])]))
            previous = {k: before[k] for k in changes if k in before}
            if previous.get("sources") is not None:
                previous["sources"] = list(previous["sources"])
            conn.execute(f"INSERT INTO {self._h} (user_id, memory_id, event, at, data) "
                         f"VALUES (%s, %s, %s, %s, %s)",
                         [user, memory_id, event, now_us(), self._jsonb(previous)])
            conn.execute(f"UPDATE {self._st} SET lexemes = lexemes + %s, version = version + 1 "
                         f"WHERE user_id = %s", [int(new[-1] or 0) - int(old[-1] or 0), user])
            return cast(tuple[Any, ...], new)

        return _row_to_memory(self._retry(work))

    def touch(self, ids: Sequence[str], at: int, user: str) -> None:
        if not ids:
            return
        ordered = sorted(set(ids))

        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute(f"UPDATE {self._m} SET access_count = access_count + 1, "
                         f"last_accessed = %s WHERE user_id = %s AND id = ANY(%s::text[])",
                         [at, user, ordered])

        self._retry(work)

    # -- reads of several statements on one connection, run again on the next connection
    # while the server has dropped theirs (Connection._read_again; one-statement reads do
    # it in _read): the first calls after a restart or pg_terminate_backend answer
    def scope_view(self, user: str) -> ScopeView | None:
        read = super().scope_view
        return self._read_again(lambda: read(user))

    def scope_count(self, user: str) -> int:
        read = super().scope_count
        return self._read_again(lambda: read(user))

    def light_rows(self, ids: Sequence[str], flt: Filters, *,
                   whole_sessions: bool) -> list[tuple[Any, ...]]:
        read = super().light_rows
        return self._read_again(lambda: read(ids, flt, whole_sessions=whole_sessions))

    def text_search(self, query: str, flt: Filters, limit: int) -> list[tuple[str, float]]:
        read = super().text_search
        return self._read_again(lambda: read(query, flt, limit))

    def scope_text(self, query: str, view: ScopeView, masks: Sequence[tuple[np.ndarray, int]]
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
        read = super().scope_text
        return self._read_again(lambda: read(query, view, masks))

    def dense_search(self, vector: np.ndarray, flt: Filters,
                     limit: int) -> list[tuple[str, float]]:
        read = super().dense_search
        return self._read_again(lambda: read(vector, flt, limit))

    def scope_indexed(self, user: str) -> bool:
        read = super().scope_indexed
        return self._read_again(lambda: read(user))

    def extraction_state(self, user: str, *, lock: bool = False) -> tuple[int, int, int]:
        read = super().extraction_state
        return self._read_again(lambda: read(user, lock=lock))

    def extraction_pending(self, user: str | None = None) -> dict[str, int]:
        read = super().extraction_pending
        return self._read_again(lambda: read(user))

    def migrations(self) -> list[str]:
        read = super().migrations
        return self._read_again(read)

    def chunk_set(self, user: str) -> ChunkSet | None:
        read = super().chunk_set
        return self._read_again(lambda: read(user))
