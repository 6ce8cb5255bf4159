"""The PostgreSQL schema of an ltm store, as named migrations.

Every table that holds a user's data is keyed by ``user_id`` first (primary key and every
index), so ``user_id`` can be the distribution column of a sharded Postgres (Citus): a user's
memories, history and statistics then live on one shard and every query names it. ``meta``,
``migrations`` and ``deletions`` (content-free) are small and store-wide (Citus reference or
local tables). See docs/postgres.md for the distribution commands.

Migrations are applied in order, each in its own transaction, under an advisory lock so that
several processes opening a new store at once apply each exactly once; applied names are
recorded in ``migrations``. The embedding column gets its dimension (and its HNSW index) from a
second migration, run when the store first learns its embedder's dimension. HNSW indexes are
partial, one per large scope (see ``scope_index_sql``), built when a user outgrows exact scans.
The columns a ``Memory`` is read from (``_COLS``, ``_row_to_memory``) are here too.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import string
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from ...errors import DimensionMismatch, InvalidInput, StoreError
from ...model import Memory
from ...timeutil import now_us
from ..common import FTS_METADATA_FIELDS, memory_from_columns
from ..segment import CJK_CLASS, cjk_words, fts_words
from .connection import Connection

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TEXT_CONFIG = "english"  # full-text configuration (Snowball English stemmer + stop words)


def _fold_pairs() -> tuple[str, str]:
    """The Latin letters with diacritics (Latin-1 Supplement, Extended-A and -B, Extended
    Additional) and the ASCII letter each folds to: what SQLite's tokenizer does with
    ``remove_diacritics 2``, so "cafe Zurich" matches "café in Zürich" on both backends."""
    src, dst = [], []
    for cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        ch = chr(cp)
        parts = unicodedata.normalize("NFKD", ch)
        base = [c for c in parts if not unicodedata.combining(c)]
        if parts != ch and len(base) == 1 and base[0].isascii() and base[0].isalpha():
            src.append(ch)
            dst.append(base[0])
    return "".join(src), "".join(dst)


FOLD_FROM, FOLD_TO = _fold_pairs()  # (SQL translate() in the tsv column, fold() in queries)
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)


# PostgreSQL's parser reads a run of words joined by some ASCII punctuation as one token (an
# email, URL, host, file path, version, decimal or signed number: '1.26.4', 'a.b', '-123' of
# 'ABC-123') and drops what looks like a tag ('<div>'); SQLite's tokenizer and the query's
# words (``fulltext.query_words``) split there. The full-text column reads these as spaces
# (migration 0011), so a row has the words it has on SQLite.
SPLIT = string.punctuation


def _literal(text: str) -> str:
    """``text`` inside an SQL string literal (standard_conforming_strings: only the quote)."""
    return text.replace("'", "''")


def fold(text: str) -> str:
    """``text`` with the diacritics of Latin letters removed, as the full-text column holds
    it (migration 0008)."""
    return text.translate(_FOLD)


# SQLite's full-text tokenizer (sqlite/schema.py) without its stemmer, which changes no count
_SQLITE_TOKENIZER = "unicode61 remove_diacritics 2"
_counter: sqlite3.Connection | None = None
_counter_lock = threading.Lock()


def token_lengths(rows: Iterable[tuple[str, str]]) -> list[int]:
    """BM25's document length of each (text, labels) row as the SQLite backend has it: the
    tokens its FTS5 tokenizer finds in the text and in the labels, plus the one token of its
    scope column. Counted by that tokenizer itself (an in-memory FTS5 table, ~20 us a row), so
    that a memory has the same length on both backends; the ``tsvector``'s length is its
    distinct lexemes less the stop words, which ranked near ties differently."""
    global _counter
    batch = list(rows)
    if not batch:
        return []
    with _counter_lock:
        if _counter is None:
            _counter = sqlite3.connect(":memory:", isolation_level=None,
                                       check_same_thread=False)
            _counter.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, extra, content='', "
                             f"tokenize='{_SQLITE_TOKENIZER}')")
        _counter.execute("BEGIN")
        try:
            _counter.executemany("INSERT INTO t (rowid, text, extra) VALUES (?, ?, ?)",
                                 [(i, text, extra) for i, (text, extra) in enumerate(batch)])
            sizes = [sz for (sz,) in _counter.execute("SELECT sz FROM t_docsize ORDER BY id")]
        finally:
            _counter.execute("ROLLBACK")
    return [_varint_sum(sz) + 1 for sz in sizes]


def _varint_sum(buf: bytes) -> int:
    """The sum of an FTS5 docsize record's varints (a token count per column)."""
    total = value = 0
    for byte in buf:  # (counts below 2**56: at most 8 bytes each, 7 bits a byte)
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            total += value
            value = 0
    return total


