"""Upkeep of the vector index: its saved generations, the checks on load, the catch-up from
the log, the rebuild from the stored vectors, and the per-scope HNSW graphs.

The vector index is saved in generations: index/gen-<n>/ holds one whole save, and the
database's meta row ``vector_index`` names the current one (its number, the log epoch it
reflects, its checksums, and ``rows``: the database's count of rows with vectors at that
epoch, counted from the log, never from the index). A save writes a new generation and commits
its record in one transaction that holds the write lock from the catch-up to the commit, so a
kill leaves the old generation or the new one, never a mix, and no process writes the vectors
of rows another process erased in the meantime. Only a holder of the write lock writes or
sweeps index files; older generations go once the new record is committed."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import StoreError
from ...index.exact import IndexWriter, VectorIndex
from ...index.hnsw import HnswScope
from ..base import NewRow
from ..common import user_hash
from .connection import Connection
from .schema import INDEX_DIR

log = logging.getLogger(__name__)

_CATCH_UP_MAX = 500_000  # log entries replayed in memory; more: streamed rebuild
_INDEX_KEY = "vector_index"  # meta row: the record of the vector index's saved generation
_SAMPLE_ROWS = 64  # saved rows compared with the database when an index is loaded


class VectorIndexUpkeep(Connection):
    """The vector index kept up to date with the database (a part of ``SqliteBackend``)."""

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

    def _commit_record(self, record: dict[str, Any], rows: int | None) -> None:
        """Name a written generation in the database (inside an ``_index_txn``), with
        ``rows``, the database's count of rows with vectors at its epoch (None: not known)."""
        if rows is not None:
            record = {**record, "rows": rows}
        self.conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                          "SET value = excluded.value", (_INDEX_KEY, json.dumps(record)))
        # the log is only needed past what the saved index holds
        self.conn.execute("DELETE FROM index_log WHERE epoch < ?", (record["epoch"],))

    def _rows_at(self, epoch: int) -> int | None:
        """The database's count of rows with vectors at log epoch ``epoch``: the current
        record's ``rows`` plus the inserts less the deletes the log holds since its epoch
        (inside an ``_index_txn``: only a commit of a record trims the log, and only below
        that record's epoch). Every row is written with its vector, and an update replaces
        it. Read from the database, not from the index: an index that missed log entries
        (a lost catch-up) is saved with a ``count`` this does not match. None where the
        record holds no count (an older version wrote it) or the log does not reach it."""
        rec = self._index_record()
        base, since = (rec.get("rows"), int(rec["epoch"])) if rec else (0, 0)
        first = self.conn.execute("SELECT min(epoch) FROM index_log").fetchone()[0]
        if not isinstance(base, int) or since > epoch \
                or (first is not None and first > since + 1):
            return None
        added, dropped = self.conn.execute(
            "SELECT count(*) FILTER (WHERE op = 'i'), count(*) FILTER (WHERE op = 'd') "
            "FROM index_log WHERE epoch > ? AND epoch <= ?", (since, epoch)).fetchone()
        return base + int(added) - int(dropped)

    def _load_generation(self, rec: dict[str, Any]) -> VectorIndex | None:
        """Map the generation ``rec`` names (its files hold the record less ``rows``); None
        where its count of rows is not the database's at its epoch: saved from an index that
        missed log entries (rows missing, erased ones kept), which the sample of a load
        cannot see for a missing row, and sees for an erased one only where it draws it.
        Compared in the record: no table scan."""
        assert self.dim is not None
        rows = rec.get("rows")
        if isinstance(rows, int) and rows != rec.get("count"):
            log.warning("vector index of %s holds %s rows, the database %d at its epoch; "
                        "rebuilding", self.folder, rec.get("count"), rows)
            return None
        files = {k: v for k, v in rec.items() if k != "rows"}
        return VectorIndex.load(self._gen_dir(rec["gen"]), self.dim, files)

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
            # (inside a search, the data version the search reads its other caches under:
            # one PRAGMA a search)
            version = self._write_mark()[0]
            if self._index is not None and version == self._data_version:
                return self._index
            if self._depth > 0:  # what it reads now includes the transaction's own writes
                self._index_in_txn = True
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
        """The generation the database names, its count of rows and its files checked against
        its record, caught up from the log and a sample of its rows compared with the
        database; else a rebuild.
        Then index/ is swept of leftovers."""
        assert self.dim is not None
        idx: VectorIndex | None = None
        for _ in range(3):
            rec = self._index_record()
            if rec is None:
                break
            idx = self._load_generation(rec)
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
        self._commit_record(record, writer.count)  # the database's rows, as read
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

    @contextmanager
    def _log_snapshot(self) -> Iterator[None]:
        """The log and the rows read in one snapshot (a read transaction; inside a
        transaction, its own). Read statement by statement, another process's save could
        commit between two of them and trim the log entries the next statement reads."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    def _catch_up(self, idx: VectorIndex) -> None:
        """Replay the log from the index's epoch to its head. Where the log no longer reaches
        back that far (another process saved a generation and trimmed it), start over from
        that generation or from the rows, then replay from there."""
        assert self.dim is not None
        for tries in range(1, 4):
            with self._log_snapshot():  # the head, the check and the entries: one snapshot
                head = self._log_head()
                if head == idx.epoch:
                    return
                if self._log_reaches(idx.epoch, head):
                    self._replay(idx, head)
                    return
            rec = self._index_record()
            fresh = None
            if tries < 3 and rec is not None and rec["gen"] != idx.gen \
                    and self._log_reaches(int(rec["epoch"]), head):
                fresh = self._load_generation(rec)
            rebuilt = fresh is None
            if fresh is None:
                fresh = self._rebuild()
            idx.__dict__.update(fresh.__dict__)
            self._hnsw.clear()
            if rebuilt:
                # the rows and the head were read in one snapshot (its own, or under the write
                # lock): current as of then; later entries are the next call's
                return

    def _replay(self, idx: VectorIndex, head: int) -> None:
        """Apply the log entries after the index's epoch up to ``head`` (inside a
        ``_log_snapshot`` that found them all there)."""
        assert self.dim is not None
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
            rows = self._rows_at(idx.epoch)  # before the save: it commits no record
            record = idx.save(self._gen_dir(new), self.fingerprint, new)
            self._hnsw_saved.clear()
            for user, scope in self._hnsw.items():
                scope.save(self._hnsw_path(new, user), self.fingerprint)
                self._hnsw_saved[user] = (new, scope.epoch)
            self._commit_record(record, rows)
            return
        gen: int = rec["gen"]
        for user, scope in self._hnsw.items():  # graphs built since the generation was saved
            if self._hnsw_saved.get(user) != (gen, scope.epoch):
                scope.save(self._hnsw_path(gen, user), self.fingerprint)
                self._hnsw_saved[user] = (gen, scope.epoch)


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
