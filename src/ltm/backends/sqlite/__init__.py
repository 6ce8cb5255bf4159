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
connection, transactions, meta, the write mark), ``fulltext`` (tokenizer, BM25, FTS5 searches),
``postings`` (users' caches of query terms' postings), ``fts_upkeep`` (the index's merge and
repair), ``vectors`` (vector-index generations, checks, catch-up,
rebuild), ``scope`` (per-user scope cache and fast path), ``reads``, ``extraction``,
``erasure`` (forget, scrub, free-page wipe, compact) and ``backend`` (``SqliteBackend``).
"""

from .backend import SqliteBackend
from .fts_upkeep import _FTS_MAX_LEVELS, _fts_levels
from .fulltext import _idf, _phrase
from .schema import DB_NAME, MIGRATIONS
from .scope import _SNAPSHOT_BATCH

# What other modules and the tests import from here (the private names: tests). A test that
# monkeypatches a constant patches it in the module that reads it (``fulltext._HIGHLIGHT_RATIO``,
# ``schema.MIGRATIONS``).
__all__ = ["DB_NAME", "MIGRATIONS", "SqliteBackend", "_FTS_MAX_LEVELS", "_SNAPSHOT_BATCH",
           "_fts_levels", "_idf", "_phrase"]