def _row_batches(conn: psycopg.Connection[Any], s: str, where: str = "TRUE",
                 params: Sequence[Any] = (), more: str = "") -> Iterator[list[Any]]:
    """(user_id, id, text, fts_extra, then the columns ``more`` lists) of the memories matching
    ``where``, 5,000 rows at a time in (user_id, id) order (a Python step of a migration: each
    batch updated before the next is read)."""
    after: tuple[str, str] = ("", "")
    while True:
        rows = conn.execute(f"SELECT user_id, id, text, fts_extra{more} FROM {s}.memories "
                            f"WHERE (user_id, id) > (%s, %s) AND {where} "
                            f"ORDER BY user_id, id LIMIT 5000", [*after, *params]).fetchall()
        if not rows:
            return
        yield rows
        after = (rows[-1][0], rows[-1][1])


def _backfill_tokens(s: str) -> Callable[[psycopg.Connection[Any]], None]:
    """Migration 0009's step in Python: every row's ``tokens`` (``token_lengths``), counted
    in the words the row is indexed under once 0010 and 0012 have run (``fts_words``; they
    count their rows the same way)."""
    def run(conn: psycopg.Connection[Any]) -> None:
        for rows in _row_batches(conn, s):
            counts = token_lengths((fts_words(r[2]) or r[2], r[3]) for r in rows)
            conn.execute(f"UPDATE {s}.memories m SET tokens = k.c FROM unnest(%s::text[], "
                         f"%s::text[], %s::int[]) AS k(u, i, c) WHERE m.user_id = k.u AND "
                         f"m.id = k.i", [[r[0] for r in rows], [r[1] for r in rows], counts])
    return run


def _backfill_cjk(s: str) -> Callable[[psycopg.Connection[Any]], None]:
    """Migration 0010's step in Python: ``fts_text`` and ``tokens`` of every row whose text
    holds Chinese or Japanese (``segment.cjk_words``)."""
    def run(conn: psycopg.Connection[Any]) -> None:
        for rows in _row_batches(conn, s, "text ~ %s", [CJK_CLASS]):
            words = [cjk_words(r[2]) for r in rows]
            counts = token_lengths((w or r[2], r[3]) for w, r in zip(words, rows))
            conn.execute(f"UPDATE {s}.memories m SET fts_text = k.w, tokens = k.c FROM "
                         f"unnest(%s::text[], %s::text[], %s::text[], %s::int[]) AS "
                         f"k(u, i, w, c) WHERE m.user_id = k.u AND m.id = k.i",
                         [[r[0] for r in rows], [r[1] for r in rows], words, counts])
    return run


