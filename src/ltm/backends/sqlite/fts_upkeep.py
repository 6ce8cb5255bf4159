"""The upkeep of the FTS5 index's structure: merging it after deletes (``_merge_fts``, which
erasure runs) and, on open, repairing an index FTS5 cannot read or whose structure record has
grown past its bounds (``_check_fts``). A part of ``SqliteBackend``, split from
``fulltext.py``."""

from __future__ import annotations

import logging
import sqlite3

from .connection import Connection
from .schema import _is_busy

log = logging.getLogger(__name__)

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


class FtsUpkeep(Connection):
    """The FTS5 index's structure: merge and repair (a part of ``SqliteBackend``)."""

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
