"""The PostgreSQL backend: pgvector for vectors (HNSW), tsvector + GIN for full text.

For several server processes, large multi-tenant deployments and managed databases; the
embedded SQLite store stays the default. ``ltm.open("postgresql://host/db?schema=ltm")`` picks
it. One store is one schema (default ``ltm``) in one database; tables are keyed by ``user_id``
first so that it can be the distribution column of a sharded Postgres (see pg_schema.py).

Retrieval, per read:

- full text: the query's content words OR-ed into a ``tsquery`` select the candidates through
  the GIN index (or the user's rows, whichever the planner prefers); each candidate gets a BM25
  score computed from its ``tsvector`` (term frequency from the positions, document length in
  lexemes), document frequencies over the matched set and N / average length from the per-user
  ``user_stats`` row. Higher is better, as with SQLite FTS5's negated bm25().
- dense: a user below ``hnsw_min_scope`` memories is scanned exactly (an ORDER BY the index
  cannot serve, over the user's rows); a larger scope uses the HNSW index with
  ``hnsw.ef_search`` raised to the request, and falls back to the exact scan whenever the
  graph's answer, after the user and other filters, comes back short.

Writes run in one transaction each, retried on deadlock or serialization failure; episode
sequence numbers are assigned under a per-(user, session) advisory lock, so several processes
can append to one conversation at once.
"""

from __future__ import annotations

