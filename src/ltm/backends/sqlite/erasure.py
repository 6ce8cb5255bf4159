"""Erasure: forget (rows, their history's content, an audit row without content), the scrub of
a rewritten memory's history, and compact, which leaves erased content in no page of the
database and in no file of the vector index."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from ...errors import StoreBusy
from ...model import ForgetReceipt
from ...timeutil import from_us, now_us
from ..common import successor_relinks, tombstone_user, user_hash
from .connection import Connection


class Erasure(Connection):
    """Forgetting and compaction (a part of ``SqliteBackend``)."""

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
            victims = c.execute(f"SELECT n, id, kind, superseded_by FROM memories "
                                f"WHERE {where}", params).fetchall()
            by_kind: dict[str, list[str]] = {}
            for _, mid, kind, _ in victims:
                by_kind.setdefault(kind, []).append(mid)
            # a chain's links to an erased fact go to its first successor that stays; with
            # none left, the link goes (its valid_to stays: when it stopped holding)
            relinks = successor_relinks([(v[1], v[3]) for v in victims])
            c.executemany("UPDATE memories SET superseded_by = ? WHERE user = ? "
                          "AND superseded_by = ?",
                          [(succ, user, mid) for mid, succ in relinks])
            relinked = {mid for mid, _ in relinks}
            c.execute("UPDATE memories SET superseded_by = NULL WHERE user = ? AND "
                      "superseded_by IN (SELECT value FROM json_each(?))",
                      (user, json.dumps([v[1] for v in victims if v[1] not in relinked])))
            all_ids = [v[1] for v in victims]
            tomb = tombstone_user(user)
            for start in range(0, len(all_ids), 900):
                chunk = all_ids[start:start + 900]
                marks = ",".join("?" * len(chunk))
                c.execute(f"DELETE FROM memories WHERE +user = ? AND id IN ({marks})",
                          [user, *chunk])
                # history keeps a content-free tombstone only, naming the user by a hash
                c.execute(f"DELETE FROM history WHERE user IN (?, ?) AND memory_id IN "
                          f"({marks})", [user, tomb, *chunk])
                c.executemany("INSERT INTO history (memory_id, user, event, at, data) "
                              "VALUES (?, ?, 'deleted', ?, NULL)",
                              [(mid, tomb, at) for mid in chunk])
            if victims:
                c.execute("INSERT INTO deletions (at, user_hash, count, ids) VALUES (?,?,?,?)",
                          (at, user_hash(user), len(victims), json.dumps(by_kind)))
                if c.execute("SELECT 1 FROM memories WHERE user = ? LIMIT 1",
                             (user,)).fetchone() is None:
                    self._forget_scope(c, user, tomb)
        if victims:
            with self._lock:
                idx = self._vector_index()  # replays the deletions from the log
                del idx
                if compact:
                    self.compact()
                self._drop_user_caches(user)  # (after what reads the user's rows above)
        return ForgetReceipt(count=len(victims), ids_by_kind=by_kind, at=from_us(at))

    def _drop_user_caches(self, user: str) -> None:
        """Drop what this process holds of ``user``'s rows (their texts, postings, counts and
        view): a forget erases them from memory too, not only from the files. (A stale entry
        is never served, since the user's mark moved; but held past the forget it kept erased
        text in a long-running process until the cache filled.)"""
        def mine(key: object) -> bool:
            return key == user or (isinstance(key, tuple) and user in key)

        caches: tuple[dict[Any, Any], ...] = (
            self._count_cache, self._scope_df_cache, self._scope_cache, self._dense_places,
            self._scope_avgdl_cache, self._held_cache, self._chunk_cache)
        for cache in caches:
            for key in [k for k in cache if mine(k)]:
                del cache[key]
        self._drop_postings(user)
        self._appends.pop(user, None)

    def _forget_scope(self, c: sqlite3.Connection, user: str, tomb: str) -> None:
        """The user has no memory left: what names it goes too. Tombstones written before
        they were hashed (their ids are in the deletion log under the user's hash, and the
        history is indexed by memory id, not by user), and the time index of a large scope,
        whose condition holds the name."""
        erased: set[str] = set()
        for (raw,) in c.execute("SELECT ids FROM deletions WHERE user_hash = ?",
                                (user_hash(user),)):
            for ids in json.loads(raw).values():
                erased.update(ids)
        gone = sorted(erased)
        for start in range(0, len(gone), 900):
            chunk = gone[start:start + 900]
            c.execute(f"UPDATE history SET user = ? WHERE user = ? AND memory_id IN "
                      f"({','.join('?' * len(chunk))})", [tomb, user, *chunk])
        name = "memories_time_" + user_hash(user)
        c.execute(f"DROP INDEX IF EXISTS {name}")
        self._time_indexes.discard(name)

    def scrub_history(self, memory_id: str, user: str) -> None:
        """Drop the earlier values recorded in a memory's history (keeping the events), for a
        memory rewritten because content it was derived from was forgotten."""
        with self._erasing(), self.atomic() as c:
            c.execute("UPDATE history SET data = NULL WHERE memory_id = ? AND user = ?",
                      (memory_id, user))

    def set_history(self, user: str, events: Sequence[tuple[str, str, int, Any]]) -> None:
        """(``Backend.set_history``) The history of ``user``'s memories named in ``events``
        ((memory id, event, at, previous values or None), in order) becomes those events."""
        ids = sorted({e[0] for e in events})
        with self.atomic() as c:
            for start in range(0, len(ids), 900):
                chunk = ids[start:start + 900]
                c.execute(f"DELETE FROM history WHERE user = ? AND memory_id IN "
                          f"({','.join('?' * len(chunk))})", [user, *chunk])
            c.executemany("INSERT INTO history (memory_id, user, event, at, data) "
                          "VALUES (?, ?, ?, ?, ?)",
                          [(mid, user, event, at, None if data is None else json.dumps(data))
                           for mid, event, at, data in events])

    def restored(self, user: str, ids: Sequence[str], at: int) -> None:
        """(``Backend.restored``) Move the deletion tombstones of ``ids`` after the events
        an import wrote, and record their restoration."""
        tomb = tombstone_user(user)
        with self.atomic() as c:
            for start in range(0, len(ids), 900):
                chunk = list(ids[start:start + 900])
                where = (f"user = ? AND event = 'deleted' AND memory_id IN "
                         f"({','.join('?' * len(chunk))})")
                gone = dict(c.execute(f"SELECT memory_id, at FROM history WHERE {where} "
                                      f"ORDER BY n", [tomb, *chunk]).fetchall())
                if not gone:
                    continue
                c.execute(f"DELETE FROM history WHERE {where}", [tomb, *chunk])
                c.executemany("INSERT INTO history (memory_id, user, event, at, data) "
                              "VALUES (?, ?, ?, ?, NULL)",
                              [(mid, *e) for mid, when in gone.items()
                               for e in ((tomb, "deleted", when), (user, "restored", at))])

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
            self.flush(erasing=True)  # (an index not saved: the old files hold them)
            # (busy, ...): another connection wrote or read on past the busy timeout, so the
            # log was not emptied and its frames still hold what the erasure replaced (the
            # rows' pages, the full-text entries): an error, so that the erasure stays
            # pending (forget raises StoreError saying so; the next forget, gc or close
            # compacts); another connection's own checkpoint (two compactions, a commit's
            # automatic one) makes it busy at once, without the busy handler: tried again
            # until the busy timeout has passed
            wait = int(self.conn.execute("PRAGMA busy_timeout").fetchone()[0]) / 1000
            deadline = time.monotonic() + wait
            while self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:
                if time.monotonic() >= deadline:
                    raise StoreBusy("compact: another connection kept using the store past the "
                                    "busy timeout, so its write-ahead log still holds what "
                                    "was erased; retry shortly")
                time.sleep(0.01)
