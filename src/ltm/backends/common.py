"""What the SQLite and PostgreSQL backends share: the scope hash, the BM25 constants, the
full-text words taken from metadata, the mapping of a row's columns to a ``Memory``, and the
SQL conditions of a ``Filters`` in either engine's dialect.

One copy of each, so that the two backends cannot drift apart (they once did: only SQLite
indexed a photo's caption as full text).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..index.scope import NO_EXPIRY
from ..model import Memory
from ..timeutil import from_us
from .base import Filters

__all__ = ["BM25_B", "BM25_K1", "EXTRA_WEIGHT", "FTS_METADATA_FIELDS", "IDF_MIN_DOCS",
           "POSTGRES", "SAFE_KEY", "SCOPE_EXPIRY", "SQLITE", "Dialect", "extra_from",
           "memory_from_columns", "user_hash", "where"]

# BM25's constants (SQLite FTS5's bm25() defaults; PostgreSQL computes the same formula)
BM25_K1 = 1.2
BM25_B = 0.75
# A scope's IDF counts at least this many memories, as if a background of unrelated ones
# (holding none of the query's words) were always there: the IDF of three memories is noise
# (a word in two of three is worth nothing, one absent from all worth everything), and the
# calibrated full-text signal (ltm.retrieval.calibrate) should not move when a small store
# grows by unrelated memories.
IDF_MIN_DOCS = 1000
# weight of the metadata words (speaker, name, title, caption) against the text's own words
EXTRA_WEIGHT = 0.5

# A row's expiry as a scope view keeps it (``ScopeView.expires``): NO_EXPIRY where it has none
# and where it is pinned (pinning exempts a memory from expiry; its expires_at applies again
# once unpinned). ``pinned`` is read only for rows that have an expiry: SQLite then reads the
# table row (the covering index memories_scope does not hold the flag) for those rows alone.
SCOPE_EXPIRY = (f"CASE WHEN expires_at IS NULL THEN {NO_EXPIRY} WHEN pinned THEN {NO_EXPIRY} "
                "ELSE expires_at END")

# Metadata fields that describe a memory in words and are searchable as full text (at half the
# weight of the text itself): who said it, what it is called, what an attachment shows.
FTS_METADATA_FIELDS = ("speaker", "name", "title", "caption")


def user_hash(user: str) -> str:
    """A short, stable, content-free name for a user's scope (index names, deletion log)."""
    return hashlib.sha256(user.encode()).hexdigest()[:16]


def tombstone_user(user: str) -> str:
    """How a 'deleted' history event names its user: a hash, not the name, so that a user
    forgotten whole leaves no trace of it (``history(id, user=...)`` looks both up)."""
    return "erased:" + hashlib.sha256(user.encode()).hexdigest()


def extra_from(metadata: Mapping[str, Any] | None) -> str:
    """The words of ``metadata`` that full-text search sees beside the text: the string
    values of ``FTS_METADATA_FIELDS``, in that order, joined by spaces."""
    if not metadata:
        return ""
    parts = [metadata.get(k) for k in FTS_METADATA_FIELDS]
    # NUL separates words (PostgreSQL text cannot hold it: the write failed there)
    return " ".join(p for p in parts if isinstance(p, str)).replace("\x00", " ")


def memory_from_columns(user: str, mid: str, agent: str | None, session: str | None, kind: str,
                        text: str, metadata: Mapping[str, Any] | None, importance: float | None,
                        time_: int, recorded_at: int, valid_from: int | None,
                        valid_to: int | None, superseded_by: str | None,
                        sources: Iterable[str] | None, access_count: int,
                        last_accessed: int | None, pinned: Any, expires_at: int | None,
                        seq: int | None) -> Memory:
    """A ``Memory`` from its stored columns, once each backend has decoded its own forms
    (metadata as a mapping, sources as a sequence; times in microseconds UTC). The same
    object as ``Memory(...)`` with these values, its fields set directly (``_NEW_MEMORY``)."""
    m = _NEW_MEMORY(Memory)
    _SET_ID(m, mid)
    _SET_USER(m, user)
    _SET_TEXT(m, text)
    _SET_KIND(m, kind)
    _SET_TIME(m, _datetime(time_))
    _SET_RECORDED_AT(m, _datetime(recorded_at))
    _SET_AGENT(m, agent)
    _SET_SESSION(m, session)
    _SET_METADATA(m, dict(metadata) if metadata else {})
    _SET_IMPORTANCE(m, importance)
    _SET_VALID_FROM(m, None if valid_from is None else _datetime(valid_from))
    _SET_VALID_TO(m, None if valid_to is None else _datetime(valid_to))
    _SET_SUPERSEDED_BY(m, superseded_by)
    _SET_SOURCES(m, tuple(sources) if sources else ())
    _SET_ACCESS_COUNT(m, access_count)
    _SET_LAST_ACCESSED(m, None if last_accessed is None else _datetime(last_accessed))
    _SET_PINNED(m, bool(pinned))
    _SET_EXPIRES_AT(m, None if expires_at is None else _datetime(expires_at))
    _SET_SEQ(m, seq)
    return m