def _backfill_fts_words(s: str, where: str = "TRUE") -> Callable[[psycopg.Connection[Any]],
                                                                   None]:
    """The Python step of migrations 0012 and 0013: ``fts_text`` and ``tokens`` of every row
    (matching ``where``) whose ``segment.fts_words`` differ from its ``fts_text``, and the
    BM25 lengths and versions of their users."""
    def run(conn: psycopg.Connection[Any]) -> None:
        users: set[str] = set()
        for rows in _row_batches(conn, s, where, more=", fts_text"):
            words = [fts_words(r[2]) for r in rows]
            changed = [(w, r) for w, r in zip(words, rows) if w != r[4]]
            if not changed:
                continue
            counts = token_lengths((w or r[2], r[3]) for w, r in changed)
            conn.execute(f"UPDATE {s}.memories m SET fts_text = k.w, tokens = k.c FROM "
                         f"unnest(%s::text[], %s::text[], %s::text[], %s::int[]) AS "
                         f"k(u, i, w, c) WHERE m.user_id = k.u AND m.id = k.i",
                         [[r[0] for _, r in changed], [r[1] for _, r in changed],
                          [w for w, _ in changed], counts])
            users.update(r[0] for _, r in changed)
        relength_users(conn, s, sorted(users))
    return run


def relength_users(conn: psycopg.Connection[Any], s: str, users: Sequence[str]) -> None:
    """After their rows' ``tokens`` were rewritten: ``users``' BM25 lengths (``user_stats``
    lexemes) summed again from the rows, and their versions moved (migrations 0012/0013,
    ``reindex_text``)."""
    conn.execute(f"UPDATE {s}.user_stats st SET lexemes = (SELECT coalesce(sum({DOC_LENGTH}), "
                 f"0) FROM {s}.memories m WHERE m.user_id = st.user_id), version = st.version "
                 f"+ 1 WHERE st.user_id = ANY(%s)", [list(users)])


HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128  # 64 gave recall@10 0.926 at ef_search 128 over 100k (0.955 with 128)

# the columns a Memory is read from, in the order _row_to_memory takes them
_COLS = ("user_id, id, agent, session, kind, text, metadata, importance, time, recorded_at, "
         "valid_from, valid_to, superseded_by, sources, access_count, last_accessed, pinned, "
         "expires_at, seq")


def ident(name: str) -> str:
    """Quote an SQL identifier: the one place identifiers are built from strings."""
    return '"' + name.replace('"', '""') + '"'


def check_schema(name: str) -> str:
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name):  # ($ took "ltm\n")
        raise InvalidInput(f"Postgres schema name {name!r} must match [a-z_][a-z0-9_]{{0,62}}",
                           field="schema")
    return name


# a row's BM25 length (migration 0009), as SQL over the memories table aliased m
DOC_LENGTH = "coalesce(m.tokens, length(m.tsv))"
Migration = tuple[str, list[str | Callable[["psycopg.Connection[Any]"], None]]]


