"""The embedded backend: one SQLite file (WAL) as the source of truth, plus derived vector indexes.

Layout of a store folder::

    memories.db           SQLite, WAL mode: memories, FTS5 index, history, deletion audit, log
    index/gen-<n>/        the vector index's current generation: vectors (.npy), row ids,
                          owners, per-scope HNSW files; named by the meta row vector_index,
                          checked against it on load, rebuilt when damaged, stale or missing

Every write to ``memories`` appends to ``index_log`` by trigger, inside the same transaction.
The vector index remembers the last log position it reflects (its epoch); on open and whenever
another connection has committed (``PRAGMA data_version``), it replays the log or, when the log
no longer reaches back far enough, rebuilds from the stored vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DimensionMismatch, StoreBusy, StoreError
from ..index.exact import IndexWriter, VectorIndex
from ..index.hnsw import HnswScope
from ..index.scope import NO_EXPIRY, ScopeView
from ..model import ForgetReceipt, HistoryEvent, Memory
from ..timeutil import from_us, now_us, opt_dt
from .base import Filters, NewRow, ids_taken, row_blocks, scan_order

log = logging.getLogger(__name__)

DB_NAME = "memories.db"
INDEX_DIR = "index"

# The full-text index follows the table through triggers (and feeds the vector index's log).
# One text for migration 0001, which created them, and 0005, which recreated them around the
# rebuilt index.
_FTS_TRIGGERS = """CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, text, scope, extra)
        VALUES (new.n, new.text, 'u' || hex(new.user), new.fts_extra);
    INSERT INTO index_log(n, op) VALUES (new.n, 'i');
END;
CREATE TRIGGER memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text, scope, extra)
        VALUES ('delete', old.n, old.text, 'u' || hex(old.user), old.fts_extra);
    INSERT INTO index_log(n, op) VALUES (old.n, 'd');
END;
CREATE TRIGGER memories_au_text AFTER UPDATE OF text, fts_extra ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text, scope, extra)
        VALUES ('delete', old.n, old.text, 'u' || hex(old.user), old.fts_extra);
    INSERT INTO memories_fts(rowid, text, scope, extra)
        VALUES (new.n, new.text, 'u' || hex(new.user), new.fts_extra);