# ``memory_from_columns`` sets each of Memory's slots through its descriptor: the frozen
# dataclass's own __init__ goes through object.__setattr__ once a field, about twice the time
# (hydrating a search's hits, ~3 us a memory). Every field is set, in field order; the
# check below fails at import when Memory's fields change without this list
_NEW_MEMORY = object.__new__
_MEMORY_FIELDS = ("id", "user", "text", "kind", "time", "recorded_at", "agent", "session",
                  "metadata", "importance", "valid_from", "valid_to", "superseded_by",
                  "sources", "access_count", "last_accessed", "pinned", "expires_at", "seq")
if tuple(f.name for f in dataclasses.fields(Memory)) != _MEMORY_FIELDS:  # pragma: no cover
    raise ImportError("ltm.model.Memory's fields changed: update memory_from_columns")
(_SET_ID, _SET_USER, _SET_TEXT, _SET_KIND, _SET_TIME, _SET_RECORDED_AT, _SET_AGENT,
 _SET_SESSION, _SET_METADATA, _SET_IMPORTANCE, _SET_VALID_FROM, _SET_VALID_TO,
 _SET_SUPERSEDED_BY, _SET_SOURCES, _SET_ACCESS_COUNT, _SET_LAST_ACCESSED, _SET_PINNED,
 _SET_EXPIRES_AT, _SET_SEQ) = (vars(Memory)[name].__set__ for name in _MEMORY_FIELDS)


# datetimes of recently read times (immutable, so shared): the memories of a session share
# their time, and a search reads the same memories again
_DATETIMES: dict[int, datetime] = {}
_DATETIMES_MAX = 65_536


def _datetime(us: int) -> datetime:
    value = _DATETIMES.get(us)
    if value is None:
        if len(_DATETIMES) >= _DATETIMES_MAX:
            _DATETIMES.clear()
        value = _DATETIMES[us] = from_us(us)
    return value


# a metadata key that may be written into SQL (a JSON path, an index name): the filter's form
SAFE_KEY = re.compile(r"[A-Za-z0-9_\-]{1,64}")


class Dialect:
    """How one SQL engine spells the parts of a filter that differ: the parameter mark, the
    user column's name, a kind list, a metadata test and a user named as a literal."""

    mark = "?"
    user_column = "user"

    def kinds(self, column: str, kinds: tuple[str, ...]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join(self.mark * len(kinds))})", list(kinds)

    def metadata(self, column: str, key: str, value: Any) -> tuple[str, list[Any]]:
        """``column``'s JSON object holds ``value`` under ``key`` (None: missing or null). A
        key of the filter's safe form is written into the JSON path, so that an index on that
        expression (``SqliteBackend.metadata_index``) can serve the test."""
        # json_extract reads true as 1: the JSON type tells {"k": true} from {"k": 1}, as
        # PostgreSQL's jsonb does
        kind = ("= 'true'" if value else "= 'false'") if isinstance(value, bool) else \
            "IN ('integer', 'real')" if isinstance(value, (int, float)) else None
        if SAFE_KEY.fullmatch(key):
            path = f"json_extract({column}, '$.\"{key}\"')"
            if value is None:
                return f"{path} IS NULL", []
            typed = f" AND json_type({column}, '$.\"{key}\"') {kind}" if kind else ""
            return f"{path} = ?{typed}", [value]
        if kind and value is not None:
            return (f"json_extract({column}, ?) IS ? AND json_type({column}, ?) {kind}",
                    [f'$."{key}"', value, f'$."{key}"'])
        return f"json_extract({column}, ?) IS ?", [f'$."{key}"', value]

    def user_literal(self, user: str) -> str:
        """``user`` as an SQL literal that any string survives (quotes, NUL): its UTF-8
        bytes as a blob, cast to text (the form a partial index's condition matches)."""
        return f"CAST(X'{user.encode().hex()}' AS TEXT)"


def pg_metadata_doc(column: str) -> str:
    """PostgreSQL: the json ``column`` as jsonb. Metadata is json (kept byte for byte), which
    may hold the escape \\u0000 that jsonb refuses: read as U+FFFD, or one such row fails
    every filtered query."""
    return f"replace({column}::text, '\\u0000', '\\ufffd')::jsonb"


def pg_metadata_key(column: str, key: str) -> str:
    """PostgreSQL: the value under ``key`` (of the form ``SAFE_KEY``) of the json
    ``column``, as jsonb: the expression a filter on the key tests and an index on it holds."""
    return f"({pg_metadata_doc(column)} -> '{key}')"