import itertools
import logging
import re
import struct
import threading
import time as _time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from ..errors import DimensionMismatch, InvalidInput, MissingDependency, NotFound, StoreError
from ..index.scope import NO_EXPIRY, ScopeView
from ..model import ForgetReceipt, HistoryEvent, Memory
from ..timeutil import from_us, now_us
from .base import Filters, NewRow, ids_taken, row_blocks, scan_order
from .common import (
    BM25_B,
    BM25_K1,
    EXTRA_WEIGHT,
    IDF_MIN_DOCS,
    POSTGRES,
    extra_from,
    memory_from_columns,
    user_hash,
    where,
)
from .pg_schema import (
    TEXT_CONFIG,
    base_migrations,
    check_schema,
    dim_migration,
    ident,
    scope_index_name,
    scope_index_sql,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_SCHEMA = "ltm"
MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search
_RETRIES = 6
# scopes up to this many rows answer full-text queries by testing their own rows (see
# text_search): at 1,000 rows ~1 ms whatever the store's size
_TEXT_WALK_MAX = 5_000

_COLS = ("user_id, id, agent, session, kind, text, metadata, importance, time, recorded_at, "
         "valid_from, valid_to, superseded_by, sources, access_count, last_accessed, pinned, "
         "expires_at, seq")
_COPY_COLS = _COLS + ", fts_extra, embedding"
_COPY_TYPES = ["text", "text", "text", "text", "text", "text", "json", "float8", "int8", "int8",
               "int8", "int8", "text", "text[]", "int4", "int8", "bool", "int8", "int4", "text",
               "vector"]
_UPDATABLE = {"text", "agent", "session", "kind", "metadata", "importance", "time",
              "valid_from", "valid_to", "superseded_by", "sources", "pinned", "expires_at"}
_TOKEN = re.compile(r"\w+", re.UNICODE)


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def split_dsn(dsn: str) -> tuple[str, str | None]:
    """Take the ltm-only ``schema`` query parameter out of a postgres URL (libpq would reject
    it); key=value connection strings pass through unchanged."""
    if not is_postgres_url(dsn):
        return dsn, None
    parts = urlsplit(dsn)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    if is_postgres_url(dsn):
        parts = urlsplit(dsn)
        if parts.password:
            netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
        return dsn
    return re.sub(r"password\s*=\s*\S+", "password=***", dsn)


def query_words(text: str, limit: int = 64) -> list[str]:
    """The distinct lower-cased words of a query (letters, digits, underscore only: safe to
    quote into a tsquery)."""
    words = [w.lower() for w in _TOKEN.findall(text)]
    return list(dict.fromkeys(words))[:limit]


def _row_to_memory(r: Sequence[Any]) -> Memory:
    """A ``Memory`` from the first 19 columns of a row read as ``_COLS`` (psycopg has decoded
    the JSON metadata and the sources array already)."""
    return memory_from_columns(*r[:19])


def _import_psycopg() -> tuple[Any, Any]:
    try:
        import psycopg
        import psycopg_pool
    except ImportError:
        raise MissingDependency("psycopg", "postgres") from None
    return psycopg, psycopg_pool


def _register_vector(conn: psycopg.Connection[Any]) -> None:
    """Adapt numpy float32 arrays to and from pgvector's ``vector`` (binary and text)."""
    from psycopg.adapt import Dumper, Loader
    from psycopg.pq import Format
    from psycopg.types import TypeInfo

    info = TypeInfo.fetch(conn, "vector")
    if info is None:
        raise StoreError("the pgvector extension is not installed in this database")
    info.register(conn)
    vector_oid = info.oid

    class VecDumper(Dumper):
        format = Format.BINARY
        oid = vector_oid

        def dump(self, obj: Any) -> bytes:
            arr = np.asarray(obj, dtype=">f4").ravel()
            return struct.pack(">HH", arr.shape[0], 0) + arr.tobytes()

    class VecTextDumper(Dumper):
        oid = vector_oid

        def dump(self, obj: Any) -> bytes:
            arr = np.asarray(obj, dtype=np.float32).ravel()
            return ("[" + ",".join(repr(float(x)) for x in arr) + "]").encode()

    class VecLoader(Loader):
        format = Format.BINARY

        def load(self, data: Any) -> np.ndarray:
            return np.frombuffer(bytes(data)[4:], dtype=">f4").astype(np.float32)

    class VecTextLoader(Loader):
        def load(self, data: Any) -> np.ndarray:
            return np.array(bytes(data).decode()[1:-1].split(","), dtype=np.float32)

    conn.adapters.register_dumper(np.ndarray, VecTextDumper)
    conn.adapters.register_dumper(np.ndarray, VecDumper)
    conn.adapters.register_loader(info.oid, VecTextLoader)
    conn.adapters.register_loader(info.oid, VecLoader)


class PostgresBackend:
    """One ltm store in one schema of a PostgreSQL database with pgvector. Thread-safe (a
    connection pool); safe with several processes writing at once."""

    def __init__(self, dsn: str, *, schema: str | None = None, hnsw_min_scope: int = 50_000,
                 hnsw_ef_search: int = 128, pool_min: int = 1, pool_max: int = 4,
                 connect_timeout: float = 30.0) -> None:
        psycopg, psycopg_pool = _import_psycopg()
        self._psycopg = psycopg
        dsn, url_schema = split_dsn(dsn)
        self.dsn = dsn
        self.schema = check_schema(schema or url_schema or DEFAULT_SCHEMA)
        self.hnsw_min_scope = hnsw_min_scope
        # user -> (scope view, user_stats version, docs, lexemes) of that version
        self._views: dict[str, tuple[ScopeView, int, int, int]] = {}
        self._views_lock = threading.Lock()
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
        self._deferred: set[str] | None = None  # inside bulk_load(): scopes to index on exit
        self._defer_lock = threading.Lock()
        self.hnsw_build_mem = "1GB"  # maintenance_work_mem while building a scope's index
        try:
            with psycopg.connect(dsn, autocommit=True,
                                 connect_timeout=max(1, int(connect_timeout))) as conn:
                self._bootstrap(conn)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open Postgres store {redact(dsn)} "
                             f"(schema {self.schema}): {exc}") from None
        self.pool: ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            dsn, min_size=pool_min, max_size=max(pool_min, pool_max),
            kwargs={"autocommit": True}, configure=_register_vector, open=False,
            name=f"ltm-{self.schema}")
        try:
            self.pool.open(wait=True, timeout=connect_timeout)
        except psycopg_pool.PoolTimeout as exc:
            self.pool.close()
            raise StoreError(f"cannot connect to {redact(dsn)}: {exc}") from None
        dim = self.get_meta("dim")
        self.dim = int(dim) if dim else None

    # -- schema ---------------------------------------------------------------------------
    def _lock_key(self, conn: psycopg.Connection[Any], key: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])

    def _bootstrap(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            self._lock_key(conn, "ltm-bootstrap")
            have = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
            if not have:
                try:
                    with conn.transaction():
                        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except self._psycopg.errors.InsufficientPrivilege:
                    raise StoreError("the pgvector extension is missing and this role may not "
                                     "create it: run CREATE EXTENSION vector as a superuser"
                                     ) from None
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._s}")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {self._s}.migrations "
                         f"(name text PRIMARY KEY, applied_at bigint NOT NULL)")
        for name, statements in base_migrations(self._s):
            self._apply(conn, name, statements)

    def _apply(self, conn: psycopg.Connection[Any], name: str, statements: list[str]) -> None:
        """Apply one migration in its own transaction, once, whoever gets there first."""
        with conn.transaction():
            self._lock_key(conn, "ltm-migrate:" + self.schema)
            done = conn.execute(f"SELECT 1 FROM {self._s}.migrations WHERE name = %s",
                                [name]).fetchone()
            if done:
                return
            for statement in statements:
                conn.execute(cast(Any, statement))
            conn.execute(f"INSERT INTO {self._s}.migrations VALUES (%s, %s)", [name, now_us()])
            log.info("applied migration %s to schema %s", name, self.schema)

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        with self._conn() as conn:
            return [r[0] for r in conn.execute(
                f"SELECT name FROM {self._s}.migrations ORDER BY name")]

    # -- plumbing -------------------------------------------------------------------------
    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection of this thread's open ``atomic()`` block, else one from the pool."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def atomic(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction around several backend calls made by this thread (a savepoint when
        nested): what the store and policies use to group writes."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            with conn.transaction():
                yield conn
            return
        self._local.grown = set()
        with self.pool.connection() as conn, conn.transaction():
            self._local.conn = conn
            try:
                yield conn
            finally:
                self._local.conn = None
        self._index_grown(self._local.grown)  # committed: scopes that outgrew exact scans

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        with self._conn() as conn, conn.transaction():
            yield conn

    def _retry(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``work`` in one transaction; start over on deadlock / serialization failure
        (only at the outermost level: inside ``atomic()`` the caller's transaction is lost)."""
        errors = self._psycopg.errors
        if getattr(self._local, "conn", None) is not None:
            with self._tx() as conn:
                return work(conn)
        for attempt in range(_RETRIES):
            try:
                with self._tx() as conn:
                    return work(conn)
            except (errors.DeadlockDetected, errors.SerializationFailure):
                if attempt == _RETRIES - 1:
                    raise
                _time.sleep(0.005 * 2 ** attempt)
        raise AssertionError("unreachable")

    def _read(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False
              ) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            cur = conn.cursor(binary=binary)
            return cur.execute(cast(Any, sql), params).fetchall()

    def close(self) -> None:
        self.pool.close()

    def flush(self) -> None:
        """Nothing to persist: the database is the index."""

    def get_meta(self, key: str) -> str | None:
        rows = self._read(f"SELECT value FROM {self._s}.meta WHERE key = %s", [key])
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        if key == "dim":
            dim = int(value)
            if self.dim is not None and dim != self.dim:
                raise DimensionMismatch(self.dim, dim)
            with self._conn() as conn:
                self._apply(conn, *dim_migration(self._s, dim))
            self.dim = dim
        with self._tx() as conn:
            conn.execute(f"INSERT INTO {self._s}.meta VALUES (%s, %s) ON CONFLICT (key) "
                         f"DO UPDATE SET value = excluded.value", [key, value])

    @property
    def fingerprint(self) -> str:
        fp = self.get_meta("store_id")
        if fp is None:
            raise StoreError("store has no id")
        return fp

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

        def work(conn: psycopg.Connection[Any]) -> list[str]:
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
                                row.expires_at, row.seq, extra_from(row.metadata), vec))
                with cur.copy(f"COPY {self._h} (user_id, memory_id, event, at) FROM STDIN "
                              f"(FORMAT BINARY)") as copy:
                    copy.set_types(["text", "text", "text", "int8"])
                    for row in rows:
                        copy.write_row((row.user, row.id, "created", row.recorded_at))
            cur = conn.execute(
                f"INSERT INTO {self._st} (user_id, docs, lexemes) "
                f"SELECT m.user_id, count(*), coalesce(sum(length(m.tsv)), 0) FROM {self._m} m "
                f"JOIN unnest(%s::text[], %s::text[]) AS k(u, i) ON m.user_id = k.u AND "
                f"m.id = k.i GROUP BY m.user_id ORDER BY m.user_id "
                f"ON CONFLICT (user_id) DO UPDATE SET docs = {self._st}.docs + excluded.docs, "
                f"lexemes = {self._st}.lexemes + excluded.lexemes, "
                f"version = {self._st}.version + 1 RETURNING user_id, docs",
                [[r.user for r in rows], [r.id for r in rows]])
            return [u for u, docs in cur.fetchall()
                    if docs >= self.hnsw_min_scope and u not in self._indexed]

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
        with self.pool.connection() as conn:
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

    def _jsonb(self, value: Any) -> Any:
        from psycopg.types.json import Jsonb

        return Jsonb(value)

    def _json(self, value: Any) -> Any:
        from psycopg.types.json import Json

        return Json(value)

    def update(self, memory_id: str, user: str, changes: dict[str, Any],
               vector: np.ndarray | None, event: str = "updated") -> Memory:
        bad = set(changes) - _UPDATABLE
        if bad:
            raise StoreError(f"cannot update {sorted(bad)}")
        names = [c.strip() for c in _COLS.split(",")]

        def work(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
            old = conn.execute(f"SELECT {_COLS}, length(tsv) FROM {self._m} "
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
            if vector is not None:
                values["embedding"] = np.ascontiguousarray(vector, np.float32)
            sets = ", ".join(f"{ident(k)} = %s" for k in values)
            new = conn.execute(f"UPDATE {self._m} SET {sets} WHERE user_id = %s AND id = %s "
                               f"RETURNING {_COLS}, length(tsv)",
                               [*values.values(), user, memory_id]).fetchone()
            assert new is not None  # the row is locked
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

    # -- reads ----------------------------------------------------------------------------
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

    def _where(self, flt: Filters) -> tuple[str, list[Any]]:
        return where(flt, POSTGRES)

    def text_search(self, query: str, flt: Filters, limit: int) -> list[tuple[str, float]]:
        words = query_words(query)
        if not words:
            return []
        tsquery = " | ".join(f"'{w}'" for w in words)
        where, params = self._where(flt)
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        k1, b = BM25_K1, BM25_B
        cand, first = self._text_candidates("m.id", where, params, tsquery,
                                            self._walk_scope_for_text(flt.user))
        sql = f"""
WITH {cand},
tf AS (
    SELECT c.id, length(c.tsv) AS dl, u.lexeme,
           (SELECT sum(CASE WHEN w = 'A' THEN 1.0 ELSE {EXTRA_WEIGHT} END)
              FROM unnest(u.weights) AS w) AS f
    FROM cand c CROSS JOIN LATERAL unnest(c.tsv) AS u
    WHERE u.lexeme = ANY(tsvector_to_array(to_tsvector({cfg}, %s)))),
df AS (SELECT lexeme, count(*) AS n FROM tf GROUP BY lexeme),
st AS (
    SELECT greatest(coalesce(max(s.docs), 0), (SELECT count(*) FROM cand),
                    {IDF_MIN_DOCS})::float8 AS big_n,
           greatest(coalesce(max(s.lexemes)::float8 / nullif(max(s.docs), 0), 1.0), 1.0)
               AS avgdl
    FROM {self._st} s WHERE s.user_id = %s)
SELECT tf.id, sum(ln(1.0 + (st.big_n - df.n + 0.5) / (df.n + 0.5))
                  * tf.f * {k1 + 1} / (tf.f + {k1} * (1 - {b} + {b} * tf.dl / st.avgdl))) AS s
FROM tf JOIN df USING (lexeme) CROSS JOIN st
GROUP BY tf.id ORDER BY s DESC, tf.id LIMIT %s"""
        rows = self._read(sql, [*first, " ".join(words), flt.user, limit])
        return [(r[0], float(r[1])) for r in rows]

    def _text_candidates(self, key: str, where: str, params: list[Any], tsquery: str,
                         walk: bool) -> tuple[str, list[Any]]:
        """The ``cand`` CTE (``key``, tsv) of a full-text query and its parameters."""
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        if walk:
            # a small scope: test its own rows against the query, instead of intersecting
            # the store-wide postings of each word (which grow with the whole store)
            return (f"mine AS MATERIALIZED (SELECT {key} AS k, m.tsv FROM {self._m} m "
                    f"WHERE {where}),\ncand AS (SELECT m.k AS {key.split('.')[-1]}, m.tsv "
                    f"FROM mine m WHERE m.tsv @@ to_tsquery({cfg}, %s))", [*params, tsquery])
        return (f"cand AS (SELECT {key}, m.tsv FROM {self._m} m "
                f"WHERE m.tsv @@ to_tsquery({cfg}, %s) AND {where})", [tsquery, *params])

    def _walk_scope_for_text(self, user: str) -> bool:
        """Whether a full-text query of ``user`` reads the scope's own rows rather than the
        store-wide postings of its words: for a scope of at most ``_TEXT_WALK_MAX`` rows."""
        with self._conn() as conn:
            return 0 < self._scope_size(conn, user) <= _TEXT_WALK_MAX

    # -- user-scope fast path (ltm.retrieval.pipeline._search_scope) ------------------------
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
                f"coalesce(expires_at, {NO_EXPIRY}) FROM {self._m} WHERE user_id = %s "
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

    def scope_text(self, query: str, view: ScopeView, masks: Sequence[tuple[np.ndarray, int]]
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``text_search`` over the view: for each (allowed rows, limit), the positions of the
        best matching allowed rows and their scores, best first. The same BM25 as
        ``text_search`` with the filter the mask stands for (document frequencies among the
        allowed rows, N and average length from ``user_stats``), computed here from one
        read of the matching rows' term weights."""
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float64))
        words = query_words(query)
        if not words or len(view) == 0:
            return [empty for _ in masks]
        with self._views_lock:
            hit = self._views.get(view.user)
        if hit is not None and hit[0] is view:
            docs, lexemes = hit[2], hit[3]
        else:  # the cache was cleared meanwhile
            with self._conn() as conn:
                row = conn.execute(f"SELECT docs, lexemes FROM {self._st} WHERE user_id = %s",
                                   [view.user]).fetchone()
            docs, lexemes = (int(row[0]), int(row[1])) if row else (len(view), 0)
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        cand, first = self._text_candidates(
            "m.n", "m.user_id = %s", [view.user], " | ".join(f"'{w}'" for w in words),
            len(view) <= _TEXT_WALK_MAX)
        rows = self._read(
            f"WITH {cand} SELECT c.n, length(c.tsv), u.lexeme, "
            f"(SELECT sum(CASE WHEN w = 'A' THEN 1.0 ELSE {EXTRA_WEIGHT} END) "
            f"FROM unnest(u.weights) AS w) FROM cand c CROSS JOIN LATERAL unnest(c.tsv) AS u "
            f"WHERE u.lexeme = ANY(tsvector_to_array(to_tsvector({cfg}, %s)))",
            [*first, " ".join(words)])
        if not rows:
            return [empty for _ in masks]
        pos = view.positions(np.fromiter((r[0] for r in rows), np.int64, count=len(rows)))
        dl = np.fromiter((r[1] for r in rows), np.float64, count=len(rows))
        f = np.fromiter((r[3] for r in rows), np.float64, count=len(rows))
        _, lex = np.unique(np.array([r[2] for r in rows], dtype=object), return_inverse=True)
        keep = pos >= 0
        pos, dl, f, lex = pos[keep], dl[keep], f[keep], lex[keep]
        k1, b = BM25_K1, BM25_B
        avgdl = max(lexemes / docs, 1.0) if docs > 0 else 1.0
        out = []
        for allowed, limit in masks:
            ok = allowed[pos]
            if not ok.any():
                out.append(empty)
                continue
            p, d, w, t = pos[ok], dl[ok], f[ok], lex[ok]
            df = np.bincount(t, minlength=int(t.max()) + 1).astype(np.float64)[t]
            big_n = float(max(docs, len(np.unique(p)), IDF_MIN_DOCS))
            term = (np.log(1.0 + (big_n - df + 0.5) / (df + 0.5)) * w * (k1 + 1)
                    / (w + k1 * (1 - b + b * d / avgdl)))
            score = np.zeros(len(view), dtype=np.float64)
            np.add.at(score, p, term)
            hit_pos = np.unique(p)
            order = hit_pos[np.lexsort((view.id_rank[hit_pos], -score[hit_pos]))][:limit]
            out.append((order, score[order]))
        return out

    def label_rows(self, query: str, user: str) -> list[tuple[str, np.ndarray]]:
        """For each word of the query that labels some of the user's memories (their speaker,
        name, title or caption: the tsvector's weight-B part), the word and the row ids
        (``n``) of those memories: the speaker/entity match signal of ``ltm.retrieval``."""
        words = query_words(query)
        if not words:
            return []
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        rows = self._read(
            f"SELECT w, m.n FROM unnest(%s::text[]) AS w CROSS JOIN LATERAL ("
            f"SELECT n FROM {self._m} WHERE user_id = %s AND numnode(plainto_tsquery({cfg}, w))"
            f" > 0 AND tsv @@ to_tsquery({cfg}, quote_literal(w) || ':B')) m",
            [words, user])
        by_word: dict[str, list[int]] = {}
        for w, n in rows:
            by_word.setdefault(w, []).append(int(n))
        return [(w, np.sort(np.array(by_word[w], dtype=np.int64)))
                for w in words if w in by_word]

    def text_ceiling(self, query: str, user: str) -> float:
        """The query's own BM25 ceiling in ``user``'s scope: what an average-length memory
        holding every query lexeme once scores in ``text_search`` (the sum of the lexemes'
        IDFs over the user's rows). ``ltm.retrieval.calibrate`` divides BM25 by it."""
        words = query_words(query)
        if not words:
            return 0.0
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        rows = self._read(
            f"WITH q AS (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector({cfg}, %s))) "
            f"AS lexeme), st AS (SELECT greatest(coalesce(max(docs), 0), {IDF_MIN_DOCS})"
            f"::float8 AS big_n "
            f"FROM {self._st} WHERE user_id = %s) "
            f"SELECT st.big_n, (SELECT count(*) FROM {self._m} m WHERE m.user_id = %s "
            f"AND m.tsv @@ to_tsquery('simple', quote_literal(q.lexeme)))::float8 "
            f"FROM q CROSS JOIN st", [" ".join(words), user, user])
        out = 0.0
        for big_n, df in rows:
            out += float(np.log(1.0 + (big_n - df + 0.5) / (df + 0.5)))
        return out

    def _scope_size(self, conn: psycopg.Connection[Any], user: str) -> int:
        row = conn.execute(f"SELECT docs FROM {self._st} WHERE user_id = %s", [user]).fetchone()
        return int(row[0]) if row else 0

    def scope_count(self, user: str) -> int:
        """How many memories the user holds (its ``user_stats`` row): the pipeline asks fewer
        candidates of a scope large enough for HNSW."""
        with self._conn() as conn:
            return self._scope_size(conn, user)

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

    def history(self, memory_id: str, user: str) -> list[HistoryEvent]:
        rows = self._read(f"SELECT event, at, data FROM {self._h} WHERE user_id = %s AND "
                          f"memory_id = %s ORDER BY n", [user, memory_id])
        return [HistoryEvent(memory_id, e, from_us(at), dict(d) if d is not None else None)
                for e, at, d in rows]

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
        with self._tx() as conn:
            cur = conn.cursor(name=f"ltm_export_{next(self._cursors)}", binary=True)
            cur.itersize = 1000
            cur.execute(cast(Any, sql), params)
            for r in cur:
                yield _row_to_memory(r), r[-1]
            cur.close()

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
        return {"memories": sum(int(v) for v in kinds.values()),
                "by_kind": {k: int(v) for k, v in kinds.items()}, "users": int(users),
                "deleted_total": int(deleted), "bytes_on_disk": int(size), "dim": self.dim,
                "backend": "postgres", "schema": self.schema}

    # -- fact extraction (ltm.policies.extract) --------------------------------------------
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

    # -- forgetting -----------------------------------------------------------------------
    def forget(self, user: str, *, ids: Sequence[str] | None, session: str | None,
               before: int | None, compact: bool = True) -> ForgetReceipt:
        sql = ["user_id = %s"]
        params: list[Any] = [user]
        if ids is not None:
            sql.append("id = ANY(%s::text[])")
            params.append(list(ids))
        if session is not None:
            sql.append("session = %s")
            params.append(session)
        if before is not None:
            sql.append("time < %s")
            params.append(before)
        where = " AND ".join(sql)
        at = now_us()

        def work(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
            victims = conn.execute(f"DELETE FROM {self._m} WHERE {where} "
                                   f"RETURNING n, id, kind, length(tsv)", params).fetchall()
            victims.sort()
            by_kind: dict[str, list[str]] = {}
            for _, mid, kind, _ in victims:
                by_kind.setdefault(kind, []).append(mid)
            if not victims:
                return by_kind
            gone = [v[1] for v in victims]
            # history keeps a content-free tombstone only
            conn.execute(f"DELETE FROM {self._h} WHERE user_id = %s AND "
                         f"memory_id = ANY(%s::text[])", [user, gone])
            conn.execute(f"INSERT INTO {self._h} (user_id, memory_id, event, at) "
                         f"SELECT %s, i, 'deleted', %s FROM unnest(%s::text[]) AS i",
                         [user, at, gone])
            conn.execute(f"UPDATE {self._st} SET docs = docs - %s, lexemes = lexemes - %s, "
                         f"version = version + 1 WHERE user_id = %s",
                         [len(victims), sum(int(v[3] or 0) for v in victims), user])
            conn.execute(f"INSERT INTO {self._s}.deletions (at, user_hash, count, ids) "
                         f"VALUES (%s, %s, %s, %s)",
                         [at, user_hash(user), len(victims), self._jsonb(by_kind)])
            return by_kind

        by_kind = self._retry(work)
        count = sum(len(v) for v in by_kind.values())
        if count and compact:
            self.compact()
        return ForgetReceipt(count=count, ids_by_kind=by_kind, at=from_us(at))

    def scrub_history(self, memory_id: str, user: str) -> None:
        """Drop the earlier values recorded in a memory's history (keeping the events), for a
        memory rewritten because content it was derived from was forgotten."""
        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute(f"UPDATE {self._h} SET data = NULL WHERE user_id = %s AND "
                         f"memory_id = %s", [user, memory_id])

        self._retry(work)

    def compact(self, full: bool = False) -> None:
        """Make erased content unreachable: VACUUM removes the deleted tuples from the tables
        and B-tree indexes, and the full-text GIN index is rebuilt (REINDEX CONCURRENTLY; GIN
        never drops a word's entry, so the words of erased text would stay in it). Neither
        blocks readers or writers. VACUUM frees a dead tuple's space without zeroing it, so
        its bytes can stay in a table page until reused; ``full=True`` rewrites the tables
        (VACUUM FULL: new files, but an exclusive lock for the duration). WAL, backups and
        replicas: see docs/postgres.md."""
        if getattr(self._local, "conn", None) is not None:
            return  # cannot run inside a transaction; the next compact() or gc does it
        with self.pool.connection() as conn:
            if full:
                conn.execute(cast(Any, f"VACUUM FULL {self._m}, {self._h}"))
                return
            conn.execute(cast(Any, f"VACUUM {self._m}, {self._h}"))
            try:
                conn.execute(cast(Any, f"REINDEX INDEX CONCURRENTLY {self._s}.memories_tsv"))
            except self._psycopg.Error as exc:  # e.g. another process reindexes right now
                log.warning("rebuilding the full-text index failed: %s", exc)