def base_migrations(s: str) -> list[Migration]:
    """The migrations that need no embedding dimension; ``s`` is the quoted schema."""
    tsv = _tsv_sql(folded=False)  # as first written; 0008 folds the diacritics
    return [("0001_initial", [
        f"CREATE TABLE {s}.meta (key text PRIMARY KEY, value text NOT NULL)",
        f"""CREATE TABLE {s}.memories (
            user_id text NOT NULL,
            id text NOT NULL,
            n bigint GENERATED BY DEFAULT AS IDENTITY,
            agent text,
            session text,
            kind text NOT NULL,
            text text NOT NULL,
            fts_extra text NOT NULL DEFAULT '',
            metadata json,  -- json, not jsonb: kept byte for byte (key order, number forms)
            importance double precision,
            time bigint NOT NULL,
            recorded_at bigint NOT NULL,
            valid_from bigint,
            valid_to bigint,
            superseded_by text,
            sources text[],
            access_count integer NOT NULL DEFAULT 0,
            last_accessed bigint,
            pinned boolean NOT NULL DEFAULT false,
            expires_at bigint,
            seq integer,
            embedding vector,
            tsv tsvector GENERATED ALWAYS AS ({tsv}) STORED,
            PRIMARY KEY (user_id, id))""",
        f"CREATE INDEX memories_user_n ON {s}.memories (user_id, n)",
        # touch() (access counts) names ids without their user
        f"CREATE INDEX memories_id ON {s}.memories (id)",
        f"CREATE INDEX memories_user_session ON {s}.memories (user_id, session, seq)",
        f"CREATE INDEX memories_tsv ON {s}.memories USING gin (tsv)",
        f"""CREATE TABLE {s}.history (
            user_id text NOT NULL,
            n bigint GENERATED BY DEFAULT AS IDENTITY,
            memory_id text NOT NULL,
            event text NOT NULL,
            at bigint NOT NULL,
            data jsonb,
            PRIMARY KEY (user_id, n))""",
        f"CREATE INDEX history_memory ON {s}.history (user_id, memory_id)",
        # per-user document count and total length (tokens since 0009, whatever the
        # column's name): BM25's N and average length, and the
        # scope size that decides exact scan versus HNSW
        f"""CREATE TABLE {s}.user_stats (
            user_id text PRIMARY KEY,
            docs bigint NOT NULL,
            lexemes bigint NOT NULL)""",
        f"""CREATE TABLE {s}.deletions (
            n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at bigint NOT NULL,
            user_hash text NOT NULL,
            count integer NOT NULL,
            ids jsonb NOT NULL)""",
    ]), ("0003_extraction_state", [
        # ltm.policies.extract: per-user position in the episode stream (memories.n) and LLM
        # tokens spent today
        f"""CREATE TABLE {s}.extraction_state (
            user_id text PRIMARY KEY,
            cursor bigint NOT NULL DEFAULT 0,
            tokens bigint NOT NULL DEFAULT 0,
            day bigint NOT NULL DEFAULT 0,
            updated_at bigint)""",
    ]), ("0004_user_stats_version", [
        # bumped by every write that changes what ranking reads of a user's memories, so a
        # client's cached scope view (PostgresBackend.scope_view) knows when it is stale
        f"ALTER TABLE {s}.user_stats ADD COLUMN version bigint NOT NULL DEFAULT 0",
    ]), ("0005_memories_user_time", [
        # Backend.scan (MemoryStore.list): a user's memories by time, a page at a time
        f"CREATE INDEX memories_user_time ON {s}.memories (user_id, time, id)",
    ]), ("0006_caption_full_text", [
        # a photo's caption (metadata.caption) is full text, as on SQLite (common.extra_from):
        # rows written before it was get their extra words again, and their users' BM25
        # lengths (and cached scope views, through version) follow
        f"UPDATE {s}.memories SET fts_extra = {_extra_sql('metadata')} "
        f"WHERE json_typeof(metadata -> 'caption') = 'string'",
        f"UPDATE {s}.user_stats st SET lexemes = (SELECT coalesce(sum(length(m.tsv)), 0) "
        f"FROM {s}.memories m WHERE m.user_id = st.user_id), version = st.version + 1 "
        f"WHERE st.user_id IN (SELECT user_id FROM {s}.memories "
        f"WHERE json_typeof(metadata -> 'caption') = 'string')",
    ]), ("0007_memories_sources", [
        # Backend.derived_from (the forget cascade): the memories whose sources name an id,
        # without reading the user's other memories; rows without sources have no entry
        f"CREATE INDEX memories_sources ON {s}.memories USING gin (sources) "
        f"WHERE sources IS NOT NULL",
    ]), ("0008_fold_diacritics", [
        # the full text folds the diacritics of Latin letters, as SQLite's tokenizer does
        # (queries are folded the same way, fulltext.query_words): the column is computed
        # again, its index rebuilt, and the users' BM25 lengths (and cached scope views,
        # through version) follow
        f"ALTER TABLE {s}.memories DROP COLUMN tsv",
        f"ALTER TABLE {s}.memories ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
        f"({_tsv_sql(folded=True)}) STORED",
        f"CREATE INDEX memories_tsv ON {s}.memories USING gin (tsv)",
        f"UPDATE {s}.user_stats st SET lexemes = (SELECT coalesce(sum(length(m.tsv)), 0) "
        f"FROM {s}.memories m WHERE m.user_id = st.user_id), version = st.version + 1",
    ]), ("0009_token_lengths", [
        # BM25's document length is the row's token count as SQLite has it (token_lengths),
        # no longer the tsvector's distinct lexemes: near ties ranked alike on both backends.
        # user_stats.lexemes holds the users' sums of it (the column keeps its name). A row
        # an older ltm writes meanwhile has none: its length is then the tsvector's
        f"ALTER TABLE {s}.memories ADD COLUMN tokens integer",
        _backfill_tokens(s),
        f"UPDATE {s}.user_stats st SET lexemes = (SELECT coalesce(sum({DOC_LENGTH}), 0) "
        f"FROM {s}.memories m WHERE m.user_id = st.user_id), version = st.version + 1",
    ]), ("0010_cjk_words", [
        # Chinese and Japanese runs are indexed as their characters and overlapping pairs
        # (``ltm.backends.segment``), as on SQLite (its migration 0012): fts_text holds the
        # text so written (NULL for other text), the full-text column reads it where it is
        # set; the rows written before get theirs and their lengths, and their users' BM25
        # lengths (and cached scope views, through version) follow
        f"ALTER TABLE {s}.memories ADD COLUMN fts_text text",
        f"ALTER TABLE {s}.memories DROP COLUMN tsv",
        f"ALTER TABLE {s}.memories ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
        f"({_tsv_sql(folded=True, cjk=True)}) STORED",
        f"CREATE INDEX memories_tsv ON {s}.memories USING gin (tsv)",
        _backfill_cjk(s),
        f"UPDATE {s}.user_stats st SET lexemes = (SELECT coalesce(sum({DOC_LENGTH}), 0) "
        f"FROM {s}.memories m WHERE m.user_id = st.user_id), version = st.version + 1 "
        f"WHERE st.user_id IN (SELECT user_id FROM {s}.memories WHERE fts_text IS NOT NULL)",
    ]), ("0011_split_punctuation", [
        # ASCII punctuation reaches the parser as spaces (``_tsv_sql``'s ``split``), as it
        # splits words on SQLite and in queries: emails, URLs, hosts, paths, versions, decimal
        # and signed numbers were single lexemes ('1.26.4', '-123' of 'ABC-123') that no
        # query word matched, and tags were dropped. Every row's column is written again;
        # token lengths (SQLite's count) are as before, the users' cached views are not
        f"ALTER TABLE {s}.memories DROP COLUMN tsv",
        f"ALTER TABLE {s}.memories ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
        f"({_tsv_sql(folded=True, cjk=True, split=True)}) STORED",
        f"CREATE INDEX memories_tsv ON {s}.memories USING gin (tsv)",
        f"UPDATE {s}.user_stats st SET lexemes = (SELECT coalesce(sum({DOC_LENGTH}), 0) "
        f"FROM {s}.memories m WHERE m.user_id = st.user_id), version = st.version + 1",
    ]), ("0012_word_parts", [
        # fts_text also holds the parts of words joined where their case or script changes
        # ("retryWithBackoff", "12km") and thousands written whole ("2,499": 2499), as on
        # SQLite (its migration 0014)
        _backfill_fts_words(s),
    ]), ("0013_hyphen_words", [
        # and words joined by hyphens whole ("e-mail": email), as on SQLite (its 0015)
        _backfill_fts_words(s, "strpos(text, '-') > 0"),
    ]), ("0014_chunk_vectors", [
        # long memories' passage vectors (``ltm.backends.chunks``), as on SQLite (its 0016):
        # deleted with their memory whatever deletes it (the foreign key's cascade), and by
        # the writer when its text or vector changes (``update`` stores them afresh)
        f"""CREATE TABLE {s}.chunk_vectors (
            user_id text NOT NULL,
            id text NOT NULL,
            bg double precision NOT NULL,
            bg_sd double precision NOT NULL,
            data bytea NOT NULL,
            PRIMARY KEY (user_id, id),
            FOREIGN KEY (user_id, id) REFERENCES {s}.memories (user_id, id)
                ON DELETE CASCADE ON UPDATE CASCADE)""",
    ])]



