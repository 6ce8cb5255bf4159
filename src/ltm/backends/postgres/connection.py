"""What every part of the PostgreSQL backend shares: psycopg (imported lazily) and its vector
adapters, the connection pool, transactions (``atomic``, retried work), meta rows and the SQL
conditions of a ``Filters``."""

from __future__ import annotations

import itertools
import select
import struct
import threading
import time as _time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from ...errors import ConnectionLost, MissingDependency, StoreBusy, StoreError
from ...index.scope import ScopeView
from ..base import Filters
from ..chunks import Chunker, ChunkSet
from ..common import POSTGRES, where

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

T = TypeVar("T")
_RETRIES = 6


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



class Connection:
    """The pool and the state the parts of ``PostgresBackend`` keep (each part is a class of
    its own module; ``PostgresBackend.__init__`` sets every attribute below)."""

    _psycopg: Any  # the psycopg module
    dsn: str
    schema: str
    pool: ConnectionPool[Any]
    dim: int | None
    hnsw_min_scope: int
    hnsw_ef_search: int
    hnsw_build_mem: str  # maintenance_work_mem while building a scope's index
    # quoted names: the schema, memories, history, user_stats
    _s: str
    _m: str
    _h: str
    _st: str
    _local: threading.local  # .conn: this thread's open atomic() block; .grown: its scopes
    _cursors: itertools.count[int]  # names of server-side cursors
    # user -> (scope view, user_stats version, docs, lexemes) of that version (scope.py)
    _views: dict[str, tuple[ScopeView, int, int, int]]
    _views_lock: threading.Lock
    chunker: Chunker | None  # (chunks.Chunks: set by the engine, None by default)
    # user -> (the user_stats version it was read under, the user's passage vectors or None)
    # (chunks.Chunks.chunk_set)
    _chunk_cache: dict[str, tuple[int, ChunkSet | None]]
    _chunk_lock: threading.Lock
    # user -> (scope view, query words, (docs, the matching rows' positions, their lexemes'
    # indexes, the query's lexemes)) of the user's last scope_text (fulltext.scope_words)
    _words: dict[str, tuple[ScopeView, tuple[str, ...],
                            tuple[int, np.ndarray, np.ndarray, int]]]
    _indexed: set[str]  # users whose HNSW index is known to be valid (vector_index.py)
    _empty_scopes: set[str]  # users emptied inside a transaction: their HNSW index to drop
    _meta_indexes: set[str]  # metadata keys known to be indexed (reads.metadata_index)

    if TYPE_CHECKING:  # (erasure.py)
        def _drop_scope_index(self, user: str) -> None: ...
    _deferred: set[str] | None  # inside bulk_load(): scopes to index on exit
    _defer_lock: threading.Lock

    if TYPE_CHECKING:  # what the parts call of each other
        def _index_grown(self, users: Iterable[str]) -> None: ...

    def _where(self, flt: Filters) -> tuple[str, list[Any]]:
        return where(flt, POSTGRES)

    def _lock_key(self, conn: psycopg.Connection[Any], key: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])

    def _lock_users(self, conn: psycopg.Connection[Any], users: Iterable[str]) -> None:
        """Take the users' write locks (advisory, until the transaction ends), in one order.
        Every transaction that writes a user's memories takes it first (insert, update,
        forget, hold_sources), so their row locks never wait on each other in a cycle: a
        forget (memory rows, then user_stats) and a deduplicated insert (user_stats, then the
        memory it reinforces) deadlocked, one of them lost (25 of 480 operations of 4
        threads on one user)."""
        keys = sorted({f"ltm-user:{self.schema}:{u}" for u in users})
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM "
                     "unnest(%s::text[]) WITH ORDINALITY AS t(k, o) ORDER BY o", [keys])

    def lock_meta(self, key: str) -> None:
        """(``Backend.lock_meta``) An advisory lock on the key, released when the ``atomic()``
        transaction ends."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            raise StoreError(f"lock_meta({key!r}) needs an open atomic() block")
        self._lock_key(conn, f"ltm-meta:{self.schema}:{key}")

    @contextmanager
    def _lost(self) -> Iterator[None]:
        """A connection the server dropped (a restart, pg_terminate_backend, a network
        failure), or none to be had, as ``StoreError``; deadlocks and serialization failures
        pass (``_retry`` starts those over)."""
        psycopg = self._psycopg
        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if _conflict(exc):
                raise
            from .dsn import redact  # (dsn imports schema, which imports this module)

            raise StoreError(f"the connection to {redact(self.dsn)} (schema {self.schema}) "
                             f"failed: {exc}") from exc

    @contextmanager
    def _dropped(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """A failure that left ``conn`` closed (the server dropped it while it was used) as
        ``ConnectionLost``; other errors pass."""
        psycopg = self._psycopg
        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if not conn.closed or _conflict(exc):
                raise
            raise ConnectionLost(self._lost_message(exc, committing=False)) from exc

    def _lost_message(self, exc: BaseException, *, committing: bool) -> str:
        from .dsn import redact  # (dsn imports schema, which imports this module)

        lost = (f"the connection to {redact(self.dsn)} (schema {self.schema}) was lost "
                f"({_first_line(exc)})")
        if committing:
            return (lost + " while a write committed: it may or may not have been applied "
                    "(read it back before retrying)")
        return lost + "; nothing of this call was written (its transaction was rolled back): retry"

    @contextmanager
    def _pooled(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection of the pool (its failures as ``StoreError``, a connection the server
        dropped while it was used as ``ConnectionLost``), passing over those the server closed
        while they sat idle (``closed_while_idle``): the pool replaces them, so the first
        operations after a server restart do not fail (the pool's own ``check`` hook would
        wait 1, 2, 4 ... seconds between the stale connections it meets)."""
        with self._lost():
            for _ in range(self.pool.max_size):
                with self.pool.connection() as conn:
                    if not closed_while_idle(conn):
                        with self._dropped(conn):
                            yield conn
                        return
            with self.pool.connection() as conn:  # fresh ones by now
                with self._dropped(conn):
                    yield conn

    @contextmanager
    def _begun(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in a transaction of its own. A connection the server dropped
        that the idle poll cannot see (pg_terminate_backend or a restart a moment ago, a
        proxy or a network that lost it) fails its BEGIN: nothing ran on it, so the next one
        is taken (each such one the pool drops). A connection lost while the transaction
        commits is ``ConnectionLost`` with ``maybe_written`` (the server may have committed
        before the loss)."""
        for attempt in range(self.pool.max_size + 1):
            began = committing = False
            try:
                with ExitStack() as stack:
                    conn = stack.enter_context(self._pooled())
                    stack.enter_context(conn.transaction())  # (sends BEGIN)
                    began = True
                    yield conn
                    committing = True  # (leaving the stack sends COMMIT)
                return
            except ConnectionLost as exc:
                if committing:
                    raise ConnectionLost(self._lost_message(exc.__cause__ or exc,
                                                            committing=True),
                                         maybe_written=True) from exc.__cause__
                if began or attempt == self.pool.max_size:
                    raise

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection of this thread's open ``atomic()`` block, else one from the pool."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self._pooled() as conn:
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
        try:
            with self._begun() as conn:
                self._local.conn = conn
                try:
                    yield conn
                finally:
                    self._local.conn = None
        except self._psycopg.OperationalError as exc:
            if not _conflict(exc):
                raise
            # a deadlock or serialization failure lost the whole transaction, which only
            # the caller can run again
            raise StoreBusy(f"the transaction conflicted with another writer and was rolled "
                            f"back ({str(exc).splitlines()[0]}); retry") from exc
        self._index_grown(self._local.grown)  # committed: scopes that outgrew exact scans
        for user in sorted(self._empty_scopes):  # committed: scopes a forget emptied
            self._drop_scope_index(user)

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:  # (a savepoint in this thread's atomic() block)
            with conn.transaction():
                yield conn
            return
        with self._begun() as conn:
            yield conn

    def _retry(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``work`` in one transaction; start over on deadlock / serialization failure,
        and once on a fresh connection when the server dropped the one it ran on before it
        committed (only at the outermost level: inside ``atomic()`` the caller's transaction
        is lost)."""
        errors = self._psycopg.errors
        if getattr(self._local, "conn", None) is not None:
            with self._tx() as conn:
                return work(conn)
        conflicts = lost = 0
        while True:
            try:
                with self._tx() as conn:
                    return work(conn)
            except (errors.DeadlockDetected, errors.SerializationFailure) as exc:
                conflicts += 1
                if conflicts == _RETRIES:
                    raise StoreBusy(f"a write conflicted with other writers {_RETRIES} times "
                                    f"({str(exc).splitlines()[0]}); retry") from exc
                _time.sleep(0.005 * 2 ** (conflicts - 1))
            except ConnectionLost as exc:
                lost += 1
                if exc.maybe_written or lost > self.pool.max_size:
                    raise
                # rolled back with the connection: nothing of it was written

    def _read_again(self, read: Callable[[], T]) -> T:
        """``read()``, which writes nothing, run again on the next connection while the
        server has dropped the one it ran on (each such one the pool drops); not inside
        ``atomic()``, whose transaction is lost with it."""
        if getattr(self._local, "conn", None) is not None:
            return read()
        for _ in range(self.pool.max_size):
            try:
                return read()
            except ConnectionLost:
                pass
        return read()

    def _read(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False
              ) -> list[tuple[Any, ...]]:
        def read() -> list[tuple[Any, ...]]:
            with self._conn() as conn:
                cur = conn.cursor(binary=binary)
                return cur.execute(cast(Any, sql), params).fetchall()

        return self._read_again(read)

    def close(self) -> None:
        self.pool.close()

    def flush(self) -> None:
        """Nothing to persist: the database is the index."""

    def get_meta(self, key: str) -> str | None:
        rows = self._read(f"SELECT value FROM {self._s}.meta WHERE key = %s", [key])
        return rows[0][0] if rows else None

    def delete_meta(self, key: str) -> None:
        with self._tx() as conn:
            conn.execute(f"DELETE FROM {self._s}.meta WHERE key = %s", [key])

    @property
    def fingerprint(self) -> str:
        fp = self.get_meta("store_id")
        if fp is None:
            raise StoreError("store has no id")
        return fp

    def _jsonb(self, value: Any) -> Any:
        """``value`` as a jsonb parameter. jsonb cannot hold NUL, which metadata (json) can:
        a NUL in a string or key reads as U+FFFD there (a history record of such metadata)."""
        from psycopg.types.json import Jsonb

        return Jsonb(_without_nul(value))

    def _json(self, value: Any) -> Any:
        from psycopg.types.json import Json

        return Json(value)

    def _scope_size(self, conn: psycopg.Connection[Any], user: str) -> int:
        row = conn.execute(f"SELECT docs FROM {self._st} WHERE user_id = %s", [user]).fetchone()
        return int(row[0]) if row else 0


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _conflict(exc: BaseException) -> bool:
    """Whether a psycopg error is a transaction's conflict with another (SQLSTATE class 40:
    deadlock, serialization failure), which starting over resolves."""
    return str(getattr(exc, "sqlstate", None) or "").startswith("40")


def closed_while_idle(conn: psycopg.Connection[Any]) -> bool:
    """Whether the server closed ``conn`` while it sat idle in the pool (a restart,
    pg_terminate_backend, idle_session_timeout): such a connection has the server's last
    message, or the end of the stream, waiting on its socket, where an idle connection in good
    health has nothing. It is then closed (the pool drops it when it is returned). A poll of
    the socket, no round trip."""
    if conn.closed:
        return True
    try:
        ready = bool(select.select([conn.fileno()], [], [], 0)[0])
    except (OSError, ValueError):
        ready = True
    if ready:
        conn.close()
    return ready


def _without_nul(value: Any) -> Any:
    """A copy of ``value`` (JSON data) with each NUL in its strings and keys replaced by
    U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nul(v) for v in value]
    return value
