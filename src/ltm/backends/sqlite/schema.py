"""The store's file and schema: the migrations that build it (each named, recorded, and run in
its own transaction by ``Connection._migrate``), the row columns and their mapping to
``Memory``, and the SQL helpers every part uses (identifier quoting, multi-row INSERTs)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ...model import Memory
from ..common import memory_from_columns

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


def _user_versions_au(columns: str) -> str:
    """The trigger that gives a user a new version when a row of theirs changes (migration
    0010; 0013 adds fts_text to the columns): ``columns`` and the ones every version of it
    watches. The user a row moves from keeps a version only while it still has memories."""
    return f"""CREATE TRIGGER user_versions_au AFTER UPDATE OF {columns}, metadata, importance,
        time, recorded_at, valid_from, valid_to, superseded_by, sources, pinned, expires_at, seq,
        embedding ON memories BEGIN
    DELETE FROM user_versions WHERE user IN (old.user, new.user);
    INSERT INTO user_versions (user) VALUES (new.user);
    INSERT INTO user_versions (user) SELECT old.user WHERE old.user IS NOT new.user
        AND EXISTS (SELECT 1 FROM memories WHERE user = old.user);
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
        superseded_by, expires_at, text, fts_extra ON memories BEGIN
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
    # The forget cascade reads a user's derived memories (those with sources) through this
    # index instead of every memory of the user. Episodes (no sources) add no entry to it.
    ("0008_derived_index", """
CREATE INDEX memories_derived ON memories(user) WHERE sources IS NOT NULL;
"""),
    # A snapshot also holds its user's token count (the full-text index's lengths of the
    # user's rows: BM25's average length within the scope, ``FullText._scope_avgdl``), so a
    # change of the indexed text (text, labels) makes it stale too.
    ("0009_scope_snap_tokens", """
ALTER TABLE scope_snap ADD COLUMN tokens INTEGER;
DROP TRIGGER scope_snap_au;
CREATE TRIGGER scope_snap_au AFTER UPDATE OF id, user, session, seq, time, importance,
        superseded_by, expires_at, text, fts_extra ON memories BEGIN
    DELETE FROM scope_snap WHERE user = old.user;
    DELETE FROM scope_snap WHERE user = new.user;
END;
"""),
    # A version per user, the key of the per-user caches (scope views, counts, lengths,
    # postings, rows; ``Connection._user_mark``): a write by one user leaves every other
    # user's caches valid. ``v`` is the row id, taken afresh (AUTOINCREMENT: never given
    # twice, even after a delete) whenever a row of the user is inserted (``insert``, once per
    # batch and user), deleted or changed (triggers), in the writer's transaction, so that a
    # version read once always stands for the same rows. A user without memories has no row
    # (version 0; erasure leaves no name here). ``touched`` counts the rows whose access
    # counts changed (one per row updated), which change only the rows read by id
    # (``Reads.get_many``).
    ("0010_user_versions", """
CREATE TABLE user_versions (v INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL UNIQUE,
                            touched INTEGER NOT NULL DEFAULT 0);
INSERT INTO user_versions (user) SELECT DISTINCT user FROM memories;
CREATE TRIGGER user_versions_ad AFTER DELETE ON memories BEGIN
    DELETE FROM user_versions WHERE user = old.user;
    INSERT INTO user_versions (user) SELECT old.user
        WHERE EXISTS (SELECT 1 FROM memories WHERE user = old.user);
END;
""" + _user_versions_au("id, user, agent, session, kind, text, fts_extra") + """
CREATE TRIGGER user_versions_touch AFTER UPDATE OF access_count, last_accessed ON memories
BEGIN
    UPDATE user_versions SET touched = touched + 1 WHERE user = new.user;
END;
"""),
    # A pinned memory never expires, so a snapshot's expiry column reads the pinned flag too
    # (``common.SCOPE_EXPIRY``): pinning or unpinning makes it stale, and the snapshots
    # written before (which hid pinned memories past their expires_at) are dropped, to be
    # rebuilt from the rows.
    ("0011_scope_snap_pinned", """
DROP TRIGGER scope_snap_au;
CREATE TRIGGER scope_snap_au AFTER UPDATE OF id, user, session, seq, time, importance,
        superseded_by, expires_at, pinned, text, fts_extra ON memories BEGIN
    DELETE FROM scope_snap WHERE user = old.user;
    DELETE FROM scope_snap WHERE user = new.user;
END;
DELETE FROM scope_snap;
"""),
    # Chinese and Japanese are written without spaces, which the tokenizer splits words at:
    # a row whose text holds them is indexed through fts_text, the text with each such run
    # as its characters and overlapping pairs (``ltm.backends.segment``; NULL for other
    # text). The view and the triggers read coalesce(fts_text, text); the rows written
    # before are indexed again (the update trigger), and their users' snapshots (token
    # counts) and versions (cached scope statistics) follow.
    ("0012_cjk_words", """
ALTER TABLE memories ADD COLUMN fts_text TEXT;
DROP TRIGGER memories_ai;
DROP TRIGGER memories_ad;
DROP TRIGGER memories_au_text;
DROP VIEW memories_fts_src;
CREATE VIEW memories_fts_src AS SELECT n, coalesce(fts_text, text) AS text,
    'u' || hex(user) AS scope, fts_extra AS extra FROM memories;
""" + _FTS_TRIGGERS.replace("new.text", "coalesce(new.fts_text, new.text)")
        .replace("old.text", "coalesce(old.fts_text, old.text)")
        .replace("UPDATE OF text, fts_extra", "UPDATE OF text, fts_text, fts_extra") + """
UPDATE memories SET fts_text = ltm_cjk_words(text) WHERE ltm_cjk_words(text) IS NOT NULL;
DELETE FROM scope_snap WHERE user IN (SELECT user FROM memories WHERE fts_text IS NOT NULL);
DELETE FROM user_versions WHERE user IN (SELECT user FROM memories WHERE fts_text IS NOT NULL);
INSERT INTO user_versions (user) SELECT DISTINCT user FROM memories WHERE fts_text IS NOT NULL;
"""),
    # fts_text (0012) is indexed text too: a change of it alone moves the user's version
    ("0013_user_versions_fts_text", """
DROP TRIGGER user_versions_au;
""" + _user_versions_au("id, user, agent, session, kind, text, fts_text, fts_extra")),
    # fts_text also holds the parts of words joined where their case or script changes
    # ("retryWithBackoff", "12km") and thousands written whole ("2,499": 2499): the rows
    # written before whose words these change are indexed again (the update trigger; their
    # users' versions follow, trigger 0013) and their users' snapshots (token counts) dropped
    ("0014_word_parts", """
UPDATE memories SET fts_text = ltm_fts_words(text) WHERE fts_text IS NOT ltm_fts_words(text);
DELETE FROM scope_snap WHERE user IN (SELECT user FROM memories WHERE fts_text IS NOT NULL);
"""),
    # and words joined by hyphens whole ("e-mail": email, "Wi-Fi": WiFi), the same way
    ("0015_hyphen_words", """
UPDATE memories SET fts_text = ltm_fts_words(text)
    WHERE instr(text, '-') > 0 AND fts_text IS NOT ltm_fts_words(text);
DELETE FROM scope_snap WHERE user IN (SELECT user FROM memories WHERE fts_text IS NOT NULL);
"""),
    # Long memories' passage vectors (``ltm.backends.chunks``), one row per long memory,
    # keyed by its row id. They go with the row in the transaction that deletes it, whatever
    # deletes it (forget, gc, a forget of the user), and when its text, vector, id or user
    # changes (the writer stores them afresh: ``Chunks._put_chunks``); freed pages are wiped
    # as the rows' are (secure_delete, compact). Rows written before have none until their
    # text or vector is written again (their whole vector serves them, as before).
    ("0016_chunk_vectors", """
CREATE TABLE chunk_vectors (n INTEGER PRIMARY KEY, user TEXT NOT NULL, id TEXT NOT NULL,
                            bg REAL NOT NULL, bg_sd REAL NOT NULL, data BLOB NOT NULL);
CREATE INDEX chunk_vectors_user ON chunk_vectors(user);
CREATE TRIGGER chunk_vectors_ad AFTER DELETE ON memories BEGIN
    DELETE FROM chunk_vectors WHERE n = old.n;
END;
CREATE TRIGGER chunk_vectors_au AFTER UPDATE OF id, user, text, embedding ON memories BEGIN
    DELETE FROM chunk_vectors WHERE n = old.n;
END;
"""),
]