END;
"""

MIGRATIONS: list[tuple[str, str]] = [
    ("0001_initial", """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE memories (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    user TEXT NOT NULL,
    agent TEXT,
    session TEXT,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    fts_extra TEXT NOT NULL DEFAULT '',
    metadata TEXT,
    importance REAL,
    time INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    valid_from INTEGER,
    valid_to INTEGER,
    superseded_by TEXT,
    sources TEXT,
    access_count INTEGER NOT NULL DEFAULT 0,
    last_accessed INTEGER,
    pinned INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    seq INTEGER,
    embedding BLOB
);
CREATE INDEX memories_user_time ON memories(user, time);
CREATE INDEX memories_user_session ON memories(user, session, seq);
CREATE INDEX memories_expires ON memories(expires_at) WHERE expires_at IS NOT NULL;
CREATE VIRTUAL TABLE memories_fts USING fts5(
    text, scope, extra, content='', tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE index_log (epoch INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL,
                        op TEXT NOT NULL);
""" + _FTS_TRIGGERS + """CREATE TRIGGER memories_au_vec AFTER UPDATE OF embedding ON memories BEGIN
    INSERT INTO index_log(n, op) VALUES (new.n, 'u');
END;
CREATE TABLE history (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id TEXT NOT NULL,
    user TEXT NOT NULL,
    event TEXT NOT NULL,
    at INTEGER NOT NULL,
    data TEXT
);
CREATE INDEX history_memory ON history(memory_id);
CREATE INDEX history_user ON history(user);
CREATE TABLE deletions (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    user_hash TEXT NOT NULL,
    count INTEGER NOT NULL,
    ids TEXT NOT NULL
);
"""),
    # ltm.policies.extract: per-user position in the episode stream (memories.n) and LLM
    # tokens spent today, so extraction resumes where it stopped and stays within budget.
    ("0002_extraction_state", """
CREATE TABLE extraction_state (
    user TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0,
    day INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER
);
"""),
    # ltm.index.scope: one user's scoring columns in one contiguous range of an index (no
    # table rows, whose pages also hold the embedding blobs, are read to rank). It extends
    # (user, session, seq), which it replaces, so writes maintain no extra index.
    ("0003_scope_columns_index", """
DROP INDEX IF EXISTS memories_user_light;
CREATE INDEX memories_scope ON memories(user, session, seq, n, id, time, importance,
                                        superseded_by, expires_at);
DROP INDEX memories_user_session;
"""),
    # ltm.index.scope snapshots: one user's scoring columns as one blob, so that a scope not
    # in this process's cache is one row read, not a walk over the user's index entries.
    # Any write that changes what a snapshot holds deletes it in its transaction (triggers
    # on delete and update; ``insert`` once per batch and user, cheaper than a trigger per
    # row); writers rebuild the snapshots of the users they wrote when they flush, readers
    # those they missed.
    ("0004_scope_snapshots", """
CREATE TABLE scope_snap (user TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TRIGGER scope_snap_ad AFTER DELETE ON memories BEGIN
    DELETE FROM scope_snap WHERE user = old.user;
END;
CREATE TRIGGER scope_snap_au AFTER UPDATE OF id, user, session, seq, time, importance,
        superseded_by, expires_at ON memories BEGIN
    DELETE FROM scope_snap WHERE user = old.user;
    DELETE FROM scope_snap WHERE user = new.user;
END;
"""),
    # The full-text index reads its content from the table (through a view) instead of being
    # contentless, so that per-term scoring within a scope takes term frequencies from
    # highlight() and row lengths from the docsize table: FTS5's bm25() first counts every
    # row of the whole store that holds each query term, a cost that grows with the store.
    ("0005_fts_external_content", """
DROP TRIGGER memories_ai;
DROP TRIGGER memories_ad;
DROP TRIGGER memories_au_text;
DROP TABLE memories_fts;
CREATE VIEW memories_fts_src AS
    SELECT n, text, 'u' || hex(user) AS scope, fts_extra AS extra FROM memories;
CREATE VIRTUAL TABLE memories_fts USING fts5(
    text, scope, extra, content='memories_fts_src', content_rowid='n',
    tokenize='porter unicode61 remove_diacritics 2');
""" + _FTS_TRIGGERS + """INSERT INTO memories_fts(memories_fts) VALUES ('rebuild');
INSERT INTO memories_fts(memories_fts) VALUES ('optimize');
"""),
    # Every read of history names the memory (history_memory serves it); an index by user
    # only cost ingest: a batch spread over many users dirtied one of its pages per user
    # (at 1M rows ~410 of the ~2,170 pages a batch of 1,000 wrote to the WAL).
    ("0006_drop_history_user_index", """
DROP INDEX IF EXISTS history_user;
"""),
    # Time-range reads of a scope up to hnsw_min_scope rows use its snapshot or walk its
    # rows in memories_scope (which holds time); a larger scope gets an index of its own on
    # first use (SqliteBackend._time_index). An index over every user's times cost ingest
    # ~8% at a million rows: each batch dirtied one of its pages per user it touched.
    ("0007_drop_user_time_index", """
DROP INDEX IF EXISTS memories_user_time;
"""),
]

_COLUMNS = ("n, id, user, agent, session, kind, text, metadata, importance, time, recorded_at, "
            "valid_from, valid_to, superseded_by, sources, access_count, last_accessed, pinned, "
            "expires_at, seq")
_UPDATABLE = {"text", "agent", "session", "kind", "metadata", "importance", "time",
              "valid_from", "valid_to", "superseded_by", "sources", "pinned", "expires_at",
              "fts_extra"}
_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset("""a about above after again against all am an and any are as at be because
been before being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yourself yourselves""".split())


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (the only place identifiers are built from strings)."""
    return '"' + name.replace('"', '""') + '"'


def query_terms(text: str) -> list[str]:
    """The query's content words (stop words dropped unless nothing else remains)."""
    words = [w.lower() for w in _TOKEN.findall(text)]
    content = [w for w in words if w not in _STOP] or words
    return list(dict.fromkeys(content))[:32]


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


# A scope's IDF counts at least this many memories, as if a background of unrelated ones
# (holding none of the query's words) were always there: the IDF of three memories is noise
# (a word in two of three is worth nothing, one absent from all worth everything), and the
# calibrated full-text signal (ltm.retrieval.calibrate) should not move when a small store
# grows by unrelated memories.
IDF_MIN_DOCS = 1000


def _idf(total: int, hits: int) -> float:
    """FTS5's BM25 IDF, clamped the same way. Counts read at different moments (another
    process wrote in between) may disagree: ``hits`` is held to ``0..total``, so the log's
    argument stays positive whatever they are."""
    hits = min(max(hits, 0), max(total, 0))
    value = math.log((total - hits + 0.5) / (hits + 0.5))
    return value if value > 0 else 1e-6


def fts_query(text: str) -> str | None:
    """A safe FTS5 OR-query of the text's content words (stop words dropped unless nothing
    else remains); None when the text holds no searchable word."""
    words = [w.lower() for w in _TOKEN.findall(text)]
    content = [w for w in words if w not in _STOP] or words
    unique = list(dict.fromkeys(content))[:64]
    if not unique:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in unique)


def user_hash(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()[:16]


def _user_literal(user: str) -> str:
    """``user`` as an SQL literal that any string survives (quotes, NUL): its UTF-8 bytes
    as a blob, cast to text."""
    return f"CAST(X'{user.encode().hex()}' AS TEXT)"


def _row_to_memory(r: sqlite3.Row | tuple[Any, ...]) -> Memory:
    (_, mid, user, agent, session, kind, text, metadata, importance, time_, recorded_at,
     valid_from, valid_to, superseded_by, sources, access_count, last_accessed, pinned,
     expires_at, seq) = r
    return Memory(
        id=mid, user=user, agent=agent, session=session, kind=kind, text=text,
        metadata=json.loads(metadata) if metadata else {}, importance=importance,
        time=from_us(time_), recorded_at=from_us(recorded_at), valid_from=opt_dt(valid_from),
        valid_to=opt_dt(valid_to), superseded_by=superseded_by,
        sources=tuple(json.loads(sources)) if sources else (), access_count=access_count,
        last_accessed=opt_dt(last_accessed), pinned=bool(pinned), expires_at=opt_dt(expires_at),
        seq=seq)


class SqliteBackend:
    """SQLite + derived vector index. Thread-safe: one connection guarded by a lock."""

    def __init__(self, folder: str | Path, *, busy_timeout_ms: int = 10_000,
                 hnsw_min_scope: int = 50_000, hnsw_ef_search: int = 512,
                 create: bool = True) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise StoreError(f"{self.folder} exists and is not a folder")
        if not create and not (self.folder / DB_NAME).exists():
            raise StoreError(f"no store at {self.folder}")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store folder {self.folder}: {exc}") from None
        self.hnsw_min_scope = hnsw_min_scope
        self.hnsw_ef_search = hnsw_ef_search
        self._lock = threading.RLock()
        self._depth = 0
        self._commits = 0
        self._count_cache: dict[tuple[str, str], tuple[int, tuple[int, int]]] = {}
        self._df_cache: dict[str, int] = {}  # term -> memories holding it, as of _df_mark
        self._df_mark: tuple[int, int] | None = None
        self._scope_df_cache: dict[tuple[str, str], tuple[int, tuple[int, int]]] = {}
        self._scope_cache: dict[str, tuple[ScopeView, tuple[int, int]]] = {}
        self._averages_cache: tuple[tuple[int, float] | None, tuple[int, int]] | None = None
        self._snap_pending: set[str] = set()  # users whose scope snapshot is to be written
        self._time_indexes: set[str] = set()  # large scopes' time indexes known to exist
        self._access_only = False  # a commit of access counts only: caches stay valid
        self._wrote_vectors = False
        self._inserted = 0  # rows this connection inserted (full-text merge on close)
        try:
            self.conn = sqlite3.connect(self.folder / DB_NAME, isolation_level=None,
                                        check_same_thread=False,
                                        timeout=busy_timeout_ms / 1000)
            self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
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
            self._migrate()
            self._check_fts()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open {self.folder / DB_NAME}: {exc}") from None
        dim = self.get_meta("dim")
        self.dim: int | None = int(dim) if dim else None
        self._index: VectorIndex | None = None
        self._hnsw: dict[str, HnswScope] = {}
        self._hnsw_saved: dict[str, tuple[int, int]] = {}  # user: (generation, epoch) on disk
        self._data_version = -1

    # -- transactions & schema ------------------------------------------------------------
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
            except BaseException:
                self._depth -= 1
                # SQLite has rolled the whole transaction back itself after some errors (a
                # corrupt table, a full disk): rolling back again would only replace the error
                if not self.conn.in_transaction:
                    pass
                elif self._depth == 0:
                    self.conn.execute("ROLLBACK")
                else:
                    self.conn.execute(f"ROLLBACK TO sp{self._depth}")
                    self.conn.execute(f"RELEASE sp{self._depth}")
                raise
            self._depth -= 1
            if self._depth == 0:
                self.conn.execute("COMMIT")
                if not self._access_only:  # own commits do not move PRAGMA data_version
                    self._commits += 1
                # PRAGMA data_version only moves for other connections' commits: make the
                # next read catch the vector index up with this connection's own writes
                self._data_version = -1
            else:
                self.conn.execute(f"RELEASE sp{self._depth}")

    def _migrate(self) -> None:
        self.conn.execute("CREATE TABLE IF NOT EXISTS migrations "
                          "(name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
        done = {r[0] for r in self.conn.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
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

    @property
    def fingerprint(self) -> str:
        fp = self.get_meta("store_id")
        if fp is None:
            raise StoreError("store has no id")
        return fp

    # -- vector index upkeep --------------------------------------------------------------
    # The vector index is saved in generations: index/gen-<n>/ holds one whole save, and the
    # database's meta row ``vector_index`` names the current one (its number, the log epoch
    # it reflects, its checksums). A save writes a new generation and commits its record in
    # one transaction that holds the write lock from the catch-up to the commit, so a kill
    # leaves the old generation or the new one, never a mix, and no process writes the
    # vectors of rows another process erased in the meantime. Only a holder of the write lock
    # writes or sweeps index files; older generations go once the new record is committed.
    def _log_head(self) -> int:
        row = self.conn.execute("SELECT max(epoch) FROM index_log").fetchone()
        return int(row[0] or 0)

    def _index_record(self) -> dict[str, Any] | None:
        """The record of the generation the database names (None: there is none)."""
        raw = self.get_meta(_INDEX_KEY)
        try:
            rec = json.loads(raw) if raw else None
        except ValueError:
            return None
        return rec if isinstance(rec, dict) and isinstance(rec.get("gen"), int) else None

    def _gen_dir(self, gen: int) -> Path:
        return self.folder / INDEX_DIR / f"gen-{gen}"

    @contextmanager
    def _index_txn(self, *, wait: bool) -> Iterator[None]:
        """A write transaction for the index files and their record. ``wait=False``: a
        StoreError at once when another connection holds the write lock."""
        with self._lock:
            timeout = None
            if not wait and self._depth == 0:
                timeout = self.conn.execute("PRAGMA busy_timeout").fetchone()[0]
                self.conn.execute("PRAGMA busy_timeout = 0")
            access_only, self._access_only = self._access_only, True  # no memory changes
            try:
                with self.atomic():
                    yield
            except sqlite3.OperationalError as exc:
                raise StoreError(f"cannot write the vector index record: {exc}") from exc
            finally:
                self._access_only = access_only
                if timeout is not None:
                    self.conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")

    def _commit_record(self, record: dict[str, Any]) -> None:
        """Name a written generation in the database (inside an ``_index_txn``)."""
        self.conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                          "SET value = excluded.value", (_INDEX_KEY, json.dumps(record)))
        # the log is only needed past what the saved index holds
        self.conn.execute("DELETE FROM index_log WHERE epoch < ?", (record["epoch"],))

    def _remove_leftovers(self, keep: int | None) -> None:
        """Remove what index/ holds besides generation ``keep``: generations of killed or
        superseded saves, temporary files, an older version's files; a plain file in place
        of the folder. Only under the write lock (another holder may be writing one)."""
        folder = self.folder / INDEX_DIR
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            log.warning("%s is not a folder: replaced", folder)
            folder.unlink()
        if not folder.exists():
            return
        for entry in folder.iterdir():
            if entry.name == f"gen-{keep}":
                for tmp in entry.glob("*.tmp"):  # an HNSW save that was killed
                    tmp.unlink(missing_ok=True)
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def _drop_older_generations(self, gen: int) -> None:
        """After generation ``gen`` is committed: the ones before it are no longer read (a
        process that still maps one keeps its open files; none writes one)."""
        folder = self.folder / INDEX_DIR
        try:
            for entry in folder.glob("gen-*"):
                number = entry.name.removeprefix("gen-")
                if number.isdigit() and int(number) < gen:
                    shutil.rmtree(entry, ignore_errors=True)
        except OSError as exc:
            log.warning("cannot remove old index generations in %s (%s)", folder, exc)

    def _vector_index(self) -> VectorIndex:
        """The vector index, brought up to date with the database."""
        with self._lock:
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            if self._index is not None and version == self._data_version:
                return self._index
            if self.dim is None:
                self.dim = int(self.get_meta("dim") or 0) or None
            if self.dim is None:
                self._index = VectorIndex(1)
                self._data_version = version
                return self._index
            if self._index is None:
                self._index = self._load_index()
            self._catch_up(self._index)
            self._data_version = version
            return self._index

    def _load_index(self) -> VectorIndex:
        """The generation the database names, its files checked against its record, caught
        up from the log and a sample of its rows compared with the database; else a rebuild.
        Then index/ is swept of leftovers."""
        assert self.dim is not None
        idx: VectorIndex | None = None
        for _ in range(3):
            rec = self._index_record()
            if rec is None:
                break
            idx = VectorIndex.load(self._gen_dir(rec["gen"]), self.dim, rec)
            if idx is not None or self._index_record() == rec:
                break
            # another process committed a newer generation (and removed this one) meanwhile
        if idx is not None:
            self._catch_up(idx)
            if idx.gen is not None and not self._sample_matches(idx):
                log.warning("vector index of %s does not match the database; rebuilding",
                            self.folder)
                idx = None
        if idx is None:
            idx = self._rebuild()
        else:
            try:  # without waiting: a process holding the lock sweeps when it is done
                with self._index_txn(wait=False):
                    rec = self._index_record()
                    self._remove_leftovers(rec["gen"] if rec else None)
            except (OSError, StoreError) as exc:
                log.debug("index folder not swept (%s)", exc)
        return idx

    def _sample_matches(self, idx: VectorIndex) -> bool:
        """Whether sampled saved rows hold their database row's user and vector, byte for byte
        (rows changed since the index's epoch are left to the log)."""
        rowids, users, vecs = idx.sample_saved(_SAMPLE_ROWS)
        if not len(rowids):
            return True
        marks = ",".join("?" * len(rowids))
        held = {n: (u, e) for n, u, e in self.conn.execute(
            f"SELECT n, user, embedding FROM memories WHERE n IN ({marks})", rowids.tolist())}
        bad = [int(r) for r, u, v in zip(rowids, users, vecs)
               if held.get(int(r)) != (u, v.tobytes())]
        if bad:
            changed = {n for (n,) in self.conn.execute(
                f"SELECT n FROM index_log WHERE epoch > ? AND n IN ({','.join('?' * len(bad))})",
                [idx.epoch, *bad])}
            bad = [r for r in bad if r not in changed]
        return not bad

    def _rebuild(self) -> VectorIndex:
        """Rebuild from the stored vectors: streamed user by user into a new generation's
        files, which are then mapped (never the whole index in memory), under the write lock
        that commits it; in memory where the files cannot be written or another connection
        holds the lock (a read does not wait behind a long write: the index is saved later,
        by flush)."""
        assert self.dim is not None
        log.info("rebuilding vector index of %s from the database", self.folder)
        try:
            with self._index_txn(wait=False):
                idx = self._rebuild_to_files(self._log_head())
            if idx.gen is not None and self._depth == 0:  # committed (else: by the caller)
                self._drop_older_generations(idx.gen)
            return idx
        except (OSError, ValueError, StoreError) as exc:
            log.warning("cannot write the vector index files (%s); rebuilding in memory", exc)
        own_txn = not self.conn.in_transaction
        if own_txn:
            self.conn.execute("BEGIN")  # the log head and the rows from one snapshot
        try:
            return self._rebuild_in_memory(self._log_head())
        finally:
            if own_txn:
                self.conn.execute("COMMIT")

    def _rebuild_to_files(self, head: int) -> VectorIndex:
        """(inside an ``_index_txn``)"""
        assert self.dim is not None
        rec = self._index_record()
        gen = (rec["gen"] if rec else 0) + 1
        self._remove_leftovers(rec["gen"] if rec else None)
        hint = int(self.conn.execute("SELECT count(*) FROM memories").fetchone()[0])
        writer = IndexWriter(self._gen_dir(gen), self.dim, hint, gen)
        users: list[str] = []
        try:
            cur = self.conn.execute("SELECT n, user, embedding FROM memories INDEXED BY "
                                    "memories_scope WHERE embedding IS NOT NULL "
                                    "ORDER BY user")
            while batch := cur.fetchmany(20_000):
                codes = np.empty(len(batch), dtype=np.int32)
                for i, r in enumerate(batch):
                    if not users or users[-1] != r[1]:
                        users.append(r[1])
                    codes[i] = len(users) - 1
                rowids = np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch))
                vecs = np.frombuffer(b"".join(r[2] for r in batch), dtype=np.float32)
                writer.write(rowids, codes, vecs.reshape(len(batch), self.dim))
            record = writer.finish(users, head, self.fingerprint)
        except BaseException:
            writer.abort()
            raise
        idx = VectorIndex.load(self._gen_dir(gen), self.dim, record, verify=False)
        if idx is None:
            raise OSError(f"the index just written to {self._gen_dir(gen)} cannot be read")
        self._commit_record(record)
        return idx

    def _rebuild_in_memory(self, head: int) -> VectorIndex:
        assert self.dim is not None
        idx = VectorIndex(self.dim)
        idx.epoch = head
        cur = self.conn.execute("SELECT n, user, embedding FROM memories "
                                "WHERE embedding IS NOT NULL ORDER BY n")
        while batch := cur.fetchmany(20_000):
            rowids = np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch))
            vecs = np.frombuffer(b"".join(r[2] for r in batch), dtype=np.float32)
            idx.add(rowids, [r[1] for r in batch], vecs.reshape(len(batch), self.dim))
        return idx

    def _log_reaches(self, epoch: int, head: int) -> bool:
        """Whether the log holds every change from ``epoch`` to ``head``, few enough to replay
        (more would hold more vectors in memory than a streamed rebuild)."""
        first = self.conn.execute("SELECT min(epoch) FROM index_log").fetchone()[0]
        return epoch <= head and (first is None or first <= epoch + 1) \
            and head - epoch <= _CATCH_UP_MAX

    def _catch_up(self, idx: VectorIndex) -> None:
        assert self.dim is not None
        head = self._log_head()
        if head == idx.epoch:
            return
        if not self._log_reaches(idx.epoch, head):
            # the log no longer reaches back (another process saved a generation and trimmed
            # it): start over from that generation, or from the rows
            rec = self._index_record()
            fresh = None
            if rec is not None and rec["gen"] != idx.gen \
                    and self._log_reaches(int(rec["epoch"]), head):
                fresh = VectorIndex.load(self._gen_dir(rec["gen"]), self.dim, rec)
            if fresh is None:
                fresh = self._rebuild()
            idx.__dict__.update(fresh.__dict__)
            self._hnsw.clear()
            if idx.epoch >= head:  # a rebuild reads the head again, under its own snapshot
                return
        # up to the head read above: entries committed since are replayed by the next call
        ops = self.conn.execute("SELECT epoch, n, op FROM index_log WHERE epoch > ? AND "
                                "epoch <= ? ORDER BY epoch", (idx.epoch, head)).fetchall()
        deleted = {n for _, n, op in ops if op == "d"}
        inserted = {n for _, n, op in ops if op == "i"} - deleted
        updated = {n for _, n, op in ops if op == "u"} - deleted - inserted
        if deleted or updated:
            gone = np.asarray(sorted(deleted | updated), dtype=np.int64)
            for scope in self._hnsw.values():
                scope.remove(gone)
            if deleted:
                idx.remove(np.asarray(sorted(deleted), dtype=np.int64))
        for rowids, users, vecs in self._fetch_vectors(sorted(inserted | updated)):
            is_new = np.isin(rowids, np.fromiter(inserted, dtype=np.int64, count=len(inserted)))
            if is_new.any():
                idx.add(rowids[is_new], [u for u, f in zip(users, is_new) if f], vecs[is_new])
            for r, v in zip(rowids[~is_new], vecs[~is_new]):
                idx.replace(int(r), v)
            for user, scope in self._hnsw.items():
                mask = np.asarray([u == user for u in users], dtype=bool)
                scope.add(rowids[mask], vecs[mask])
        idx.epoch = head
        for scope in self._hnsw.values():
            scope.epoch = head

    def _fetch_vectors(self, rowids: list[int]
                       ) -> Iterator[tuple[np.ndarray, list[str], np.ndarray]]:
        assert self.dim is not None
        for start in range(0, len(rowids), 900):
            chunk = rowids[start:start + 900]
            rows = self.conn.execute(
                f"SELECT n, user, embedding FROM memories WHERE n IN "
                f"({','.join('?' * len(chunk))}) AND embedding IS NOT NULL ORDER BY n",
                chunk).fetchall()
            if rows:
                vecs = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32)
                yield (np.asarray([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows],
                       vecs.reshape(len(rows), self.dim))

    def _hnsw_path(self, gen: int, user: str) -> Path:
        return self._gen_dir(gen) / f"hnsw-{user_hash(user)}.usearch"

    def _hnsw_scope(self, user: str, idx: VectorIndex) -> HnswScope | None:
        if idx.count(user) < self.hnsw_min_scope:
            return None
        scope = self._hnsw.get(user)
        if scope is None:
            if idx.gen is not None and self._hnsw_path(idx.gen, user).exists():
                scope = HnswScope.load(self._hnsw_path(idx.gen, user), idx.dim,
                                       self.fingerprint, ef_search=self.hnsw_ef_search)
                if scope is not None and scope.epoch != idx.epoch:
                    scope = None  # cannot tell which rows it misses: rebuild
                if scope is not None:
                    self._hnsw_saved[user] = (idx.gen, scope.epoch)
            if scope is None:
                log.info("building HNSW index for a scope of %d vectors", idx.count(user))
                scope = HnswScope(idx.dim, ef_search=self.hnsw_ef_search)
                rowids, vecs = idx.user_rows(user)
                for start in range(0, len(rowids), 100_000):
                    scope.add(rowids[start:start + 100_000], vecs[start:start + 100_000])
                    idx.release()  # the scan's mapped pages: not kept resident
                scope.epoch = idx.epoch
                # saved at once into the current generation (and then memory-mapped): the
                # built graph need not stay in this process's memory, and a crash before
                # close does not lose the build; else it is saved with the next generation
                try:
                    with self._index_txn(wait=False):
                        rec = self._index_record()
                        if (rec is not None and rec["gen"] == idx.gen
                                and rec["epoch"] == scope.epoch == self._log_head()
                                and self._gen_dir(rec["gen"]).is_dir()):
                            scope.save(self._hnsw_path(rec["gen"], user), self.fingerprint)
                            self._hnsw_saved[user] = (rec["gen"], scope.epoch)
                except (OSError, StoreError) as exc:
                    log.info("HNSW index of a scope not saved yet (%s)", exc)
            self._hnsw[user] = scope
        return scope

    def _save_index(self) -> None:
        """Bring the index up to date and write it as a new generation unless the current one
        holds it (inside an ``_index_txn``)."""
        idx = self._index
        assert idx is not None and self.dim is not None
        self._catch_up(idx)  # under the write lock: what others erased is gone before a write
        rec = self._index_record()
        if rec is None or idx.gen != rec["gen"] or idx.epoch != rec["epoch"]:
            new = (rec["gen"] if rec else 0) + 1
            self._remove_leftovers(rec["gen"] if rec else None)
            record = idx.save(self._gen_dir(new), self.fingerprint, new)
            self._hnsw_saved.clear()
            for user, scope in self._hnsw.items():
                scope.save(self._hnsw_path(new, user), self.fingerprint)
                self._hnsw_saved[user] = (new, scope.epoch)
            self._commit_record(record)
            return
        gen: int = rec["gen"]
        for user, scope in self._hnsw.items():  # graphs built since the generation was saved
            if self._hnsw_saved.get(user) != (gen, scope.epoch):
                scope.save(self._hnsw_path(gen, user), self.fingerprint)
                self._hnsw_saved[user] = (gen, scope.epoch)

    def flush(self) -> None:
        """Persist the derived indexes and the queued scope snapshots (done on close). An index
        that cannot be saved is logged, not raised: the database holds everything, and the
        next open rebuilds what is missing."""
        with self._lock:
            self._persist_snapshots(wait=True)
            if self._index is None or self.dim is None:
                return
            try:
                with self._index_txn(wait=True):
                    self._save_index()
            except (OSError, ValueError, StoreError) as exc:
                log.warning("vector index of %s not saved (%s); it is rebuilt from the "
                            "database when needed", self.folder, exc)
                return
            rec = self._index_record()
            if rec is not None and self._depth == 0:
                self._drop_older_generations(rec["gen"])

    def close(self) -> None:
        with self._lock:
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
            finally:
                self.conn.close()

    # -- writes ---------------------------------------------------------------------------
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
        with self._ids_unique(rows), self.atomic() as c:
            users = sorted({r.user for r in rows})
            self._snap_pending.update(users)
            for start in range(0, len(users), 900):  # their snapshots no longer hold them
                some = users[start:start + 900]
                c.execute(f"DELETE FROM scope_snap WHERE user IN ({','.join('?' * len(some))})",
                          some)
            head = self._log_head()
            last = 0
            seqs: dict[tuple[str, str], int] = {}
            for part, block in row_blocks(rows, blocks, self.dim):
                got.append(block)
                # Many rows per INSERT statement: the per-statement cost of the FTS and log
                # triggers (statement journal, FTS5 flush) is paid once per chunk, not per row.
                for start in range(0, len(part), _ROWS_PER_INSERT):
                    chunk = part[start:start + _ROWS_PER_INSERT]
                    params = self._insert_params(chunk, block[start:start + len(chunk)], seqs)
                    cur = c.execute(_multi_insert("memories (id, user, agent, session, kind, "
                                                  "text, fts_extra, metadata, importance, time, "
                                                  "recorded_at, valid_from, valid_to, "
                                                  "superseded_by, sources, access_count, "
                                                  "last_accessed, pinned, expires_at, seq, "
                                                  "embedding)", 21, len(chunk)), params)
                    last = int(cur.lastrowid or 0)
            history = [v for r in rows for v in (r.id, r.user, "created", r.recorded_at, None)]
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                n = min(_ROWS_PER_INSERT, len(rows) - start)
                c.execute(_multi_insert("history (memory_id, user, event, at, data)", 5, n),
                          history[start * 5:(start + n) * 5])
            new_head = self._log_head()
        matrix = got[0] if len(got) == 1 else np.concatenate(got) if got else \
            np.zeros((0, self.dim or 0), dtype=np.float32)
        self._add_own_rows(rows, matrix, head, new_head, last, direct)

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

    def _insert_params(self, rows: Sequence[NewRow], vectors: np.ndarray,
                       seqs: dict[tuple[str, str], int]) -> list[Any]:
        """The bound values of a multi-row INSERT of ``rows``, numbering episodes in their
        session (``seqs``: the last number given per (user, session) in this batch)."""
        out: list[Any] = []
        for row, vec in zip(rows, vectors):
            if row.kind == "episode" and row.session is not None and row.seq is None:
                key = (row.user, row.session)
                if key not in seqs:
                    seqs[key] = self.next_seq(row.user, row.session)
                seqs[key] += 1
                row.seq = seqs[key]
            out += (row.id, row.user, row.agent, row.session, row.kind, row.text,
                    _fts_extra(row), json.dumps(row.metadata) if row.metadata else None,
                    row.importance, row.time, row.recorded_at, row.valid_from, row.valid_to,
                    row.superseded_by, json.dumps(row.sources) if row.sources else None,
                    row.access_count, row.last_accessed, int(row.pinned), row.expires_at,
                    row.seq, vec.tobytes())
        return out

    def _add_own_rows(self, rows: Sequence[NewRow], vectors: np.ndarray, head: int,
                      new_head: int, last: int, direct: bool) -> None:
        """Put rows this connection just committed straight into the loaded vector index
        (instead of re-reading their blobs on the next read), when the index was current
        before the write: then log entries head+1..new_head are exactly these inserts and the
        rows took consecutive ids ending at ``last`` (AUTOINCREMENT under the write lock)."""
        with self._lock:
            idx = self._index
            if (not direct or idx is None or idx.epoch != head or self.dim is None
                    or new_head - head != len(rows) or idx.dim != self.dim):
                return  # the next read catches up from the log
            rowids = np.arange(last - len(rows) + 1, last + 1, dtype=np.int64)
            users = [r.user for r in rows]
            idx.add(rowids, users, vectors)
            for user, scope in self._hnsw.items():
                mask = np.fromiter((u == user for u in users), dtype=bool, count=len(users))
                if mask.any():
                    scope.add(rowids[mask], vectors[mask])
                scope.epoch = new_head
            idx.epoch = new_head

    def get(self, memory_id: str, user: str) -> Memory | None:
        with self._lock:
            r = self.conn.execute(f"SELECT {_COLUMNS} FROM memories WHERE id = ? AND user = ?",
                                  (memory_id, user)).fetchone()
        return _row_to_memory(r) if r else None

    def get_many(self, ids: Sequence[str], user: str) -> dict[str, Memory]:
        out: dict[str, Memory] = {}
        with self._lock:
            for start in range(0, len(ids), 900):
                chunk = list(ids[start:start + 900])
                for r in self.conn.execute(
                        f"SELECT {_COLUMNS} FROM memories WHERE +user = ? AND id IN "
                        f"({','.join('?' * len(chunk))})", [user, *chunk]):
                    out[r[1]] = _row_to_memory(r)
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
                from ..errors import NotFound
                raise NotFound(memory_id, user=user)
            before = dict(zip([s.strip() for s in _COLUMNS.split(",")], old))
            values = dict(changes)
            for key in ("metadata", "sources"):
                if key in values and values[key] is not None:
                    values[key] = json.dumps(values[key]) if values[key] else None
            if "pinned" in values:
                values["pinned"] = int(bool(values["pinned"]))
            if "text" in values or "metadata" in values:
                merged = json.loads(values.get("metadata") or "null") if "metadata" in values \
                    else json.loads(before["metadata"] or "null")
                values["fts_extra"] = _extra_from(merged)
            if vector is not None:
                self._wrote_vectors = True
                values["embedding"] = np.ascontiguousarray(vector, np.float32).tobytes()
            sets = ", ".join(f"{quote_ident(k)} = ?" for k in values)
            c.execute(f"UPDATE memories SET {sets} WHERE id = ? AND user = ?",
                      [*values.values(), memory_id, user])
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
            finally:
                self._access_only = False

    # -- reads ----------------------------------------------------------------------------
    def _where(self, flt: Filters, alias: str = "m", *,
               user_literal: bool = False) -> tuple[str, list[Any]]:
        """SQL conditions for ``flt`` on table alias ``alias``. ``user_literal`` names the user
        as a literal, the form a partial index's condition matches (see _time_index)."""
        a = alias + "."
        if user_literal:
            sql = [f"{a}user = {_user_literal(flt.user)}"]
            params: list[Any] = []
        else:
            sql = [f"{a}user = ?"]
            params = [flt.user]
        if flt.agent is not None:
            sql.append(f"{a}agent = ?")
            params.append(flt.agent)
        if flt.session is not None:
            sql.append(f"{a}session = ?")
            params.append(flt.session)
        if flt.kinds:
            sql.append(f"{a}kind IN ({','.join('?' * len(flt.kinds))})")
            params.extend(flt.kinds)
        if flt.since is not None:
            sql.append(f"{a}time >= ?")
            params.append(flt.since)
        if flt.until is not None:
            sql.append(f"{a}time <= ?")
            params.append(flt.until)
        if flt.as_of is not None:
            # valid time: what held at as_of (facts back-dated with valid_from included)
            sql.append(f"coalesce({a}valid_from, {a}time) <= ? AND "
                       f"({a}valid_to IS NULL OR {a}valid_to > ?)")
            params.extend([flt.as_of, flt.as_of])
        if flt.now is not None:
            sql.append(f"({a}expires_at IS NULL OR {a}expires_at > ?)")
            params.append(flt.now)
        for key, value in flt.metadata.items():
            sql.append(f"json_extract({a}metadata, ?) IS ?")
            params.extend([f'$."{key}"', value])
        return " AND ".join(sql), params

    def text_search(self, query: str, flt: Filters, limit: int) -> list[tuple[str, float]]:
        """BM25 over text (weight 1) and speaker/name (weight 0.5) within the user's scope.

        FTS5 computes IDF over the whole table, i.e. across users: a name that is rare in the
        store but said in every other turn of one user's memories would dominate that user's
        ranking. For scopes up to ``hnsw_min_scope`` memories each query term is therefore
        scored on its own and its IDF replaced by the IDF within the user's scope."""
        terms = query_terms(query)
        if not terms:
            return []
        scope = "u" + flt.user.encode().hex()
        where, params = self._where(flt)
        sql = (f"SELECT m.id, -bm25(memories_fts, 1.0, 0.0, 0.5) AS s FROM memories_fts "
               f"JOIN memories m ON m.n = memories_fts.rowid "
               f"WHERE memories_fts MATCH ? AND {where} ORDER BY s DESC LIMIT ?")
        with self._lock:
            try:
                n_scope = self._scope_count(flt.user)
                if n_scope > self.hnsw_min_scope or len(terms) == 1:
                    match = " OR ".join(_phrase(t) for t in terms)
                    rows = self.conn.execute(
                        sql, [f'scope : "{scope}" AND ({match})', *params, limit]).fetchall()
                    return [(r[0], float(r[1])) for r in rows]
                scores: dict[str, float] = {}
                for term in terms:
                    got = self._term_tf(term, f'scope : "{scope}" AND {_phrase(term)}',
                                        n_scope, where, params, key="m.id")
                    if not got:
                        continue
                    idf_scope = _idf(max(n_scope, IDF_MIN_DOCS), len(got))
                    for mid, tf in got:
                        scores[mid] = scores.get(mid, 0.0) + tf * idf_scope
            except sqlite3.OperationalError as exc:
                log.warning("full-text query failed (%s) for %r", exc, terms)
                return []
            except sqlite3.DatabaseError as exc:
                raise self._fts_unreadable(exc) from exc
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        return ranked[:limit]

    def _fts_unreadable(self, exc: sqlite3.DatabaseError) -> StoreError:
        """The typed error for a full-text index SQLite cannot read (damaged), raised by every
        full-text query; open repairs it (``_check_fts``)."""
        return StoreError(f"the full-text index of {self.folder} cannot be read: {exc}")

    def text_ceiling(self, query: str, user: str) -> float:
        """The query's own BM25 ceiling in ``user``'s scope: what an average-length memory
        holding every query term once scores in ``text_search`` (the sum of the terms' IDFs as
        it weighs them: the scope's for several terms in a scope up to ``hnsw_min_scope``,
        else the store's). ``ltm.retrieval.calibrate`` divides BM25 by it."""
        terms = query_terms(query)
        if not terms:
            return 0.0
        with self._lock:
            try:
                n_scope = self._scope_count(user)
                if n_scope == 0:
                    return 0.0
                if n_scope > self.hnsw_min_scope or len(terms) == 1:
                    total = self._total_count()
                    return sum(_idf(total, self._store_df(t, total)) for t in terms)
                scope = "u" + user.encode().hex()
                mark = self._write_mark()
                out = 0.0
                for t in terms:
                    key = (user, t)
                    hit = self._scope_df_cache.get(key)
                    if hit is None or hit[1] != mark:
                        df = int(self.conn.execute(
                            "SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?",
                            (f'scope : "{scope}" AND {_phrase(t)}',)).fetchone()[0])
                        if len(self._scope_df_cache) > 50_000:
                            self._scope_df_cache.clear()
                        hit = self._scope_df_cache[key] = (df, mark)
                    out += _idf(max(n_scope, IDF_MIN_DOCS), hit[0])
                return out
            except sqlite3.OperationalError as exc:
                log.warning("full-text query failed (%s) for %r", exc, terms)
                return 0.0
            except sqlite3.DatabaseError as exc:
                raise self._fts_unreadable(exc) from exc

    def label_rows(self, query: str, user: str) -> list[tuple[str, np.ndarray]]:
        """For each content word of the query that labels some of the user's memories (their
        speaker, name, title or caption: the full-text ``extra`` column), the word and the
        row ids (``n``) of those memories: the speaker/entity match signal of
        ``ltm.retrieval``."""
        terms = query_terms(query)
        if not terms:
            return []
        scope = "u" + user.encode().hex()
        out: list[tuple[str, np.ndarray]] = []
        with self._lock:
            try:
                for t in terms:
                    rows = self.conn.execute(
                        "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?",
                        (f'scope : "{scope}" AND extra : {_phrase(t)}',)).fetchall()
                    if rows:
                        out.append((t, np.sort(np.fromiter((r[0] for r in rows), np.int64,
                                                           count=len(rows)))))
            except sqlite3.OperationalError as exc:
                log.warning("full-text query failed (%s) for %r", exc, terms)
                return []
            except sqlite3.DatabaseError as exc:
                raise self._fts_unreadable(exc) from exc
        return out

    def scope_count(self, user: str) -> int:
        """How many memories the user holds (cached until the next write)."""
        with self._lock:
            return self._scope_count(user)

    def _scope_count(self, user: str) -> int:
        key = ("scope", user)
        hit = self._count_cache.get(key)
        if hit is not None and hit[1] == self._write_mark():
            return hit[0]
        n = int(self.conn.execute("SELECT count(*) FROM memories WHERE user = ?",
                                  (user,)).fetchone()[0])
        self._count_cache[key] = (n, self._write_mark())
        return n

    def _total_count(self) -> int:
        stats = self._fts_averages()
        if stats is not None:
            return stats[0]
        hit = self._count_cache.get(("total", ""))
        if hit is not None and hit[1] == self._write_mark():
            return hit[0]
        n = int(self.conn.execute("SELECT count(*) FROM memories").fetchone()[0])
        self._count_cache[("total", "")] = (n, self._write_mark())
        return n

    def _fts_averages(self) -> tuple[int, float] | None:
        """(rows, mean tokens per row over all columns) from the full-text index's averages
        record, cached until the next write: the N and avgdl of its BM25, read instead of
        counting a million index entries; None if unreadable or empty."""
        mark = self._write_mark()
        if self._averages_cache is not None and self._averages_cache[1] == mark:
            return self._averages_cache[0]
        stats = None
        row = self.conn.execute("SELECT block FROM memories_fts_data WHERE id = 1").fetchone()
        if row is not None and isinstance(row[0], bytes) and row[0]:
            values = _varints(row[0])
            if values and values[0] > 0:
                stats = (values[0], sum(values[1:]) / values[0])
        self._averages_cache = (stats, mark)
        return stats

    def _term_tf(self, term: str, match: str, n_scope: int, where: str = "",
                 params: Sequence[Any] = (), key: str = "memories_fts.rowid"
                 ) -> list[tuple[Any, float]]:
        """(key, BM25 term-frequency part) of the rows matching one term within a scope (the
        caller multiplies by the scope's IDF): from highlight() where the store holds
        ``_HIGHLIGHT_RATIO`` times the scope's rows, else bm25() divided by the store's IDF."""
        total = self._total_count()
        if total > _HIGHLIGHT_RATIO * n_scope:
            rows = self._term_rows(match, where, params, key)
            if rows is not None:
                return rows
        join = "CROSS JOIN memories m ON m.n = memories_fts.rowid " if where else ""
        got = self.conn.execute(
            f"SELECT {key}, -bm25(memories_fts, 1.0, 0.0, 0.5) FROM memories_fts {join}"
            f"WHERE memories_fts MATCH ?{' AND ' + where if where else ''}",
            [match, *params]).fetchall()
        idf = _idf(total, self._store_df(term, total))
        return [(k, float(sc) / idf) for k, sc in got]

    def _term_rows(self, match: str, where: str = "", params: Sequence[Any] = (),
                   key: str = "memories_fts.rowid") -> list[tuple[Any, float]] | None:
        """(key, BM25 term-frequency part) of the rows matching one term within a scope,
        without FTS5's bm25(): the weighted count of the term in text (1) and extra (0.5)
        comes from highlight(), the row length from the docsize table, avgdl from the
        averages record. The caller multiplies by an IDF. None if the averages are unreadable
        or the index holds no content (the caller falls back to bm25())."""
        stats = self._fts_averages()
        if stats is None:
            return None
        avgdl = stats[1]
        # CROSS JOIN keeps the full-text match as the outer loop: otherwise the planner may
        # walk the user's rows and probe the index once per row (35 ms instead of 0.3)
        join = "CROSS JOIN memories m ON m.n = memories_fts.rowid " if where else ""
        rows = self.conn.execute(
            f"SELECT {key}, highlight(memories_fts, 0, char(1), ''), "
            "highlight(memories_fts, 2, char(1), ''), d.sz FROM memories_fts "
            f"{join}CROSS JOIN memories_fts_docsize d ON d.id = memories_fts.rowid "
            f"WHERE memories_fts MATCH ?{' AND ' + where if where else ''}",
            [match, *params]).fetchall()
        out = []
        norm = _K1 * (1 - _B)
        scale = _K1 * _B / avgdl
        for k, text, extra, sz in rows:
            if text is None:  # a contentless index (a store before 0005): no highlight()
                return None
            f = float(text.count("\x01"))
            if extra:
                f += 0.5 * extra.count("\x01")
            length = sum(sz) if max(sz, default=0) < 0x80 else sum(_varints(sz))
            out.append((k, f * (_K1 + 1) / (f + norm + scale * length)))
        return out

    def _store_df(self, term: str, total: int) -> int:
        """How many memories in the whole store hold ``term``: cached until the next commit of
        this or another connection (the write mark), since a forget or a text update lowers
        it. ``_term_tf`` divides FTS5's bm25() by the IDF made of it, so it must be the count
        FTS5 itself sees."""
        mark = self._write_mark()
        if self._df_mark != mark:
            self._df_cache.clear()
            self._df_mark = mark
        hit = self._df_cache.get(term)
        if hit is not None:
            return hit
        n = int(self.conn.execute("SELECT count(*) FROM memories_fts WHERE memories_fts "
                                  "MATCH ?", (_phrase(term),)).fetchone()[0])
        if len(self._df_cache) > 50_000:
            self._df_cache.clear()
        self._df_cache[term] = n
        return n

    def _write_mark(self) -> tuple[int, int]:
        """Changes whenever this or another connection commits."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        return (version, self._commits)

    # -- one user's scope as arrays (ltm.retrieval.pipeline's fast path) ------------------
    def scope_view(self, user: str) -> ScopeView | None:
        """The user's scoring columns (cached until the next write to the store); None for a
        scope larger than ``hnsw_min_scope`` (served by HNSW and the general path). Read from
        the user's snapshot (``scope_snap``) where one is current, else from the covering
        index; a scope of ``_SNAPSHOT_MIN`` rows or more read that way is queued for a
        snapshot."""
        with self._lock:
            mark = self._write_mark()
            hit = self._scope_cache.get(user)
            if hit is not None and hit[1] == mark:
                return hit[0]
            view = None
            snap = self.conn.execute("SELECT data FROM scope_snap WHERE user = ?",
                                     (user,)).fetchone()
            if snap is not None:
                view = ScopeView.from_bytes(user, snap[0])
            if view is None:
                if self._scope_count(user) > self.hnsw_min_scope:
                    return None
                view = self._read_scope(user)
                if len(view) >= _SNAPSHOT_MIN:
                    self._snap_pending.add(user)
                    if len(self._snap_pending) >= _SNAPSHOT_BATCH:
                        self._persist_snapshots(wait=False)
            if len(view) > self.hnsw_min_scope:
                return None
            if len(self._scope_cache) >= 256 or (self._scope_cache and next(
                    iter(self._scope_cache.values()))[1] != mark):
                self._scope_cache.clear()
            self._scope_cache[user] = (view, mark)
            self._count_cache[("scope", user)] = (len(view), mark)
            return view

    def _read_scope(self, user: str) -> ScopeView:
        rows = self.conn.execute(
            "SELECT n, id, session, coalesce(seq, -1), seq IS NOT NULL, time, "
            "coalesce(importance, 0.5), superseded_by IS NOT NULL, "
            f"coalesce(expires_at, {NO_EXPIRY}) FROM memories INDEXED BY memories_scope "
            "WHERE user = ?", (user,)).fetchall()
        return ScopeView.from_rows(user, rows)

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
                        c.execute("INSERT OR REPLACE INTO scope_snap (user, data) "
                                  "VALUES (?, ?)", (user, self._read_scope(user).to_bytes()))
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
        out = np.full(len(view), np.nan, dtype=np.float64)
        pos = view.positions(rowids)
        ok = pos >= 0
        out[pos[ok]] = scores[ok]
        return out

    def scope_text(self, query: str, view: ScopeView, masks: Sequence[tuple[np.ndarray, int]]
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``text_search`` over the view: for each (allowed rows, limit), the positions of the
        best matching allowed rows and their scores, best first. Same scores as
        ``text_search`` with the filter the mask stands for: per-scope IDF for each term
        (scopes up to ``hnsw_min_scope``), plain BM25 for one term or a larger scope."""
        terms = query_terms(query)
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float64))
        if not terms or len(view) == 0:
            return [empty for _ in masks]
        scope = "u" + view.user.encode().hex()
        sql = ("SELECT rowid, -bm25(memories_fts, 1.0, 0.0, 0.5) FROM memories_fts "
               "WHERE memories_fts MATCH ?")
        n_scope = len(view)
        per_scope = not (n_scope > self.hnsw_min_scope or len(terms) == 1)
        postings: list[tuple[np.ndarray, np.ndarray]] = []
        with self._lock:
            try:
                if not per_scope:
                    match = " OR ".join(_phrase(t) for t in terms)
                    groups = [f'scope : "{scope}" AND ({match})']
                else:
                    groups = [f'scope : "{scope}" AND {_phrase(t)}' for t in terms]
                for term, match in zip(terms, groups):
                    rows = self._term_tf(term, match, n_scope) if per_scope else \
                        self.conn.execute(sql, (match,)).fetchall()
                    if not rows:
                        continue
                    pos = view.positions(np.fromiter((r[0] for r in rows), np.int64,
                                                     count=len(rows)))
                    sc = np.fromiter((r[1] for r in rows), np.float64, count=len(rows))
                    ok = pos >= 0
                    postings.append((pos[ok], sc[ok]))
            except sqlite3.OperationalError as exc:
                log.warning("full-text query failed (%s) for %r", exc, terms)
                return [empty for _ in masks]
            except sqlite3.DatabaseError as exc:
                raise self._fts_unreadable(exc) from exc
        out = []
        for allowed, limit in masks:
            score = np.zeros(len(view), dtype=np.float64)
            matched = np.zeros(len(view), dtype=bool)
            for pos, sc in postings:
                keep = allowed[pos]
                if not keep.any():
                    continue
                if per_scope:  # the term's IDF within the scope
                    score[pos[keep]] += sc[keep] * _idf(max(n_scope, IDF_MIN_DOCS),
                                                        int(keep.sum()))
                else:
                    score[pos[keep]] += sc[keep]
                matched[pos[keep]] = True
            hit = np.flatnonzero(matched)
            order = hit[np.argsort(-score[hit], kind="stable")][:limit]
            out.append((order, score[order]))
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

    def _time_index(self, user: str) -> str | None:
        """The name of ``user``'s own index on (time, expires_at), made on first use, for a
        scope of at least ``hnsw_min_scope`` rows (smaller ones walk their rows); None for a
        smaller scope, or when it cannot be made now (inside a transaction, store busy)."""
        name = "memories_time_" + user_hash(user)
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
                              f"WHERE user = {_user_literal(user)}")
            except sqlite3.OperationalError as exc:
                log.info("no time index for a large scope yet (%s): rows are walked", exc)
                return None
        self._time_indexes.add(name)
        return name

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
            if scope is not None:
                want = limit if plain else limit * 8
                rowids, scores = scope.search(vector, want)
                if not plain:
                    allowed = self._allowed_rowids(flt)
                    keep = np.isin(rowids, allowed)
                    if keep.sum() < min(limit, len(allowed)):
                        # the filter is too selective for the graph: scan what it allows
                        rowids, scores = idx.search(flt.user, vector, limit, allowed)
                    else:
                        rowids, scores = rowids[keep][:limit], scores[keep][:limit]
            else:
                rowids, scores = idx.search(flt.user, vector, limit,
                                            None if plain else self._allowed_rowids(flt))
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
                "SELECT event, at, data FROM history WHERE memory_id = ? AND user = ? "
                "ORDER BY n", (memory_id, user)).fetchall()
        return [HistoryEvent(memory_id, e, from_us(at), json.loads(d) if d else None)
                for e, at, d in rows]

    def iter_export(self, user: str | None,
                    with_vectors: bool = True) -> Iterator[tuple[Memory, np.ndarray | None]]:
        sql = f"SELECT {_COLUMNS}, embedding FROM memories"
        params: list[Any] = []
        if user is not None:
            sql += " WHERE user = ?"
            params.append(user)
        sql += " ORDER BY n"
        with self._lock:
            rows = self.conn.execute(sql, params).fetchall()
        for r in rows:
            vec = np.frombuffer(r[-1], dtype=np.float32) if (with_vectors and r[-1]) else None
            yield _row_to_memory(r[:-1]), vec

    def scan(self, flt: Filters, *, order: str = "newest", limit: int = 100,
             before: tuple[int, str] | None = None) -> list[Memory]:
        """A page of the memories ``flt`` matches, by (time, id): ``newest`` or ``oldest``
        first, at most ``limit``, starting past the key ``before`` (the last (time, id) of
        the previous page). A large scope walks its own time index (``_time_index``)."""
        desc = scan_order(order)
        with self._lock:
            index = ""
            name = self._time_index(flt.user)
            if name is not None:
                index = f" INDEXED BY {name}"
            where, params = self._where(flt, user_literal=bool(index))
            if before is not None:
                where += f" AND (m.time, m.id) {'<' if desc else '>'} (?, ?)"
                params += [int(before[0]), str(before[1])]
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

    # -- fact extraction (ltm.policies.extract) --------------------------------------------
    def extraction_state(self, user: str, *, lock: bool = False) -> tuple[int, int, int]:
        """(cursor, tokens, day) of ``user``'s extraction: the last episode ``n`` processed,
        LLM tokens spent on ``day``. ``lock``: inside ``atomic()``, which already holds
        SQLite's write lock, so there is nothing more to take."""
        with self._lock:
            row = self.conn.execute("SELECT cursor, tokens, day FROM extraction_state "
                                    "WHERE user = ?", (user,)).fetchone()
        return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)

    def save_extraction_state(self, user: str, cursor: int, tokens: int, day: int) -> None:
        with self.atomic() as c:
            c.execute("INSERT INTO extraction_state (user, cursor, tokens, day, updated_at) "
                      "VALUES (?, ?, ?, ?, ?) ON CONFLICT(user) DO UPDATE SET "
                      "cursor = excluded.cursor, tokens = excluded.tokens, day = excluded.day, "
                      "updated_at = excluded.updated_at", (user, cursor, tokens, day, now_us()))

    def extraction_pending(self, user: str | None = None) -> dict[str, int]:
        """Episodes past each user's extraction cursor."""
        sql = ("SELECT m.user, count(*) FROM memories m LEFT JOIN extraction_state s ON "
               "s.user = m.user WHERE m.kind = 'episode' AND m.n > coalesce(s.cursor, 0)")
        params: list[Any] = []
        if user is not None:
            sql += " AND m.user = ?"
            params.append(user)
        with self._lock:
            return dict(self.conn.execute(sql + " GROUP BY m.user", params).fetchall())

    def episodes_after(self, user: str, cursor: int, limit: int) -> list[tuple[int, str]]:
        """(n, id) of ``user``'s next ``limit`` episodes after ``cursor``, in the order they
        were stored (one writer at a time: ``n`` grows in commit order)."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT n, id FROM memories WHERE user = ? AND kind = 'episode' AND n > ? "
                "ORDER BY n LIMIT ?", (user, cursor, limit)).fetchall()
        return [(int(n), str(i)) for n, i in rows]

    def prune_extraction_state(self) -> None:
        """Forget the extraction state of users who have no memories left."""
        with self.atomic() as c:
            c.execute("DELETE FROM extraction_state WHERE user NOT IN "
                      "(SELECT DISTINCT user FROM memories)")

    # -- forgetting -----------------------------------------------------------------------
    def forget(self, user: str, *, ids: Sequence[str] | None, session: str | None,
               before: int | None, compact: bool = True) -> ForgetReceipt:
        sql = ["user = ?"]
        params: list[Any] = [user]
        if ids is not None:
            sql.append(f"id IN ({','.join('?' * len(ids))})")
            params.extend(ids)
        if session is not None:
            sql.append("session = ?")
            params.append(session)
        if before is not None:
            sql.append("time < ?")
            params.append(before)
        where = " AND ".join(sql)
        at = now_us()
        self._snap_pending.add(user)
        with self._typed_errors("forget"):
            return self._forget(user, where, params, at, compact)

    def _forget(self, user: str, where: str, params: list[Any], at: int,
                compact: bool) -> ForgetReceipt:
        with self._erasing(), self.atomic() as c:
            victims = c.execute(f"SELECT n, id, kind FROM memories WHERE {where}",
                                params).fetchall()
            by_kind: dict[str, list[str]] = {}
            for _, mid, kind in victims:
                by_kind.setdefault(kind, []).append(mid)
            all_ids = [v[1] for v in victims]
            for start in range(0, len(all_ids), 900):
                chunk = all_ids[start:start + 900]
                marks = ",".join("?" * len(chunk))
                c.execute(f"DELETE FROM memories WHERE +user = ? AND id IN ({marks})",
                          [user, *chunk])
                # history keeps a content-free tombstone only
                c.execute(f"DELETE FROM history WHERE user = ? AND memory_id IN ({marks})",
                          [user, *chunk])
                c.executemany("INSERT INTO history (memory_id, user, event, at, data) "
                              "VALUES (?, ?, 'deleted', ?, NULL)",
                              [(mid, user, at) for mid in chunk])
            if victims:
                c.execute("INSERT INTO deletions (at, user_hash, count, ids) VALUES (?,?,?,?)",
                          (at, user_hash(user), len(victims), json.dumps(by_kind)))
        if victims:
            with self._lock:
                idx = self._vector_index()  # replays the deletions from the log
                del idx
                if compact:
                    self.compact()
        return ForgetReceipt(count=len(victims), ids_by_kind=by_kind, at=from_us(at))

    def scrub_history(self, memory_id: str, user: str) -> None:
        """Drop the earlier values recorded in a memory's history (keeping the events), for a
        memory rewritten because content it was derived from was forgotten."""
        with self._erasing(), self.atomic() as c:
            c.execute("UPDATE history SET data = NULL WHERE memory_id = ? AND user = ?",
                      (memory_id, user))

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

    # -- the full-text index's structure ----------------------------------------------------
    def _merge_fts(self, c: sqlite3.Connection) -> None:
        """Merge the full-text index into one segment, dropping the entries of deleted rows
        (inside ``c``'s transaction; under ``_erasing`` the pages it frees are zeroed).

        The FTS5 of SQLite 3.40 (this machine's; later versions cap the levels at 64) adds two
        empty levels to its structure record (row 10 of ``memories_fts_data``) at each
        'optimize' of an index whose segments sit on more than one level, which a delete
        since the last merge always causes; past 2,000 levels FTS5 calls the table corrupt
        (about 1,000 forgets). Once the record holds
        ``_FTS_MAX_LEVELS`` levels the index is rebuilt from ``memories`` instead: the
        same erasure, with a structure record of one or a few levels."""
        levels = _fts_levels(self._fts_structure(c))
        if levels is None or levels + 2 > _FTS_MAX_LEVELS:
            c.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")
        else:
            c.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")

    @staticmethod
    def _fts_structure(c: sqlite3.Connection) -> bytes | None:
        row = c.execute("SELECT block FROM memories_fts_data WHERE id = ?",
                        (_FTS_STRUCTURE_ID,)).fetchone()
        return row[0] if row is not None and isinstance(row[0], bytes) else None

    def _fts_healthy(self) -> bool:
        """Whether FTS5 can open the full-text index and its structure record is within
        bounds (a store whose forgets grew it under an earlier version may be past them)."""
        levels = _fts_levels(self._fts_structure(self.conn))
        if levels is None or levels > _FTS_MAX_LEVELS:
            return False
        try:
            self.conn.execute("SELECT rowid FROM memories_fts WHERE memories_fts MATCH "
                              "'\"ltm\"' LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise
            log.warning("the full-text index of %s cannot be read: %s", self.folder, exc)
            return False
        return True

    def _check_fts(self) -> None:
        """On open: rebuild a full-text index that FTS5 cannot open or whose structure record
        has grown past ``_FTS_MAX_LEVELS`` levels, from the text in ``memories`` (the truth).
        When FTS5 cannot even open it (past 2,000 levels: "vtable constructor failed"),
        its structure record is first replaced by an empty one, which 'rebuild' rewrites
        with everything else."""
        if self._fts_healthy():
            return
        with self._erasing(), self.atomic() as c:
            if self._fts_healthy():
                return  # another process repaired it while we waited for the lock
            log.warning("rebuilding the full-text index of %s from the memories table",
                        self.folder)
            block = self._fts_structure(c)
            levels = _fts_levels(block)
            if levels is None or levels > _FTS5_LEVEL_LIMIT:
                cookie = block[:4] if block is not None and len(block) >= 4 else bytes(4)
                c.execute("INSERT OR REPLACE INTO memories_fts_data (id, block) VALUES (?, ?)",
                          (_FTS_STRUCTURE_ID, cookie + bytes(3)))
            c.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")
        self._averages_cache = None

    def _wipe_free_pages(self, c: sqlite3.Connection) -> None:
        """Zero every page on the freelist. Pages freed by ordinary writes (FAST) keep what
        they held, which may include text erased since: they are taken off the freelist by
        zero-filled blobs (which overwrite them), and freed again with secure_delete ON."""
        if int(c.execute("PRAGMA freelist_count").fetchone()[0]) == 0:
            return
        page = int(c.execute("PRAGMA page_size").fetchone()[0])
        c.execute("CREATE TABLE IF NOT EXISTS wipe_free_pages (b BLOB)")
        for _ in range(1_000):  # each round takes up to 4,096 pages; a round adds at most 2
            free = int(c.execute("PRAGMA freelist_count").fetchone()[0])
            if free == 0:
                break
            c.execute("INSERT INTO wipe_free_pages VALUES (zeroblob(?))",
                      (min(free, 4096) * (page - 8),))
        c.execute("DROP TABLE wipe_free_pages")

    def compact(self) -> None:
        """Make erased content unrecoverable: merge the full-text segments (dropping deleted
        entries), zero every free page, rewrite the derived index files, and checkpoint the WAL
        into the database."""
        with self._lock, self._typed_errors("compact"):
            with self._erasing(), self.atomic() as c:
                # first the pages ordinary writes freed (the merge below, under ON, zeroes
                # what it frees itself: wiping after it would rewrite the old index twice)
                self._wipe_free_pages(c)
                self._merge_fts(c)
            if self.dim is not None:
                # caught up with every erasure, so that the generation the flush writes (and
                # the removal of the older ones) leaves no erased vector in the index files
                self._vector_index()
            self.flush()
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


_WAL_CHECKPOINT_PAGES = 20_000  # WAL pages (4 KiB) before a commit checkpoints it
_PAGE_CACHE_KIB = 64 * 1024  # SQLite page cache per connection (grows as pages are read)
_K1, _B = 1.2, 0.75  # FTS5's bm25() constants
# Per-term scope scoring takes term frequencies from highlight() (~4.5 us a matching row)
# instead of bm25() (whose IDF pass costs ~0.02 us for each row of the whole store holding
# the term) when the store holds this many times the scope's rows: a term is then rarer in
# the scope than its store-wide postings are long. 1M rows / 1,000 a user: highlight();
# LoCoMo (5,882 turns, ~600 a conversation): bm25().
_HIGHLIGHT_RATIO = 200


# FTS5's structure record: row 10 of memories_fts_data, a 4-byte cookie (then, in later
# SQLite versions, the 4-byte marker of its second format), the number of levels, ...
_FTS_STRUCTURE_ID = 10
_FTS_STRUCTURE_V2 = b"\xff\x00\x00\x01"
_FTS5_LEVEL_LIMIT = 2_000  # FTS5_MAX_SEGMENT: a record of more levels reads as corrupt
# Levels the structure record may hold before a merge rebuilds the index instead (2 a forget
# on SQLite 3.40; ~600 bytes): a rebuild costs ~7 merges, so once per ~127 forgets.
_FTS_MAX_LEVELS = 256


def _fts_levels(block: bytes | None) -> int | None:
    """The number of levels in an FTS5 structure record; None if it is missing or garbled."""
    if block is None or len(block) < 5:
        return None
    start = 8 if block[4:8] == _FTS_STRUCTURE_V2 else 4
    values = _varints(block[start:start + 9])
    return values[0] if values else None


def _varints(buf: bytes) -> list[int]:
    """SQLite varints (7 bits a byte, high bit = more; a 9th byte carries 8 bits)."""
    out, value, width = [], 0, 0
    for byte in buf:
        width += 1
        if width == 9:
            out.append((value << 8) | byte)
            value = width = 0
            continue
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            out.append(value)
            value = width = 0
    return out


_SNAPSHOT_MIN = 64  # smaller scopes are read row by row as quickly as from a snapshot
_SNAPSHOT_BATCH = 32  # snapshots a reader queues before it writes them
_OPTIMIZE_AFTER = 20_000  # rows inserted by one connection before close merges FTS segments
_CATCH_UP_MAX = 500_000  # log entries replayed in memory; more: streamed rebuild
_INDEX_KEY = "vector_index"  # meta row: the record of the vector index's saved generation
_SAMPLE_ROWS = 64  # saved rows compared with the database when an index is loaded
_ROWS_PER_INSERT = 400  # rows per multi-row INSERT (21 columns: 8,400 bound values)


def _multi_insert(table_and_columns: str, width: int, rows: int) -> str:
    """``INSERT INTO <table (columns)> VALUES (?,..),(?,..)...`` for ``rows`` rows."""
    one = "(" + ",".join("?" * width) + ")"
    return f"INSERT INTO {table_and_columns} VALUES " + ",".join([one] * rows)


# Metadata fields that describe a memory in words and are searchable as full text (at half the
# weight of the text itself): who said it, what it is called, what an attachment shows.
FTS_METADATA_FIELDS = ("speaker", "name", "title", "caption")


def _extra_from(metadata: dict[str, Any] | None) -> str:
    if not metadata:
        return ""
    parts = [metadata.get(k) for k in FTS_METADATA_FIELDS]
    return " ".join(p for p in parts if isinstance(p, str))


def _fts_extra(row: NewRow) -> str:
    return _extra_from(row.metadata)


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements, keeping trigger bodies whole."""
    statements, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            statements.append(joined)
            buf = []
    if "".join(buf).strip():
        statements.append("\n".join(buf))
    return statements
