"""The PostgreSQL backend: pgvector for vectors (HNSW), tsvector + GIN for full text.

For several server processes, large multi-tenant deployments and managed databases; the
embedded SQLite store stays the default. ``ltm.open("postgresql://host/db?schema=ltm")`` picks
it. One store is one schema (default ``ltm``) in one database; tables are keyed by ``user_id``
first so that it can be the distribution column of a sharded Postgres (see ``schema``).

Retrieval, per read:

- full text: the query's content words OR-ed into a ``tsquery`` select the candidates through
  the GIN index (or the user's rows, whichever the planner prefers); each candidate gets a BM25
  score computed from its ``tsvector`` (term frequency from the positions) and its ``tokens``
  (document length as SQLite's FTS5 counts it), document frequencies over the matched set and N / average length from the per-user
  ``user_stats`` row. Higher is better, as with SQLite FTS5's negated bm25().
- dense: a user below ``hnsw_min_scope`` memories is scanned exactly (an ORDER BY the index
  cannot serve, over the user's rows); a larger scope uses the HNSW index with
  ``hnsw.ef_search`` raised to the request, and falls back to the exact scan whenever the
  graph's answer, after the user and other filters, comes back short.

Writes run in one transaction each, retried on deadlock or serialization failure; episode
sequence numbers are assigned under a per-(user, session) advisory lock, so several processes
can append to one conversation at once.

Modules, by concept: ``dsn`` (URLs, the schema parameter, redaction: ``parse_dsn``),
``connection`` (psycopg, vector adapters, pool, transactions, meta), ``schema`` (tables as
named migrations, row mapping), ``vector_index`` (per-user HNSW indexes, dense search),
``fulltext`` (tsquery, BM25), ``scope`` (the per-user fast path, light rows), ``reads``,
``extraction``, ``erasure`` (forget, scrub, compact) and ``backend`` (``PostgresBackend``:
open and writes). The code shared with SQLite is in ``ltm.backends.common``.
"""

from ..common import user_hash
from .backend import PostgresBackend
from .connection import _register_vector
from .dsn import DEFAULT_SCHEMA, PgTarget, is_postgres_url, parse_dsn, redact, split_dsn
from .fulltext import query_words

# _register_vector is used by ltm.bench.scale_pg (a raw connection's vector adapters)
__all__ = ["DEFAULT_SCHEMA", "PgTarget", "PostgresBackend", "_register_vector",
           "is_postgres_url", "parse_dsn", "query_words", "redact", "split_dsn", "user_hash"]
