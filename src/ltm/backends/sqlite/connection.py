"""What every part of the SQLite backend shares: one connection under one lock, its
transactions (``atomic``), the migrations run on open, the meta rows, the marks that the
caches are keyed on (the store's write mark, each user's version), and the SQL conditions of a
``Filters``."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ...errors import StoreBusy, StoreError
from ...index.exact import VectorIndex
from ...index.hnsw import HnswScope
from ...index.scope import ScopeView
from ...timeutil import now_us
from ..base import Filters
from ..chunks import Chunker, ChunkSet
from ..common import SQLITE, where
from . import schema
from .schema import DB_NAME, _is_busy, _split_sql

log = logging.getLogger(__name__)

# SQLite's errors that say the file cannot take a write (its own state, not the statement's):
# they leave atomic() as StoreError
_FILE_ERRORS = ("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN",
                "SQLITE_CORRUPT", "SQLITE_NOTADB")


def _error_name(exc: sqlite3.Error) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


def _file_error(exc: sqlite3.DatabaseError) -> bool:
    return _error_name(exc).startswith(_FILE_ERRORS)


_STORE = object()  # the write mark's key among a thread's pins (``Connection.pinned``)
_APPENDS_KEPT = 64  # own inserts held per user (``Connection._own_appends``) ...
_APPENDS_USERS = 4096  # ... and users


class Connection:
    """The connection and the state the parts of ``SqliteBackend`` keep on it (each part is
    a class of its own module; ``SqliteBackend.__init__`` sets every attribute below)."""

    folder: Path
    conn: sqlite3.Connection
    dim: int | None
    hnsw_min_scope: int
    hnsw_ef_search: int
    _lock: threading.RLock
    _depth: int  # transactions and savepoints open
    _commits: int  # own commits that changed memories (part of the write mark)
    _access_only: bool  # a commit of access counts only: caches stay valid
    _wrote_vectors: bool
    _inserted: int  # rows this connection inserted (full-text merge on close)
    _rollbacks: int = 0  # own rollbacks (part of every user mark: see _user_mark)
    _ended: int = 0  # own transactions ended, committed or rolled back (see ``pinned``)
    # per thread, while it is in ``pinned(user)``: user -> its user_versions row, and _STORE
    # -> the write mark, each with _ended as it was read (None: not read yet)
    _pins: threading.local
    # caches, each valid while the mark it was read under holds: the store's write mark
    # (_write_mark) for what counts the whole store, the user's mark (_user_mark) for what
    # reads one user's rows
    _count_cache: dict[tuple[str, str], tuple[int, tuple[int, int]]]
    _df_cache: dict[str, int]  # term -> memories holding it, as of _df_mark
    _df_mark: tuple[int, int] | None
    _scope_df_cache: dict[tuple[str, str], tuple[int, tuple[int, int]]]
    _scope_cache: dict[str, tuple[ScopeView, tuple[int, int]]]
    # user -> (view, the index's row ids of the user, their places in the view, which are in
    # it, the index order of each view row or None): see ScopeCache.scope_dense
    _dense_places: dict[str, tuple[ScopeView, np.ndarray, np.ndarray, np.ndarray,
                                   np.ndarray | None]]
    _averages_cache: tuple[tuple[int, float] | None, tuple[int, int]] | None
    # user -> (mean tokens per row of the user's memories, the user mark it was read under,
    # the tokens of its rows)
    _scope_avgdl_cache: dict[str, tuple[float | None, tuple[int, int], int]]
    # user -> (its mark, (kind, term or terms) -> the user's postings of query terms)
    # (postings.PostingsCache._postings)
    _postings_cache: dict[str, tuple[tuple[int, int],
                                     dict[tuple[str, str], tuple[np.ndarray, ...]]]]
    _postings_rows: int
    # (user, id) -> (the user's held mark, the memory's row, decoded: reads._held)
    # (Reads.get_many)
    _held_cache: dict[tuple[str, str], tuple[tuple[int, int, int],
                                             tuple[tuple[Any, ...], Any, Any]]]
    chunker: Chunker | None  # (chunks.Chunks: set by the engine, None by default)
    # user -> (the user mark it was read under, the user's passage vectors or None)
    # (chunks.Chunks.chunk_set)
    _chunk_cache: dict[str, tuple[tuple[int, int], ChunkSet | None]]
    _snap_pending: set[str]  # users whose scope snapshot is to be written
    # user -> this connection's committed inserts of the user's rows and changes of their
    # scoring columns alone, oldest first: (the user's version before, after, an insert's
    # first and last row id and the user's rows in it (-1, -1, 0 for a change), the row id
    # a change rewrote (-1 for an insert)); ``_appends_txn``: (user, ...) of the open
    # transaction's (see ``_own_appends``)
    _appends: dict[str, list[tuple[int, int, int, int, int, int]]]
    _appends_txn: list[tuple[str, int, int, int, int, int, int]]
    _meta_indexes: set[str]  # metadata key indexes known to exist (metadata_index)
    _time_indexes: set[str]  # large scopes' time indexes known to exist ...
    _time_schema: int  # ... as of this PRAGMA schema_version (another process may drop one)
    # the vector index (vectors.py)
    _index: VectorIndex | None
    _hnsw: dict[str, HnswScope]
    _hnsw_saved: dict[str, tuple[int, int]]  # user: (generation, epoch) on disk
    _data_version: int
    # the vector index was loaded or caught up inside the open transaction, so it may hold
    # that transaction's uncommitted writes (dropped if it rolls back)
    _index_in_txn: bool

    if TYPE_CHECKING:  # what the parts call of each other
        def _vector_index(self) -> VectorIndex: ...
        def _hnsw_scope(self, user: str, idx: VectorIndex) -> HnswScope | None: ...
        def _scope_count(self, user: str, mark: tuple[int, int] | None = None) -> int: ...
        def _allowed_rowids(self, flt: Filters) -> np.ndarray: ...
        def _time_index(self, user: str) -> str | None: ...
        def _metadata_index_for(self, flt: Filters) -> str | None: ...
        def _count_tokens(self, user: str) -> int: ...
        def _merge_fts(self, c: sqlite3.Connection) -> None: ...
        def _drop_postings(self, user: str) -> None: ...
        def _grow_postings(self, user: str, term: str, old: Any, mark: tuple[int, int]
                           ) -> None: ...
        def flush(self, *, erasing: bool = False) -> None: ...

    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """One transaction (BEGIN IMMEDIATE), or a savepoint when nested."""
        with self._lock:
            if self._depth == 0:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if _is_busy(exc):
                        raise StoreBusy("another process holds the store's write lock; "
                                        "nothing was written, retry shortly") from exc
                    raise StoreError(f"cannot start a transaction: {exc}") from exc
            else:
                self.conn.execute(f"SAVEPOINT sp{self._depth}")
            self._depth += 1
            try:
                yield self.conn
            except BaseException as error:
                self._depth -= 1
                # SQLite has rolled the whole transaction back itself after some errors (a
                # corrupt table, a full disk): rolling back again would only replace the error
                try:
                    if not self.conn.in_transaction:
                        pass
                    elif self._depth == 0:
                        self.conn.execute("ROLLBACK")
                    else:
                        self.conn.execute(f"ROLLBACK TO sp{self._depth}")
                        self.conn.execute(f"RELEASE sp{self._depth}")
                finally:
                    self._drop_uncommitted()
                if self._depth == 0 and isinstance(error, sqlite3.DatabaseError) \
                        and _file_error(error):
                    raise self._unwritable(error) from error
                raise
            self._depth -= 1
            if self._depth == 0:
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.DatabaseError as exc:
                    # a full disk or an I/O error at the commit: without the rollback the
                    # connection would stay inside this transaction and refuse every write
                    try:
                        if self.conn.in_transaction:
                            self.conn.execute("ROLLBACK")
                    finally:
                        self._drop_uncommitted()
                    raise self._unwritable(exc) from exc
                self._index_in_txn = False
                self._ended += 1
                self._keep_appends()
                if not self._access_only:  # own commits do not move PRAGMA data_version
                    self._commits += 1
                # PRAGMA data_version only moves for other connections' commits: make the
                # next read catch the vector index up with this connection's own writes
                self._data_version = -1
            else:
                self.conn.execute(f"RELEASE sp{self._depth}")

    def _unwritable(self, exc: sqlite3.DatabaseError) -> StoreError:
        """The typed error of a write the file refused (read-only, full disk, I/O error),
        after its transaction was rolled back."""
        if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            return StoreBusy("another process holds the store's write lock; nothing was "
                             "written, retry shortly")
        what = " (the store is read-only)" if "READONLY" in _error_name(exc) else ""
        return StoreError(f"cannot write to {self.folder / DB_NAME}{what}: {exc}; nothing "
                          "was written")

    def _drop_uncommitted(self) -> None:
        """After a rollback: what this connection read inside the transaction may hold its
        writes, which are gone. The caches keyed on the write mark or a user's mark are
        invalidated (the users' versions the transaction took are given again), and a
        vector index loaded or caught up inside it (from log entries that no longer exist,
        whose positions and row ids the next writes take again) is loaded afresh."""
        self._commits += 1
        self._rollbacks += 1
        self._ended += 1
        self._data_version = -1
        self._appends_txn.clear()
        if self._index_in_txn:
            self._index = None
            self._hnsw.clear()
            self._dense_places.clear()
            if self._depth == 0:
                self._index_in_txn = False

    def _migrate(self) -> None:
        self.conn.execute("CREATE TABLE IF NOT EXISTS migrations "
                          "(name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
        done = {r[0] for r in self.conn.execute("SELECT name FROM migrations")}
        newer = sorted(done - {name for name, _ in schema.MIGRATIONS})
        if newer:  # its tables may hold what this version would not keep up to date
            raise StoreError(f"{self.folder / DB_NAME} was written by a newer version of ltm "
                             f"(unknown migrations: {', '.join(newer)}); upgrade ltm to open it")
        for name, sql in schema.MIGRATIONS:
            if name in done:
                continue
            with self.atomic() as c:
                if c.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                    continue  # another process applied it while we waited
                for statement in _split_sql(sql):
                    c.execute(statement)
                c.execute("INSERT INTO migrations VALUES (?, ?)", (name, now_us()))
                log.info("applied migration %s", name)

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.atomic() as c:
            c.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                      "SET value = excluded.value", (key, value))
        if key == "dim":
            self.dim = int(value)

    def delete_meta(self, key: str) -> None:
        with self.atomic() as c:
            c.execute("DELETE FROM meta WHERE key = ?", (key,))

    def lock_meta(self, key: str) -> None:
        """(``Backend.lock_meta``) The transaction began with BEGIN IMMEDIATE: it holds the
        store's write lock already, so another read-modify-write waits for its end."""
        if self._depth == 0:
            raise StoreError(f"lock_meta({key!r}) needs an open atomic() block")

    @property
    def fingerprint(self) -> str:
        fp = self.get_meta("store_id")
        if fp is None:
            raise StoreError("store has no id")
        return fp

    def _write_mark(self) -> tuple[int, int]:
        """Changes whenever this or another connection commits: the key of what counts the
        whole store (its rows, a term's store-wide postings, FTS5's averages). Read once in
        ``pinned``."""
        return self._pinned_read(_STORE, self._read_write_mark)

    def _read_write_mark(self) -> tuple[int, int]:
        return (self.conn.execute("PRAGMA data_version").fetchone()[0], self._commits)

    @contextmanager
    def pinned(self, user: str) -> Iterator[None]:
        """One search of ``user``'s memories (``ltm.retrieval.pipeline``): inside it, this
        thread reads the user's row of ``user_versions`` once, at its first read of the
        user's caches, instead of once for each of the search's calls (the scope view, its
        labels, its full text, the BM25 ceiling, the rows: five index probes, each a read
        transaction of its own), and the write mark once (not once for each query word read
        cold). Both are read again after any transaction of this connection ends (this or
        another thread's write, a rollback); another process's commit during the search goes
        unseen until its end, as one between a call's mark and its rows always did: what the
        caches then hold under the older mark is never served under a newer one, since the
        marks only grow."""
        pins = self._pin_dict()
        fresh = [key for key in (user, _STORE) if key not in pins]  # (nested: the outer's)
        for key in fresh:
            pins[key] = None
        try:
            yield
        finally:
            for key in fresh:
                del pins[key]

    def _user_version(self, user: str) -> tuple[int, int]:
        """The user's row of ``user_versions`` (one index probe, or none inside ``pinned``):
        (version, rows whose access counts changed); (0, 0) for a user without memories. The
        version moves in the transaction of every insert, delete and change of the user's
        rows, whichever connection writes, and is never given twice (migration 0010)."""
        return self._pinned_read(user, lambda: self._read_user_version(user))

    def _read_user_version(self, user: str) -> tuple[int, int]:
        row = self.conn.execute("SELECT v, touched FROM user_versions WHERE user = ?",
                                (user,)).fetchone()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def _pin_dict(self) -> dict[object, tuple[tuple[int, int], int] | None]:
        """This thread's pins (``_pins``)."""
        return cast("dict[object, tuple[tuple[int, int], int] | None]", self._pins.__dict__)

    def _pinned_read(self, key: object, read: Callable[[], tuple[int, int]]
                     ) -> tuple[int, int]:
        """``read()``, or inside ``pinned`` what it gave at the pin's first read of ``key``
        (read again once a transaction of this connection has ended since)."""
        pins = self._pin_dict()
        if not pins or key not in pins:
            return read()
        pin = pins[key]
        if pin is not None and pin[1] == self._ended:
            return pin[0]
        got = read()
        pins[key] = (got, self._ended)
        return got

    def _user_mark(self, user: str) -> tuple[int, int]:
        """Changes whenever ``user``'s memories change (in this or another connection), not
        when another user's do: the key of the caches of one user's rows (scope view and
        count, BM25 lengths and document frequencies within the scope, postings). Own
        rollbacks move it too (the versions a rolled-back transaction took are given again)."""
        return (self._user_version(user)[0], self._rollbacks)

    def _keep_appends(self) -> None:
        """At a commit: the inserts of the transaction join their users' ``_appends``."""
        if not self._appends_txn:
            return
        if len(self._appends) > _APPENDS_USERS:
            self._appends.clear()
        for user, before, after, lo, hi, rows, changed in self._appends_txn:
            chain = self._appends.setdefault(user, [])
            chain.append((before, after, lo, hi, rows, changed))
            del chain[:-_APPENDS_KEPT]
        self._appends_txn.clear()

    def _own_appends(self, user: str, since: tuple[int, int], now: tuple[int, int]
                     ) -> tuple[int, int, int, tuple[int, ...]] | None:
        """Where ``user``'s rows at user mark ``now`` are those at ``since`` plus rows that
        this connection inserted, and some of them with scoring columns this connection
        changed (time, importance, validity, supersession, pinning, expiry: ``update``),
        with no other change by anyone in between (each write found the version the one
        before left, and nothing moved it after the last): the row-id range (first, last)
        that holds the new rows (-1, -1: none), their number, and the row ids changed; else
        None. The per-user caches then read those rows alone instead of the whole scope (the
        text, sessions and lengths of the old rows are as they were). A version is never
        given twice, so a chain of versions stands for the same rows wherever it is read."""
        if since[1] != now[1] or since[0] == now[0]:
            return None
        version, first, last, rows = since[0], -1, -1, 0
        changed: list[int] = []
        for before, after, lo, hi, k, n in self._appends.get(user, ()):
            if before == version:
                version = after
                if k:
                    first = lo if first < 0 else min(first, lo)
                    last, rows = max(last, hi), rows + k
                if n >= 0:
                    changed.append(n)
        return (first, last, rows, tuple(changed)) if version == now[0] else None

    def _held_mark(self, user: str) -> tuple[int, int, int]:
        """``_user_mark`` that also moves with the user's access counts (rows read by id)."""
        version, touched = self._user_version(user)
        return (version, touched, self._rollbacks)

    def _where(self, flt: Filters, alias: str = "m", *,
               user_literal: bool = False) -> tuple[str, list[Any]]:
        """SQL conditions for ``flt`` on table alias ``alias``. ``user_literal`` names the user
        as a literal, the form a partial index's condition matches (see _time_index)."""
        return where(flt, SQLITE, alias, user_literal=user_literal)

    @contextmanager
    def _typed_errors(self, what: str) -> Iterator[None]:
        """SQLite's errors in ``what`` as ``ltm.errors`` types: StoreBusy for a lock held past
        the busy timeout, StoreError for the rest (a damaged file, a full disk)."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusy(f"{what}: another process holds the store's write lock; "
                                f"retry shortly") from exc
            raise StoreError(f"{what} failed in {self.folder / DB_NAME}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{what} failed in {self.folder / DB_NAME}: {exc}") from exc

    @contextmanager
    def _erasing(self) -> Iterator[None]:
        """secure_delete ON for the enclosed writes: freed pages are zeroed as well."""
        with self._lock:
            self.conn.execute("PRAGMA secure_delete = ON")
            try:
                yield
            finally:
                self.conn.execute("PRAGMA secure_delete = FAST")
