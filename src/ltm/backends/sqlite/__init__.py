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

Modules, by concept: ``schema`` (file layout, migrations, row mapping), ``connection`` (the
connection, transactions, meta, the write mark), ``fulltext`` (tokenizer, BM25, FTS5 searches
and the index's merge and repair), ``vectors`` (vector-index generations, checks, catch-up,
rebuild), ``scope`` (per-user scope cache and fast path), ``reads``, ``extraction``,
``erasure`` (forget, scrub, free-page wipe, compact) and ``backend`` (``SqliteBackend``).
"""

from .backend import SqliteBackend
from .fulltext import (
    _FTS_MAX_LEVELS,
    _HIGHLIGHT_RATIO,
    FTS_METADATA_FIELDS,
    IDF_MIN_DOCS,
    _fts_levels,
    _idf,
    _phrase,
    query_terms,
)
from .schema import DB_NAME, INDEX_DIR, MIGRATIONS, quote_ident, user_hash
from .scope import _SNAPSHOT_BATCH

# The private names are imported from here by tests. A test that monkeypatches a constant
# patches it in the module that reads it (e.g. ``fulltext._HIGHLIGHT_RATIO``).
__all__ = ["DB_NAME", "FTS_METADATA_FIELDS", "IDF_MIN_DOCS", "INDEX_DIR", "MIGRATIONS",
           "SqliteBackend", "_FTS_MAX_LEVELS", "_HIGHLIGHT_RATIO", "_SNAPSHOT_BATCH",
           "_fts_levels", "_idf", "_phrase", "query_terms", "quote_ident", "user_hash"]