def _tsv_sql(*, folded: bool, cjk: bool = False, split: bool = False) -> str:
    """The full-text column's expression: the text at weight A, the metadata words at B
    (``folded``: through ``translate`` with ``FOLD_FROM`` / ``FOLD_TO``; ``cjk``: the text's
    Chinese and Japanese words from ``fts_text`` where it has them, migration 0010;
    ``split``: ASCII punctuation turned into spaces, migration 0011)."""
    src, dst = (FOLD_FROM + SPLIT, FOLD_TO + " " * len(SPLIT)) if split \
        else (FOLD_FROM, FOLD_TO)

    def words(column: str) -> str:
        return f"translate({column}, '{_literal(src)}', '{_literal(dst)}')" if folded \
            else column
    text = words("coalesce(fts_text, text)" if cjk else "text")
    return (f"setweight(to_tsvector('{TEXT_CONFIG}'::regconfig, {text}), 'A') || "
            f"setweight(to_tsvector('{TEXT_CONFIG}'::regconfig, {words('fts_extra')}), 'B')")


def _extra_sql(column: str) -> str:
    """``common.extra_from`` in SQL over a ``json`` column: the string values of the full-text
    metadata fields, in order, joined by spaces (concat_ws skips the NULLs)."""
    parts = [f"CASE WHEN json_typeof({column} -> '{k}') = 'string' "
             f"THEN {column} ->> '{k}' END" for k in FTS_METADATA_FIELDS]
    return f"concat_ws(' ', {', '.join(parts)})"


