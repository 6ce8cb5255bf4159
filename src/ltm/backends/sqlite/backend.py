"""``SqliteBackend``: the parts of this package on one connection, its opening (pragmas,
migrations, the full-text check), its writes, and flush and close."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import StoreBusy, StoreError
from ...model import Memory
from ...timeutil import now_us
from ..base import NewRow, ids_taken, row_blocks
from ..chunks import prepared
from ..common import extra_from
from ..segment import cjk_words, fts_words
from .chunks import Chunks
from .erasure import Erasure
from .extraction import ExtractionState
from .fulltext import FullText
from .reads import Reads
from .reindex import Reindex
from .schema import (
    _COLUMNS,
    _PAGE_CACHE_KIB,
    _ROWS_PER_INSERT,
    _UPDATABLE,
    _WAL_CHECKPOINT_PAGES,
    DB_NAME,
    _is_busy,
    _multi_insert,
    _row_to_memory,
    quote_ident,
)
from .scope import ScopeCache
from .vectors import VectorIndexUpkeep

log = logging.getLogger(__name__)

# changes of a row that move none of its text, labels, session or turn number: a search's
# caches of the user's rows re-read that row alone after this connection's own (``update``)
_SCORING_ONLY = frozenset({"importance", "time", "valid_from", "valid_to", "superseded_by",
                           "pinned", "expires_at"})
_OPTIMIZE_AFTER = 20_000  # rows inserted by one connection before close merges FTS segments
_THREADED_ROWS = 256  # an insert of more rows runs its statements on a thread of their own


class _ClosedConnection:
    """What a closed backend holds instead of its connection: every use is StoreError."""

    def __getattr__(self, name: str) -> Any:
        raise StoreError("the store is closed")


class _Statements:
    """The statements of one insert's transaction, in order: with ``pool``, on the backend's
    statement thread, while the caller's thread waits for the next block of vectors and builds its
    bound values (SQLite releases the GIL while it runs a statement, so on two cores the
    Python work of a batch overlaps its writes: benchmarks/sections/scale.md, session 11's
    ingest). Leaving the block waits for every statement begun (the
    ones not begun are cancelled) whether or not it raised, so that the caller's commit or
    rollback never runs beside one."""

    def __init__(self, conn: sqlite3.Connection, pool: ThreadPoolExecutor | None) -> None:
        self.conn = conn
        self.pool = pool  # the backend's statement thread (``_statement_thread``), or None
        self.pending: list[Future[int]] = []

    def __enter__(self) -> _Statements:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            for f in self.pending:
                f.cancel()
            wait_all(self.pending)

    def run(self, sql: str, params: Sequence[Any]) -> Future[int]:
        """Run (or queue) one statement; its future gives the last inserted rowid."""
        if self.pool is not None:
            f = self.pool.submit(self._execute, sql, params)
            self.pending.append(f)
            return f
        f = Future()
        f.set_result(self._execute(sql, params))
        return f

    def _execute(self, sql: str, params: Sequence[Any]) -> int:
        return int(self.conn.execute(sql, params).lastrowid or 0)

    def wait(self) -> None:
        """Until the statements so far have run: the first one's error, if any."""
        pending, self.pending = self.pending, []
        try:
            for f in pending:
                f.result()
        except BaseException:
            for f in pending:
                f.cancel()
            wait_all(pending)
            raise


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # (no statvfs, ST_RDONLY: not POSIX)
        return False


def _frozen(db: Path) -> bool:
    """True when ``db`` lies on a file system mounted read-only and has neither a -wal nor a
    -shm file (closed cleanly: no connection is open on it): SQLite cannot make the -shm file
    WAL mode reads through, and no process can change the file, so it is read as immutable.
    (With a -wal, reading the file alone would miss what the log holds, and a -shm may be a
    live connection's, through another mount: such a store is opened as usual, which SQLite
    can do read-only where both files are there, and otherwise says why it cannot.)"""
    if not _read_only_fs(db.parent):
        return False
    try:
        return db.is_file() and not any(db.with_name(db.name + end).exists()
                                        for end in ("-wal", "-shm"))
    except OSError:
        return False