_COLUMNS = ("n, id, user, agent, session, kind, text, metadata, importance, time, recorded_at, "
            "valid_from, valid_to, superseded_by, sources, access_count, last_accessed, pinned, "
            "expires_at, seq")
_UPDATABLE = {"text", "agent", "session", "kind", "metadata", "importance", "time",
              "valid_from", "valid_to", "superseded_by", "sources", "pinned", "expires_at",
              "fts_extra"}
_WAL_CHECKPOINT_PAGES = 20_000  # WAL pages (4 KiB) before a commit checkpoints it
_PAGE_CACHE_KIB = 64 * 1024  # SQLite page cache per connection (grows as pages are read)
_ROWS_PER_INSERT = 400  # rows per multi-row INSERT (22 columns: 8,800 bound values)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (the only place identifiers are built from strings)."""
    return '"' + name.replace('"', '""') + '"'


def _row_to_memory(r: sqlite3.Row | tuple[Any, ...]) -> Memory:
    (_, mid, user, agent, session, kind, text, metadata, importance, time_, recorded_at,
     valid_from, valid_to, superseded_by, sources, access_count, last_accessed, pinned,
     expires_at, seq) = r
    return memory_from_columns(
        user, mid, agent, session, kind, text, json.loads(metadata) if metadata else None,
        importance, time_, recorded_at, valid_from, valid_to, superseded_by,
        json.loads(sources) if sources else None, access_count, last_accessed, pinned,
        expires_at, seq)



def _multi_insert(table_and_columns: str, width: int, rows: int) -> str:
    """``INSERT INTO <table (columns)> VALUES (?,..),(?,..)...`` for ``rows`` rows."""
    one = "(" + ",".join("?" * width) + ")"
    return f"INSERT INTO {table_and_columns} VALUES " + ",".join([one] * rows)


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