def dim_migration(s: str, dim: int) -> tuple[str, list[str]]:
    """Give the embedding column its dimension (known once the store has an embedder)."""
    return ("0002_embedding_dim", [
        f"ALTER TABLE {s}.memories ALTER COLUMN embedding TYPE vector({int(dim)})",
    ])


def _row_to_memory(r: Sequence[Any]) -> Memory:
    """A ``Memory`` from the first 19 columns of a row read as ``_COLS`` (psycopg has decoded
    the JSON metadata and the sources array already)."""
    return memory_from_columns(*r[:19])


def scope_index_name(user_hash: str) -> str:
    return f"memories_hnsw_{user_hash}"


def scope_index_sql(s: str, name: str, user_literal: str) -> str:
    """A partial HNSW index over one user's vectors (inner product on unit vectors = cosine).

    Built for a scope once it reaches ``hnsw_min_scope`` memories: below that an exact scan of
    the user's rows is fast and exact, and a table-wide graph would both slow every insert and,
    filtered by user afterwards, return too few of a small user's neighbours.
    ``user_literal`` must already be a quoted SQL literal."""
    return (f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {ident(name)} ON {s}.memories USING hnsw "
            f"(embedding vector_ip_ops) WITH (m = {HNSW_M}, "
            f"ef_construction = {HNSW_EF_CONSTRUCTION}) WHERE user_id = {user_literal}")