def _create_new(path: Path) -> bool:
    """Create the empty file ``path`` (SQLite makes an empty file a new database) if it does
    not exist: True when this call created it (O_EXCL: not another process at the same moment).
    Any other failure is left to SQLite to report."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except OSError:
        return False
    return True


class SqliteBackend(Erasure, ExtractionState, Reads, Reindex, ScopeCache, FullText,
                    VectorIndexUpkeep, Chunks):
    """SQLite + derived vector index. Thread-safe: one connection guarded by a lock."""

    # the statement thread of large inserts and the process that started it
    _write_pool: tuple[ThreadPoolExecutor | None, int] = (None, 0)

    def __init__(self, folder: str | Path, *, busy_timeout_ms: int = 10_000,
                 hnsw_min_scope: int = 50_000, hnsw_ef_search: int = 512,
                 create: bool = True) -> None:
        self.folder = Path(folder)
        try:
            if self.folder.exists() and not self.folder.is_dir():
                raise StoreError(f"{self.folder} exists and is not a folder")
            if not create and not (self.folder / DB_NAME).exists():
                raise StoreError(f"no store at {self.folder}")
        except OSError as exc:  # a folder this process may not enter
            raise StoreError(f"cannot use store folder {self.folder}: {exc}") from None
        # what this open creates, removed again if it fails (abandon)
        self._made_folders = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._made_folders = [p for p in self._made_folders if p.exists()]
            self._remove_created(db=False)
            raise StoreError(f"cannot create store folder {self.folder}: {exc}") from None
        self._made_db = _create_new(self.folder / DB_NAME)
        self.hnsw_min_scope = hnsw_min_scope
        self.hnsw_ef_search = hnsw_ef_search
        self._lock = threading.RLock()
        self._pins = threading.local()
        self._depth = 0
        self._commits = 0
        self._count_cache = {}
        self._df_cache = {}
        self._df_mark = None
        self._scope_df_cache = {}
        self._scope_cache = {}
        self._dense_places = {}
        self._averages_cache = None
        self._scope_avgdl_cache = {}
        self._postings_cache = {}
        self._postings_rows = 0
        self._held_cache = {}
        self._chunk_cache = {}
        self._snap_pending = set()
        self._appends = {}
        self._appends_txn = []
        self._time_indexes = set()
        self._meta_indexes = set()
        self._time_schema = -1
        self._access_only = False
        self._wrote_vectors = False
        self._inserted = 0
        self._index_in_txn = False
        deadline = time.monotonic() + busy_timeout_ms / 1000
        while True:
            try:
                self._connect(busy_timeout_ms)
                break
            except (sqlite3.DatabaseError, StoreError) as exc:
                if getattr(self, "conn", None) is not None:
                    self.conn.close()  # nothing of it is kept: the caller gets no backend
                busy = isinstance(exc, StoreBusy) or (
                    isinstance(exc, sqlite3.OperationalError) and _is_busy(exc))
                if busy and time.monotonic() < deadline:
                    # another process is creating or migrating the store this moment: SQLite
                    # answers some locks at once (the switch to WAL mode), without waiting
                    time.sleep(0.02)
                    continue
                self._remove_created(db=True)
                if isinstance(exc, StoreError):
                    raise
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise StoreBusy(f"cannot open {self.folder / DB_NAME}: another process holds "
                                    f"it locked ({exc}); retry shortly") from None
                hint = ""
                if _read_only_fs(self.folder):
                    hint = " (the store's file system is mounted read-only"
                    hint += (f", and its {DB_NAME}-wal holds writes not yet in {DB_NAME}: "
                             "SQLite reads them only where it may write its -shm file; mount "
                             "it read-write once, or copy the store folder)"
                             if os.path.exists(self.folder / f"{DB_NAME}-wal") else ")")
                elif str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_READONLY"):
                    hint = (" (the store is read-only: SQLite's WAL mode needs a store folder it "
                            f"may write {DB_NAME}-wal and {DB_NAME}-shm into, also to read)")
                raise StoreError(f"cannot open {self.folder / DB_NAME}: {exc}{hint}") from None
        dim = self.get_meta("dim")
        self.dim = int(dim) if dim else None
        self._index = None
        self._hnsw = {}
        self._hnsw_saved = {}
        self._data_version = -1

    def _connect(self, busy_timeout_ms: int) -> None:
        """Open the connection, set its pragmas, run the migrations and check the full-text
        index (``__init__`` retries while another process holds the store locked)."""
        db = self.folder / DB_NAME
        # a store on a read-only file system (a backup, a read-only volume) is read as an
        # immutable file: searches, lists and exports work, writes are StoreError
        frozen = _frozen(db)
        target = f"file:{urllib.parse.quote(str(db), errors='surrogateescape')}?immutable=1" if frozen else db
        self.conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False,
                                    timeout=busy_timeout_ms / 1000, uri=frozen)
        self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal" and not frozen:
            raise StoreError(f"cannot switch {self.folder / DB_NAME} to WAL mode")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        # SQLite's default page cache is 2 MB: at a million rows, inserts into the
        # scope, history and full-text B-trees land on pages it has just evicted
        self.conn.execute(f"PRAGMA cache_size = {-_PAGE_CACHE_KIB}")
        # Checkpoint the WAL every ~80 MB instead of every 4 MB: a batch spread over many
        # users dirties a leaf page per user in each per-user index, and the same pages
        # again in the next batch; copied back to the database once per checkpoint, not
        # once per batch (1M rows: batch p50 73 -> 54 ms, ingest +12%)
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_CHECKPOINT_PAGES}")
        # Writes zero what they delete on the pages they rewrite anyway (FAST); erasing
        # (forget, scrub_history) runs with ON, which also zeroes whole pages as they are
        # freed, and compact() zeroes every free page. ON for every write made an ingest
        # batch write ~15% more pages and cost ~6 ms a batch of 1,000 at a million rows.
        self.conn.execute("PRAGMA secure_delete = FAST")
        self.conn.execute("PRAGMA foreign_keys = ON")
        # (migration 0012 indexes the Chinese and Japanese words of the rows written before)
        self.conn.create_function("ltm_cjk_words", 1, cjk_words, deterministic=True)
        # (and 0014 the parts of joined words)
        self.conn.create_function("ltm_fts_words", 1, fts_words, deterministic=True)
        self._migrate()
        self._check_fts()

    def abandon(self) -> None:
        """Close after an open that failed past this backend (``ltm.open``: the embedder):
        a store this open created is removed again, if it holds no memory, with the folders
        the open made, so that a failed open leaves nothing behind."""
        empty = True
        if self._made_db:
            try:
                with self._lock:
                    empty = self.conn.execute("SELECT 1 FROM memories LIMIT 1").fetchone() is None
            except sqlite3.Error:
                pass  # (incomplete: nothing of value in it)
            except StoreError:
                empty = False  # closed already: cannot tell
        self.close()
        self._remove_created(db=empty)

    def remove_created(self) -> None:
        """After ``close``: remove the store this backend's open created (``ltm.cli``: a
        command that failed on a new store, which the caller found empty), as ``abandon``
        does."""
        self._remove_created(db=True)

    def _remove_created(self, *, db: bool) -> None:
        """Remove the database file (with ``db``) when this open created it and no other
        connection has it open (SQLite removes the WAL and shared-memory files when the last
        one closes), then the folders this open made, those left empty."""
        path = self.folder / DB_NAME
        if db and self._made_db and not any(
                Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm")):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.info("could not remove %s after a failed open (%s)", path, exc)
        for folder in self._made_folders:  # innermost first
            try:
                folder.rmdir()
            except OSError:  # something else lives there now
                break

    def flush(self, *, erasing: bool = False) -> None:
        """Persist the derived indexes and the queued scope snapshots (done on close). An index
        that cannot be saved is logged, not raised: the database holds everything, and the
        next open rebuilds what is missing. With ``erasing`` (``compact``) it is StoreError:
        the generation on disk may still hold the vectors of erased memories."""
        with self._lock:
            self._persist_snapshots(wait=True)
            if self._index is None or self.dim is None:
                return
            try:
                with self._index_txn(wait=True):
                    self._save_index()
            except (OSError, ValueError, StoreError) as exc:
                if erasing:
                    if isinstance(exc, StoreError):
                        raise
                    raise StoreError(f"cannot write the vector index of {self.folder} "
                                     f"without the erased vectors: {exc}") from exc
                log.warning("vector index of %s not saved (%s); it is rebuilt from the "
                            "database when needed", self.folder, exc)
                return
            rec = self._index_record()
            if rec is not None and self._depth == 0:
                self._drop_older_generations(rec["gen"])

    def close(self) -> None:
        with self._lock:
            if isinstance(self.conn, _ClosedConnection):
                return  # closed already
            try:
                if self._inserted >= _OPTIMIZE_AFTER:
                    # bulk writes leave the full-text index in many segments, and every term
                    # lookup visits each: merge them into one
                    with self.atomic() as c:
                        self._merge_fts(c)
                if self._index is None and self._wrote_vectors:
                    # a process that only wrote still leaves current index files behind, so
                    # that the next open maps them instead of rebuilding
                    self._vector_index()
                self.flush()
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except (StoreError, sqlite3.DatabaseError) as exc:
                # upkeep only (a read-only store, a full disk, another process writing): the
                # database already holds every committed write
                log.info("closing %s: upkeep skipped (%s)", self.folder, exc)
            finally:
                # a call another thread began before close() reads "the store is closed"
                # (StoreError) from here on, not sqlite3's ProgrammingError
                conn, self.conn = self.conn, _ClosedConnection()  # type: ignore[assignment]
                conn.close()
                pool, self._write_pool = self._write_pool[0], (None, 0)
                if pool is not None:
                    pool.shutdown(wait=True)  # (idle: every insert waited for its statements)

    # -- writes ---------------------------------------------------------------------------
    def _statement_thread(self) -> ThreadPoolExecutor:
        """The thread a large insert runs its statements on (``_Statements``), started at the
        first and kept until close: one started a batch cost the writing thread ~0.1 ms, and
        more under load, where starting it waited for the new thread to be scheduled."""
        pool, pid = self._write_pool
        if pool is None or pid != os.getpid():  # (a forked child inherits no thread)
            pool = ThreadPoolExecutor(1, thread_name_prefix="ltm-write")
            self._write_pool = (pool, os.getpid())
        return pool

    def next_seq(self, user: str, session: str) -> int:
        row = self.conn.execute("SELECT max(seq) FROM memories WHERE user = ? AND session = ?",
                                (user, session)).fetchone()
        return -1 if row[0] is None else int(row[0])

    def insert(self, rows: Sequence[NewRow], vectors: np.ndarray | Iterable[np.ndarray]
               ) -> None:
        """Insert ``rows`` in one transaction. ``vectors`` is their matrix, or its row blocks
        in order (an iterator that may still be computing them: each block's rows are
        written as it arrives, so embedding the next block overlaps this one's INSERT)."""
        blocks = [vectors] if isinstance(vectors, np.ndarray) else vectors
        self._wrote_vectors = True
        self._inserted += len(rows)
        direct = self._depth == 0  # an enclosing transaction may still roll back
        got: list[np.ndarray] = []
        # long memories' passage vectors, embedded before the transaction holds the lock
        passages = prepared(self.chunker, [(r.user, r.id, r.text) for r in rows]) \
            if self.chunker is not None else []
        with self._ids_unique(rows), self.atomic() as c:
            users = sorted({r.user for r in rows})
            self._snap_pending.update(users)
            versions: dict[str, list[int]] = {u: [0, 0] for u in users}  # before, after
            for start in range(0, len(users), 900):  # their snapshots no longer hold them
                some = users[start:start + 900]
                marks = ",".join("?" * len(some))
                c.execute(f"DELETE FROM scope_snap WHERE user IN ({marks})", some)
                # and their versions move (migration 0010: the triggers of delete and update)
                for name, v in c.execute(f"DELETE FROM user_versions WHERE user IN ({marks}) "
                                         "RETURNING user, v", some).fetchall():
                    versions[name][0] = v
                for name, v in c.execute(_multi_insert("user_versions (user)", 1, len(some))
                                         + " RETURNING user, v", some).fetchall():
                    versions[name][1] = v
            head = self._log_head()
            seqs = self._last_seqs(rows)
            with _Statements(c, self._statement_thread() if len(rows) > _THREADED_ROWS
                             else None) as sql:
                last: Future[int] | None = None
                for part, block in row_blocks(rows, blocks, self.dim):
                    got.append(block)
                    # Many rows per INSERT statement: the per-statement cost of the FTS and log
                    # triggers (statement journal, FTS5 flush) is paid once per chunk, not per
                    # row.
                    for start in range(0, len(part), _ROWS_PER_INSERT):
                        chunk = part[start:start + _ROWS_PER_INSERT]
                        params = self._insert_params(chunk, block[start:start + len(chunk)],
                                                     seqs, sql.wait)
                        last = sql.run(_multi_insert(
                            "memories (id, user, agent, session, kind, text, fts_text, "
                            "fts_extra, metadata, importance, time, recorded_at, valid_from, "
                            "valid_to, superseded_by, sources, access_count, last_accessed, "
                            "pinned, expires_at, seq, embedding)", 22, len(chunk)), params)
                # their history, from the rows just written (they took the last len(rows) row
                # ids, in order): no value to bind, nor Python to build them, on either thread
                sql.run("INSERT INTO history (memory_id, user, event, at, data) "
                        "SELECT id, user, 'created', recorded_at, NULL FROM memories WHERE n > "
                        "(SELECT seq FROM sqlite_sequence WHERE name = 'memories') - ? "
                        "ORDER BY n", (len(rows),))
                sql.wait()
            self._put_chunks(c, passages)
            new_head = self._log_head()
            if last is not None:  # (the rows took consecutive ids: the write lock is held)
                hi = last.result()
                per_user = Counter(r.user for r in rows)
                self._appends_txn.extend((u, versions[u][0], versions[u][1],
                                          hi - len(rows) + 1, hi, per_user[u], -1)
                                         for u in users)
        matrix = got[0] if len(got) == 1 else np.concatenate(got) if got else \
            np.zeros((0, self.dim or 0), dtype=np.float32)
        self._add_own_rows(rows, matrix, head, new_head,
                           last.result() if last is not None else 0, direct)

    @contextmanager
    def _ids_unique(self, rows: Sequence[NewRow]) -> Iterator[None]:
        """An insert (already rolled back) that repeated an id is InvalidInput."""
        try:
            yield
        except sqlite3.IntegrityError as exc:
            if "memories.id" not in str(exc):
                raise
            ids = [r.id for r in rows]
            held: list[str] = []
            with self._lock:
                for start in range(0, len(ids), 900):
                    chunk = ids[start:start + 900]
                    held += [i for (i,) in self.conn.execute(
                        f"SELECT id FROM memories WHERE id IN ({','.join('?' * len(chunk))})",
                        chunk)]
            raise ids_taken(rows, held) from None

    def _last_seqs(self, rows: Sequence[NewRow]) -> dict[tuple[str, str], int]:
        """The last number given in each session whose episodes ``rows`` number (their
        ``seq`` unset), read in one statement for the batch instead of one per session. A
        session that a row of the batch gives a number of its own is left out: it is read
        when its first row to number is written (``_insert_params``), after the rows before
        it, as it always was."""
        own = {(r.user, r.session) for r in rows if r.seq is not None}
        keys = list(dict.fromkeys(
            (r.user, r.session) for r in rows
            if r.kind == "episode" and r.session is not None and r.seq is None))
        keys = [k for k in keys if k not in own]
        seqs: dict[tuple[str, str], int] = {}
        for start in range(0, len(keys), 400):
            some = keys[start:start + 400]
            for user, session, last in self.conn.execute(
                    "SELECT k.column1, k.column2, (SELECT max(seq) FROM memories WHERE "
                    "user = k.column1 AND session = k.column2) FROM (VALUES "
                    + ",".join(["(?,?)"] * len(some)) + ") AS k",
                    [v for key in some for v in key]):
                seqs[(user, session)] = -1 if last is None else int(last)
        return seqs

    def _insert_params(self, rows: Sequence[NewRow], vectors: np.ndarray,
                       seqs: dict[tuple[str, str], int],
                       before_read: Callable[[], None] = lambda: None) -> list[Any]:
        """The bound values of a multi-row INSERT of ``rows``, numbering episodes in their
        session (``seqs``: the last number given per (user, session) in this batch; a
        session not in it is read, after ``before_read``: the statements before have run)."""
        out: list[Any] = []
        for row, vec in zip(rows, vectors):
            if row.kind == "episode" and row.session is not None and row.seq is None:
                key = (row.user, row.session)
                if key not in seqs:
                    before_read()
                    seqs[key] = self.next_seq(row.user, row.session)
                seqs[key] += 1
                row.seq = seqs[key]
            out += (row.id, row.user, row.agent, row.session, row.kind, row.text,
                    fts_words(row.text), extra_from(row.metadata),
                    json.dumps(row.metadata) if row.metadata else None, row.importance,
                    row.time, row.recorded_at, row.valid_from, row.valid_to,
                    row.superseded_by, json.dumps(row.sources) if row.sources else None,
                    row.access_count, row.last_accessed, int(row.pinned), row.expires_at,
                    row.seq, vec.tobytes())
        return out

    def update(self, memory_id: str, user: str, changes: dict[str, Any],
               vector: np.ndarray | None, event: str = "updated") -> Memory:
        bad = set(changes) - _UPDATABLE
        if bad:
            raise StoreError(f"cannot update {sorted(bad)}")
        self._snap_pending.add(user)
        with self.atomic() as c:
            old = c.execute(f"SELECT {_COLUMNS} FROM memories WHERE id = ? AND user = ?",
                            (memory_id, user)).fetchone()
            if old is None:
                from ...errors import NotFound
                raise NotFound(memory_id, user=user)
            before = dict(zip([s.strip() for s in _COLUMNS.split(",")], old))
            values = dict(changes)
            for key in ("metadata", "sources"):
                if key in values and values[key] is not None:
                    values[key] = json.dumps(values[key]) if values[key] else None
            if "pinned" in values:
                values["pinned"] = int(bool(values["pinned"]))
            if "text" in values:
                values["fts_text"] = fts_words(values["text"])
            if "text" in values or "metadata" in values:
                merged = json.loads(values.get("metadata") or "null") if "metadata" in values \
                    else json.loads(before["metadata"] or "null")
                values["fts_extra"] = extra_from(merged)
            if vector is not None:
                self._wrote_vectors = True
                values["embedding"] = np.ascontiguousarray(vector, np.float32).tobytes()
            sets = ", ".join(f"{quote_ident(k)} = ?" for k in values)
            version = "SELECT v FROM user_versions WHERE user = ?"
            # (a change of scoring columns alone: the caches of the user's rows re-read this
            # one row, Connection._own_appends)
            was = c.execute(version, (user,)).fetchone() if set(values) <= _SCORING_ONLY \
                else None
            c.execute(f"UPDATE memories SET {sets} WHERE id = ? AND user = ?",
                      [*values.values(), memory_id, user])
            if self.chunker is not None and ("text" in values or vector is not None):
                # (the trigger dropped the passages of the text or vector replaced)
                self._put_chunks(c, prepared(self.chunker, [
                    (user, memory_id, values["text"] if "text" in values else before["text"])]))
            if was is not None:
                now = c.execute(version, (user,)).fetchone()
                if now is not None:
                    self._appends_txn.append((user, was[0], now[0], -1, -1, 0, before["n"]))
            previous = {k: before[k] for k in changes if k in before}
            c.execute("INSERT INTO history (memory_id, user, event, at, data) VALUES (?,?,?,?,?)",
                      (memory_id, user, event, now_us(), json.dumps(previous)))
            new = c.execute(f"SELECT {_COLUMNS} FROM memories WHERE id = ?",
                            (memory_id,)).fetchone()
        return _row_to_memory(new)

    def touch(self, ids: Sequence[str], at: int, user: str) -> None:
        if not ids:
            return
        with self._lock:
            self._access_only = self._depth == 0
            try:
                with self.atomic() as c:
                    c.executemany("UPDATE memories SET access_count = access_count + 1, "
                                  "last_accessed = ? WHERE id = ? AND user = ?",
                                  [(at, i, user) for i in ids])
            except StoreError as exc:
                # bookkeeping of reads: a read-only or busy store (another process writing)
                # still answers them, and closes without an error
                log.info("access counts of %d memories not recorded in %s: %s", len(ids),
                         self.folder, exc)
            finally:
                self._access_only = False
                for i in ids:  # (rolled back or not: read again)
                    self._held_cache.pop((user, i), None)
