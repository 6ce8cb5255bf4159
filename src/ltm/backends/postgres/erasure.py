"""Erasure: ``forget`` deletes rows and leaves content-free tombstones, ``scrub_history`` drops
a rewritten memory's earlier values, ``compact`` makes erased content unreachable in the
database files (VACUUM, GIN rebuild; VACUUM FULL on request)."""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from ...errors import StoreBusy
from ...model import ForgetReceipt
from ...timeutil import from_us, now_us
from ..common import successor_relinks, tombstone_user, user_hash
from .connection import Connection
from .schema import DOC_LENGTH, ident, scope_index_name

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)
_VACUUM_ATTEMPTS = 5
_COMPACT_WAIT_S = 120.0  # how long a compaction waits for another process's


class Erasure(Connection):
    """Forgetting for real."""

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
        emptied: list[str] = []  # the user, when this forget left it no memory

        def work(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
            self._lock_users(conn, [user])
            victims = conn.execute(f"DELETE FROM {self._m} m WHERE {where} "
                                   f"RETURNING n, id, kind, {DOC_LENGTH}, superseded_by",
                                   params).fetchall()
            victims.sort()
            by_kind: dict[str, list[str]] = {}
            for _, mid, kind, _, _ in victims:
                by_kind.setdefault(kind, []).append(mid)
            if not victims:
                return by_kind
            # a chain's links to an erased fact go to its first successor that stays; with
            # none left, the link goes (its valid_to stays: when it stopped holding)
            relinks = successor_relinks([(v[1], v[4]) for v in victims])
            if relinks:
                with conn.cursor() as cur:
                    cur.executemany(f"UPDATE {self._m} SET superseded_by = %s WHERE "
                                    f"user_id = %s AND superseded_by = %s",
                                    [(succ, user, mid) for mid, succ in relinks])
            relinked = {mid for mid, _ in relinks}
            conn.execute(f"UPDATE {self._m} SET superseded_by = NULL WHERE user_id = %s AND "
                         f"superseded_by = ANY(%s::text[])",
                         [user, [v[1] for v in victims if v[1] not in relinked]])
            gone = [v[1] for v in victims]
            tomb = tombstone_user(user)
            # history keeps a content-free tombstone only, naming the user by a hash
            conn.execute(f"DELETE FROM {self._h} WHERE user_id = ANY(%s::text[]) AND "
                         f"memory_id = ANY(%s::text[])", [[user, tomb], gone])
            conn.execute(f"INSERT INTO {self._h} (user_id, memory_id, event, at) "
                         f"SELECT %s, i, 'deleted', %s FROM unnest(%s::text[]) AS i",
                         [tomb, at, gone])
            if conn.execute(f"SELECT 1 FROM {self._m} WHERE user_id = %s LIMIT 1",
                            [user]).fetchone() is None:
                # no memory left: tombstones written before they were hashed name it too
                # (moved, not updated: user_id is the distribution column on Citus)
                conn.execute(f"INSERT INTO {self._h} (user_id, memory_id, event, at) "
                             f"SELECT %s, memory_id, event, at FROM {self._h} "
                             f"WHERE user_id = %s ORDER BY n", [tomb, user])
                conn.execute(f"DELETE FROM {self._h} WHERE user_id = %s", [user])
                emptied.append(user)
            if user in emptied:  # its statistics row names the user: it goes too
                conn.execute(f"DELETE FROM {self._st} WHERE user_id = %s", [user])
            else:
                conn.execute(f"UPDATE {self._st} SET docs = docs - %s, lexemes = lexemes - %s, "
                             f"version = version + 1 WHERE user_id = %s",
                             [len(victims), sum(int(v[3] or 0) for v in victims), user])
            conn.execute(f"INSERT INTO {self._s}.deletions (at, user_hash, count, ids) "
                         f"VALUES (%s, %s, %s, %s)",
                         [at, user_hash(user), len(victims), self._jsonb(by_kind)])
            return by_kind

        by_kind = self._retry(work)
        count = sum(len(v) for v in by_kind.values())
        with self._chunk_lock:  # (what this process holds of the user's passages goes too)
            self._chunk_cache.pop(user, None)
        if emptied:
            self._drop_scope_index(user)
        if count and compact:
            self.compact()
        return ForgetReceipt(count=count, ids_by_kind=by_kind, at=from_us(at))

    def _drop_scope_index(self, user: str) -> None:
        """The HNSW index of a scope that no longer holds a memory (its condition holds the
        user's name). DROP INDEX CONCURRENTLY cannot run in a transaction: inside ``atomic()``
        it is left to the next ``compact()``."""
        self._indexed.discard(user)
        if getattr(self._local, "conn", None) is not None:
            self._empty_scopes.add(user)
            return
        self._empty_scopes.discard(user)
        name = scope_index_name(user_hash(user))
        with self._pooled() as conn:
            if conn.execute(f"SELECT 1 FROM {self._m} WHERE user_id = %s LIMIT 1",
                            [user]).fetchone() is not None:
                return  # written again meanwhile
            if self._scope_index_valid(conn, user) is None:  # type: ignore[attr-defined]
                return  # a small scope: it never had one
            try:
                conn.execute(cast(Any, f"DROP INDEX CONCURRENTLY IF EXISTS {self._s}."
                                       f"{ident(name)}"))
            except self._psycopg.Error as exc:  # e.g. another process builds it right now
                log.warning("dropping the HNSW index of an emptied scope failed: %s", exc)

    def _take_lock(self, conn: psycopg.Connection[Any], key: str) -> None:
        """Take the session advisory lock ``key``, polling; StoreBusy after
        ``_COMPACT_WAIT_S`` seconds."""
        deadline = _time.monotonic() + _COMPACT_WAIT_S
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                               [key]).fetchone()
            if row is not None and row[0]:
                return
            if _time.monotonic() > deadline:
                raise StoreBusy(f"another process has been compacting the store for "
                                f"{_COMPACT_WAIT_S:.0f} s; retry")
            _time.sleep(0.05)

    def _vacuum(self, conn: psycopg.Connection[Any], sql: str) -> None:
        """Run ``sql`` (a VACUUM or REINDEX), again when it deadlocks with another process's
        compaction (their ANALYZE and REINDEX take the tables' locks in turn); StoreBusy when
        it keeps failing (the store then compacts at its next forget, gc or close)."""
        errors = self._psycopg.errors
        for attempt in range(_VACUUM_ATTEMPTS):
            try:
                conn.execute(cast(Any, sql))
                return
            except (errors.DeadlockDetected, errors.LockNotAvailable) as exc:
                if attempt == _VACUUM_ATTEMPTS - 1:
                    raise StoreBusy(f"compacting conflicted with another process "
                                    f"({str(exc).splitlines()[0]}); retry") from exc
                _time.sleep(0.05 * 2 ** attempt)

    def scrub_history(self, memory_id: str, user: str) -> None:
        """Drop the earlier values recorded in a memory's history (keeping the events), for a
        memory rewritten because content it was derived from was forgotten."""
        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute(f"UPDATE {self._h} SET data = NULL WHERE user_id = %s AND "
                         f"memory_id = %s", [user, memory_id])

        self._retry(work)

    def set_history(self, user: str, events: Sequence[tuple[str, str, int, Any]]) -> None:
        """(``Backend.set_history``) The history of ``user``'s memories named in ``events``
        ((memory id, event, at, previous values or None), in order) becomes those events."""
        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute(f"DELETE FROM {self._h} WHERE user_id = %s AND memory_id = "
                         f"ANY(%s::text[])", [user, sorted({e[0] for e in events})])
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {self._h} (user_id, memory_id, event, at, data) "
                                f"VALUES (%s, %s, %s, %s, %s)",
                                [(user, mid, event, at,
                                  None if data is None else self._jsonb(data))
                                 for mid, event, at, data in events])

        self._retry(work)

    def restored(self, user: str, ids: Sequence[str], at: int) -> None:
        """(``Backend.restored``) Move the deletion tombstones of ``ids`` after the events
        an import wrote, and record their restoration."""
        tomb = tombstone_user(user)

        def work(conn: psycopg.Connection[Any]) -> None:
            gone = conn.execute(f"DELETE FROM {self._h} WHERE user_id = %s AND event = "
                                f"'deleted' AND memory_id = ANY(%s::text[]) "
                                f"RETURNING memory_id, at", [tomb, list(ids)]).fetchall()
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {self._h} (user_id, memory_id, event, at) "
                                f"VALUES (%s, %s, %s, %s)",
                                [(u, mid, event, when) for mid, t in dict(gone).items()
                                 for u, event, when in ((tomb, "deleted", t),
                                                        (user, "restored", at))])

        self._retry(work)

    def compact(self, full: bool = False) -> None:
        """Make erased content unreachable: VACUUM removes the deleted tuples from the tables
        and B-tree indexes, and the full-text GIN index is rebuilt (REINDEX CONCURRENTLY; GIN
        never drops a word's entry, so the words of erased text would stay in it). Neither
        blocks readers or writers. The tables are analysed again: the planner statistics
        sample texts and user names. VACUUM frees a dead tuple's space without zeroing it, so
        its bytes can stay in a table page until reused; ``full=True`` rewrites the tables
        (VACUUM FULL: new files, but an exclusive lock for the duration). WAL, backups and
        replicas: see docs/postgres.md."""
        if getattr(self._local, "conn", None) is not None:
            return  # cannot run inside a transaction; the next compact() or gc does it
        for user in sorted(self._empty_scopes):
            self._drop_scope_index(user)
        key = f"ltm-compact:{self.schema}"
        with self._pooled() as conn:
            # one compaction of the store at a time, in any process: two at once deadlock
            # (each one's ANALYZE and REINDEX waits for the other's). Polled, not waited
            # for: REINDEX CONCURRENTLY waits for every open statement, a waiting lock too
            self._take_lock(conn, key)
            try:
                # ANALYZE too: the planner statistics sample column values (texts, user
                # names) and kept erased ones until the next analysis
                self._vacuum(conn, f"VACUUM ({'FULL, ' if full else ''}ANALYZE) "
                                   f"{self._m}, {self._h}, {self._s}.chunk_vectors")
                if full:
                    return
                try:
                    self._vacuum(conn, f"REINDEX INDEX CONCURRENTLY {self._s}.memories_tsv")
                except self._psycopg.Error as exc:
                    log.warning("rebuilding the full-text index failed: %s", exc)
            finally:
                if not conn.closed:
                    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