class Schema(Connection):
    """Applying the migrations above: on open, and the dimension's when the store learns it."""

    _made_schema: bool  # this open created the schema (``drop_created``)
    _recorded: set[str]  # the meta keys this backend wrote

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
            # (a schema this open creates is dropped again if the open fails: drop_created)
            self._made_schema = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                                             [self.schema]).fetchone() is None
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._s}")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {self._s}.migrations "
                         f"(name text PRIMARY KEY, applied_at bigint NOT NULL)")
            migrations = base_migrations(self._s)
            known = {name for name, _ in migrations} | {dim_migration(self._s, 1)[0]}
            done = {r[0] for r in conn.execute(f"SELECT name FROM {self._s}.migrations")}
            newer = sorted(done - known)
            if newer:  # its tables may hold what this version would not keep up to date
                from .dsn import redact  # (dsn imports this module)
                raise StoreError(f"Postgres store {redact(self.dsn)} (schema {self.schema}) "
                                 f"was written by a newer version of ltm (unknown migrations: "
                                 f"{', '.join(newer)}); upgrade ltm to open it")
        for name, statements in migrations:
            self._apply(conn, name, statements)

    def _apply(self, conn: psycopg.Connection[Any], name: str,
               statements: Sequence[str | Callable[[psycopg.Connection[Any]], None]]
               ) -> None:
        """Apply one migration in its own transaction, once, whoever gets there first."""
        with conn.transaction():
            self._lock_key(conn, "ltm-migrate:" + self.schema)
            done = conn.execute(f"SELECT 1 FROM {self._s}.migrations WHERE name = %s",
                                [name]).fetchone()
            if done:
                return
            for statement in statements:
                if callable(statement):
                    statement(conn)
                else:
                    conn.execute(cast(Any, statement))
            conn.execute(f"INSERT INTO {self._s}.migrations VALUES (%s, %s)", [name, now_us()])
            log.info("applied migration %s to schema %s", name, self.schema)

    def drop_created(self, connect_timeout: float = 10.0) -> None:
        """After an open that failed (here or past this backend: ``ltm.open``'s embedder):
        drop the schema this open created, unless it holds a memory or another open finished
        on it (recorded its embedder), so that a failed first open leaves nothing behind. A
        first open whose embedder's dimension the vector column refused left every table and
        the embedder's name, and the next open with another embedder was refused as a
        mismatch. Under the bootstrap's and the migrations' locks (no other open is creating
        or migrating it), with the memories locked (no write lands between the look and the
        drop); best effort: when it cannot (the server gone), the next open completes what
        is there."""
        if not getattr(self, "_made_schema", False):
            return
        self._made_schema = False
        psycopg = self._psycopg
        try:
            with psycopg.connect(self.dsn, autocommit=True,
                                 connect_timeout=max(1, int(connect_timeout))) as conn, \
                    conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '10s'")
                self._lock_key(conn, "ltm-bootstrap")
                self._lock_key(conn, "ltm-migrate:" + self.schema)
                tables = {r[0] for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    [self.schema])}
                if "memories" in tables:
                    conn.execute(f"LOCK TABLE {self._s}.memories IN ACCESS EXCLUSIVE MODE")
                    if conn.execute(f"SELECT 1 FROM {self._s}.memories LIMIT 1").fetchone():
                        return
                if "meta" in tables and "embedder" not in self._recorded and conn.execute(
                        f"SELECT 1 FROM {self._s}.meta WHERE key = 'embedder'").fetchone():
                    return
                conn.execute(f"DROP SCHEMA IF EXISTS {self._s} CASCADE")
                log.info("dropped schema %s, which a failed open had created", self.schema)
        except psycopg.Error as exc:
            log.info("could not drop schema %s after a failed open (%s)", self.schema, exc)

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        with self._conn() as conn:
            return [r[0] for r in conn.execute(
                f"SELECT name FROM {self._s}.migrations ORDER BY name")]

    def set_meta(self, key: str, value: str) -> None:
        if key == "dim":
            dim = int(value)
            if self.dim is not None and dim != self.dim:
                raise DimensionMismatch(self.dim, dim)
            try:
                with self._conn() as conn:
                    self._apply(conn, *dim_migration(self._s, dim))
            except self._psycopg.Error as exc:  # pgvector takes at most 16,000
                raise StoreError(f"the embedding column cannot take dimension {dim}: "
                                 f"{str(exc).strip()}") from None
            self.dim = dim
        with self._tx() as conn:
            conn.execute(f"INSERT INTO {self._s}.meta VALUES (%s, %s) ON CONFLICT (key) "
                         f"DO UPDATE SET value = excluded.value", [key, value])
        self._recorded.add(key)