class _Postgres(Dialect):
    mark = "%s"
    user_column = "user_id"

    def kinds(self, column: str, kinds: tuple[str, ...]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(%s::text[])", [list(kinds)]

    def metadata(self, column: str, key: str, value: Any) -> tuple[str, list[Any]]:
        doc = pg_metadata_doc(column)
        if value is None:
            return f"coalesce({doc} -> %s, 'null'::jsonb) = 'null'::jsonb", [key]
        from psycopg.types.json import Jsonb  # only a PostgreSQL store gets here

        if isinstance(value, str) and "\x00" in value:  # (jsonb cannot hold it either)
            value = value.replace("\x00", "\ufffd")
        if SAFE_KEY.fullmatch(key):
            # the key written into the expression, so that an index on it
            # (PostgresBackend.metadata_index) can serve the test; for a JSON scalar (the
            # filter's values are), equality is what containment tests
            return f"{pg_metadata_key(column, key)} = %s", [Jsonb(value)]
        return f"{doc} @> %s", [Jsonb({key: value})]

    def user_literal(self, user: str) -> str:
        raise NotImplementedError("PostgreSQL names the user as a parameter")


SQLITE = Dialect()
POSTGRES: Dialect = _Postgres()


def where(flt: Filters, dialect: Dialect, alias: str = "m", *,
          user_literal: bool = False) -> tuple[str, list[Any]]:
    """The SQL conditions of ``flt`` on the table alias ``alias`` ("" for none), and their
    parameters, in ``dialect``. ``user_literal`` names the user as a literal instead of a
    parameter (SQLite: the form its partial indexes' conditions match)."""
    a = alias + "." if alias else ""
    p = dialect.mark
    user = a + dialect.user_column
    if user_literal:
        sql = [f"{user} = {dialect.user_literal(flt.user)}"]
        params: list[Any] = []
    else:
        sql = [f"{user} = {p}"]
        params = [flt.user]
    if flt.agent is not None:
        sql.append(f"{a}agent = {p}")
        params.append(flt.agent)
    if flt.session is not None:
        sql.append(f"{a}session = {p}")
        params.append(flt.session)
    if flt.kinds:
        cond, args = dialect.kinds(f"{a}kind", flt.kinds)
        sql.append(cond)
        params.extend(args)
    if flt.since is not None:
        sql.append(f"{a}time >= {p}")
        params.append(flt.since)
    if flt.until is not None:
        sql.append(f"{a}time <= {p}")
        params.append(flt.until)
    if flt.as_of is not None:
        # valid time: what held at as_of (facts back-dated with valid_from included)
        sql.append(f"coalesce({a}valid_from, {a}time) <= {p} AND "
                   f"({a}valid_to IS NULL OR {a}valid_to > {p})")
        params.extend([flt.as_of, flt.as_of])
    if flt.window is not None:
        # an episode happened in the window; a fact held during it (no valid_to: it still
        # holds); another kind (a summary) spans from valid_from to its time, as the "boost"
        # time fit (retrieval.timefit) reads a validity interval
        start = f"coalesce({a}valid_from, {a}time)"
        sql.append(f"(CASE WHEN {a}kind = 'episode' THEN {a}time >= {p} AND {a}time <= {p} "
                   f"WHEN {a}valid_to IS NOT NULL THEN {start} <= {p} AND {a}valid_to > {p} "
                   f"WHEN {a}kind = 'fact' THEN {start} <= {p} "
                   f"ELSE {start} <= {p} AND ({start} >= {p} OR {a}time >= {p}) END)")
        w0, w1 = flt.window
        params.extend([w0, w1, w1, w0, w1, w1, w0, w0])
    if flt.now is not None:
        # a pinned memory never expires (its expires_at applies again once unpinned); the
        # pinned flag is tested last, so only rows already past their expiry are read for it
        sql.append(f"({a}expires_at IS NULL OR {a}expires_at > {p} OR {a}pinned)")
        params.append(flt.now)
    for key, value in flt.metadata.items():
        cond, args = dialect.metadata(f"{a}metadata", key, value)
        sql.append(cond)
        params.extend(args)
    return " AND ".join(sql), params


def successor_relinks(victims: Sequence[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """(erased id, its successor) for each erased memory that was superseded, the successor
    being the first memory after it in its supersession chain that is not erased too: the
    memories naming an erased one as ``superseded_by`` are relinked to it in the same
    transaction, so that forgetting the middle of a chain keeps the oldest fact superseded by
    the newest (guarantee (a) of the search) instead of naming a memory that is gone."""
    nxt = {mid: succ for mid, succ in victims}
    out = []
    for mid, succ in victims:
        seen = {mid}
        while succ is not None and succ in nxt and succ not in seen:
            seen.add(succ)
            succ = nxt[succ]
        if succ is not None and succ not in nxt:
            out.append((mid, succ))
    return out
