"""Full text: the tokenizer and stop words, BM25 as FTS5 computes it (with IDF and the average
memory length taken within a user's scope), the searches over the FTS5 index (``text_search``,
``text_ceiling``, ``label_rows``, ``scope_text``, the query words' matches), on top of the
postings cache (``postings.py``) and the index's structural upkeep (``fts_upkeep.py``)."""

from __future__ import annotations

import functools
import logging
import math
import re
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from ...errors import StoreError
from ...index.scope import ScopeView
from ..base import Filters
from ..chunks import LENGTH_CAP
from ..common import BM25_B, BM25_K1, EXTRA_WEIGHT, IDF_MIN_DOCS
from ..segment import QUERY_WORDS, STOP_WORDS, fts_words
from .fts_upkeep import FtsUpkeep, _varints
from .postings import PostingsCache, _Stale

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\w+", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """The query's content words: stop words dropped, also when nothing else remains (a query
    of stop words alone names nothing to match, as PostgreSQL's english configuration has
    it; BM25 over the query's own ceiling would give every memory holding "the" the ratio of
    one holding every query word)."""
    return list(_query_terms(text))


@functools.lru_cache(maxsize=1024)  # a search reads its query's words three times
def _query_terms(text: str) -> tuple[str, ...]:
    words = [w.lower() for w in _TOKEN.findall(fts_words(text) or text)]
    content = [w for w in words if w not in STOP_WORDS]
    return tuple(dict.fromkeys(content))[:QUERY_WORDS]


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _idf(total: int, hits: int) -> float:
    """FTS5's BM25 IDF, clamped the same way. Counts read at different moments (another
    process wrote in between) may disagree: ``hits`` is held to ``0..total``, so the log's
    argument stays positive whatever they are."""
    hits = min(max(hits, 0), max(total, 0))
    value = math.log((total - hits + 0.5) / (hits + 0.5))
    return value if value > 0 else 1e-6


# FTS5's bm25() over text (weight 1), the scope tag (0) and the metadata words (EXTRA_WEIGHT)
_BM25 = f"-bm25(memories_fts, 1.0, 0.0, {EXTRA_WEIGHT})"
# Per-term scope scoring takes term frequencies from highlight() (~4.5 us a matching row)
# instead of bm25() (whose IDF pass costs ~0.02 us for each row of the whole store holding
# the term) when the store holds this many times the scope's rows: a term is then rarer in
# the scope than its store-wide postings are long. 1M rows / 1,000 a user: highlight();
# LoCoMo (5,882 turns, ~600 a conversation): bm25().
_HIGHLIGHT_RATIO = 200


def _row_length(sz: bytes) -> int:
    """A row's length in tokens, all columns (FTS5's docsize record: a varint per column)."""
    return sum(sz) if max(sz, default=0) < 0x80 else sum(_varints(sz))


def _tf_coefficients(avgdl: float) -> tuple[float, float, float]:
    """BM25's term-frequency part of a term counted ``f`` times (weighted) in a row of
    ``length`` tokens (``_row_length``) is ``f * a / (f + b + c * length)``, with (a, b, c)
    these for the average length ``avgdl``: k1 + 1, k1 (1 - b) and k1 b / avgdl. Its callers
    inline the rest in one loop over a term's rows (a cold query term's rows are scored on
    every search that meets it)."""
    return BM25_K1 + 1, BM25_K1 * (1 - BM25_B), BM25_K1 * BM25_B / avgdl


# bm25()'s weighted count of a term is a whole number of these (text 1, labels EXTRA_WEIGHT):
# ``_rescaled`` rounds the count it gives back to it, so that a score made under one average
# length and one made under another give the same bits once both are rescaled
_F_STEP = EXTRA_WEIGHT if (1 / EXTRA_WEIGHT).is_integer() else None


def _span(view: ScopeView | None) -> tuple[int, int] | None:
    """The row-id range of a user's rows where they fill at least half of it (a conversation
    stored at once: all of it), else None. FTS5 reads a term's rows in a row-id range about
    twice as fast as those that also hold the user's scope token (LoCoMo: 87 vs 173 us
    with bm25(), whose IDF pass no longer walks the scope token's rows too)."""
    if view is None or not len(view):
        return None
    lo, hi = int(view.rowids[0]), int(view.rowids[-1])
    return (lo, hi) if hi - lo < 2 * len(view) else None


# a term's rows within a scope: their keys, BM25 term-frequency parts, whether their labels
# hold the term (``FullText._term_tf``)
TermParts = tuple[list[Any], np.ndarray, np.ndarray]


def _parts(rows: Sequence[tuple[Any, ...]]) -> TermParts:
    """``TermParts`` of (key, part, labelled, ...) rows."""
    return ([r[0] for r in rows], np.fromiter((r[1] for r in rows), np.float64, count=len(rows)),
            np.fromiter((r[2] for r in rows), bool, count=len(rows)))


def _rescaled(rows: Sequence[tuple[Any, float, float, bytes]], idf: float,
              avgdl_store: float, avgdl: float, raw: list[np.ndarray] | None = None,
              cap: float = 0.0) -> TermParts:
    """The keys, BM25 term-frequency parts with ``avgdl`` and whether the labels hold the
    term of (key, bm25(), the labels' bm25(), docsize record) rows: bm25()'s part (bm25()
    over ``idf``, made with the store's average length ``avgdl_store``) gives back the
    weighted count it stands for, part * K / (k1 + 1 - part) with K = k1 (1 - b + b length /
    avgdl_store), rounded to ``_F_STEP``, whose part is made again with ``avgdl``
    (``_tf_coefficients``). The rows' arithmetic as arrays: the operations of a loop over
    them, in its order (the same bits). ``raw`` receives the rows' weighted counts and
    lengths (``_tf_parts``; ``cap``: its length cap)."""
    k1, b, step = BM25_K1, BM25_B, _F_STEP
    k1_1, tf_k, tf_len = _tf_coefficients(avgdl)
    n = len(rows)
    length = np.fromiter((sum(sz) if max(sz, default=0) < 0x80 else sum(_varints(sz))
                          for _, _, _, sz in rows), np.float64, count=n)
    part = np.fromiter((r[1] for r in rows), np.float64, count=n) / idf
    f = part * (k1 * (1 - b + b * length / avgdl_store)) / np.maximum(k1_1 - part, 1e-12)
    if step is not None:
        f = np.maximum(np.round(f / step), 1.0) * step
    if raw is not None:
        raw[:] = [f, length]
    return ([r[0] for r in rows], _tf_parts(f, length, avgdl, cap),
            np.fromiter((r[2] != 0 for r in rows), bool, count=n))


def _tf_parts(f: np.ndarray, length: np.ndarray, avgdl: float, cap: float = 0.0
              ) -> np.ndarray:
    """BM25 term-frequency parts of rows holding a term ``f`` times (weighted) in ``length``
    tokens, with the average length ``avgdl``: ``_tf_coefficients``' formula, the same
    operations in the same order as the loop of ``_term_rows`` (the same bits). ``cap`` > 0:
    a length counts as at most ``cap`` times ``avgdl`` (``FullText._length_cap``)."""
    k1_1, tf_k, tf_len = _tf_coefficients(avgdl)
    if cap > 0:
        length = np.minimum(length, cap * avgdl)
    return f * k1_1 / (f + tf_k + tf_len * length)


class FullText(PostingsCache, FtsUpkeep):
    """Searches over the FTS5 index and its upkeep (a part of ``SqliteBackend``)."""

    @property
    def _length_cap(self) -> float:
        """BM25's length cap, in average lengths, where the store takes passage vectors of
        long memories (``chunks.LENGTH_CAP``); 0 where it does not (FTS5's bm25() exactly)."""
        return LENGTH_CAP if self.chunker is not None else 0.0

    def text_search(self, query: str, flt: Filters, limit: int) -> list[tuple[str, float]]:
        """BM25 over text (weight 1) and speaker/name (weight 0.5) within the user's scope.

        FTS5 computes IDF and the average memory length over the whole table, i.e. across
        users: a name that is rare in the store but said in every other turn of one user's
        memories would dominate that user's ranking, and another user's long memories would
        move this user's scores and their order. For scopes up to ``hnsw_min_scope`` memories
        each query term is therefore scored on its own, with the IDF and the average length
        within the user's scope (``_scope_avgdl``): another user's memories change nothing."""
        terms = query_terms(query)
        if not terms:
            return []
        scope = "u" + flt.user.encode().hex()
        where, params = self._where(flt)
        sql = (f"SELECT m.id, {_BM25} AS s FROM memories_fts "
               f"JOIN memories m ON m.n = memories_fts.rowid "
               f"WHERE memories_fts MATCH ? AND {where} ORDER BY s DESC LIMIT ?")
        with self._lock:
            try:
                mark = self._user_mark(flt.user)
                n_scope = self._scope_count(flt.user, mark)
                if n_scope > self.hnsw_min_scope:
                    match = " OR ".join(_phrase(t) for t in terms)
                    rows = self.conn.execute(
                        sql, [f'scope : "{scope}" AND ({match})', *params, limit]).fetchall()
                    return [(r[0], float(r[1])) for r in rows]
                avgdl = self._scope_avgdl(flt.user, mark)
                scores: dict[str, float] = {}
                for term in terms:
                    keys, tf, _ = self._term_tf(term, f'scope : "{scope}" AND {_phrase(term)}',
                                                n_scope, where, params, key="m.id", avgdl=avgdl)
                    if not keys:
                        continue
                    idf_scope = _idf(max(n_scope, IDF_MIN_DOCS), len(keys))
                    for mid, part in zip(keys, tf.tolist()):
                        scores[mid] = scores.get(mid, 0.0) + part * idf_scope
            except sqlite3.OperationalError as exc:
                log.warning("full-text query failed (%s) for %r", exc, terms)
                return []
            except sqlite3.DatabaseError as exc:
                raise self._fts_unreadable(exc) from exc
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        return ranked[:limit]

    def _fts_unreadable(self, exc: sqlite3.DatabaseError) -> StoreError:
        """The typed error for a full-text index SQLite cannot read (damaged), raised by every
        full-text query; open repairs it (``_check_fts``)."""
        return StoreError(f"the full-text index of {self.folder} cannot be read: {exc}")

    def text_ceiling(self, query: str, user: str) -> float:
        """The query's own BM25 ceiling in ``user``'s scope: what an average-length memory
        holding every query term once scores in ``text_search`` (the sum of the terms' IDFs as
        it weighs them: the scope's in a scope up to ``hnsw_min_scope``, else the store's).
        ``ltm.retrieval.calibrate`` divides BM25 by it."""
        terms = query_terms(query)
        if not terms:
            return 0.0
        with self._lock:
            try:
                mark = self._user_mark(user)
                n_scope = self._scope_count(user, mark)
                if n_scope == 0:
                    return 0.0
                if n_scope > self.hnsw_min_scope:
                    store = self._write_mark()
                    total = self._total_count(store)
                    return sum(_idf(total, self._store_df(t, total, store)) for t in terms)
                scope = "u" + user.encode().hex()
                cache = self._postings(user, mark)
                out = 0.0
                for t in terms:
                    held = cache.get(("tf", t))
                    if held is not None:  # scope_text read the term's rows: count them
                        out += _idf(max(n_scope, IDF_MIN_DOCS), len(held[0]))
                        continue
                    key = (user, t)
                    hit = self._scope_df_cache.get(key)
                    if hit is None or hit[1] != mark:
                        df = int(self.conn.execute(
                            "SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?",
                            (f'scope : "{scope}" AND {_phrase(t)}',)).fetchone()[0])
                        if len(self._scope_df_cache) > 50_000:
                            self._scope_df_cache.clear()
                        hit = self._scope_df_cache[key] = (df, mark)
                    out += _idf(max(n_scope, IDF_MIN_DOCS), hit[0])
                return out
            except sqlite3.OperationalError as exc:
                log.warning("full-text query failed (%s) for %r", exc, terms)
                return 0.0
            except sqlite3.DatabaseError as exc:
                raise self._fts_unreadable(exc) from exc

    def label_rows(self, query: str, user: str, *, only: Collection[str] = ()
                   ) -> list[tuple[str, np.ndarray]]:
        """For each content word of the query that labels some of the user's memories (their
        speaker, name, title or caption: the full-text ``extra`` column), the word and the
        row ids (``n``) of those memories: the speaker/entity match signal of
        ``ltm.retrieval``. ``only``: words wanted for their labels alone (the search reads
        no text of them), read without their postings."""
        terms = query_terms(query)
        if not terms:
            return []
        scope = "u" + user.encode().hex()
        out: list[tuple[str, np.ndarray]] = []
        bare = set(query_terms(" ".join(only))) if only else set()
        with self._lock:
            try:
                mark = self._user_mark(user)
                cache = self._postings(user, mark)
                hit = self._scope_cache.get(user)
                view = hit[0] if hit is not None and hit[1] == mark else None
                span = _span(view)

                def matching(inner: str, limit: str = "") -> list[Any]:
                    """Rows of the user's matching ``inner`` (with a row-id range, also
                    other users' rows inside it: the caller drops them)."""
                    if span is None:
                        return self.conn.execute(
                            f"SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?{limit}",
                            (f'scope : "{scope}" AND {inner}',)).fetchall()
                    return self.conn.execute(
                        "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? "
                        f"AND rowid BETWEEN ? AND ?{limit}", (inner, *span)).fetchall()

                cold = [t for t in terms if ("label", t) not in cache]
                if view is not None and len(view) <= self.hnsw_min_scope:
                    # a scope searched by term (scope_text): one read a word gives its
                    # postings and its labels, the read the search makes next anyway
                    for t in cold:
                        if t not in bare:
                            self._term_postings(view, t, span, mark)
                    cold = [t for t in cold if t in bare]
                if len(cold) > 1 and not matching(
                        "extra : (" + " OR ".join(_phrase(t) for t in cold) + ")", " LIMIT 1"):
                    # most words label nothing (labels are names, titles, captions): one
                    # probe for all the words not seen yet, one query a word only if it hits
                    for t in cold:
                        self._keep_postings(user, ("label", t), np.zeros(0, np.int64))
                for t in terms:
                    held = cache.get(("label", t))
                    if held is None:
                        rows = matching(f"extra : {_phrase(t)}")
                        rowids = np.sort(np.fromiter((r[0] for r in rows), np.int64,
                                                     count=len(rows)))
                        if view is not None and span is not None:
                            rowids = rowids[view.positions(rowids) >= 0]
                        held = self._keep_postings(user, ("label", t), rowids)
                    if len(held[0]):
                        out.append((t, held[0]))
            except sqlite3.OperationalError as exc:
                log.warning("full-text query failed (%s) for %r", exc, terms)
                return []
            except sqlite3.DatabaseError as exc:
                raise self._fts_unreadable(exc) from exc
        return out

    def _total_count(self, mark: tuple[int, int] | None = None) -> int:
        mark = mark or self._write_mark()  # (a caller's mark: the same read)
        stats = self._fts_averages(mark)
        if stats is not None:
            return stats[0]
        hit = self._count_cache.get(("total", ""))
        if hit is not None and hit[1] == mark:
            return hit[0]
        n = int(self.conn.execute("SELECT count(*) FROM memories").fetchone()[0])
        self._count_cache[("total", "")] = (n, mark)
        return n

    def _fts_averages(self, mark: tuple[int, int] | None = None) -> tuple[int, float] | None:
        """(rows, mean tokens per row over all columns) from the full-text index's averages
        record, cached until the next write: the N and avgdl of its BM25, read instead of
        counting a million index entries; None if unreadable or empty."""
        mark = mark or self._write_mark()
        if self._averages_cache is not None and self._averages_cache[1] == mark:
            return self._averages_cache[0]
        stats = None
        row = self.conn.execute("SELECT block FROM memories_fts_data WHERE id = 1").fetchone()
        if row is not None and isinstance(row[0], bytes) and row[0]:
            values = _varints(row[0])
            if values and values[0] > 0:
                stats = (values[0], sum(values[1:]) / values[0])
        self._averages_cache = (stats, mark)
        return stats

    def _term_tf(self, term: str, match: str, n_scope: int, where: str = "",
                 params: Sequence[Any] = (), key: str = "memories_fts.rowid",
                 span: tuple[int, int] | None = None, avgdl: float | None = None,
                 raw: list[np.ndarray] | None = None) -> TermParts:
        """The keys, BM25 term-frequency parts and whether the row's labels hold the term of
        the rows matching one term within a scope (the caller multiplies the parts by the
        scope's IDF):
        from highlight() where the store holds
        ``_HIGHLIGHT_RATIO`` times the scope's rows, else bm25() divided by the store's IDF.
        ``span`` (see ``_span``): bm25() may read the term's rows in that row-id range instead
        of those ``match`` names; the caller then drops other users' rows. ``avgdl``: the
        average length to score with (the scope's, see ``_scope_avgdl``) instead of the
        store's that FTS5 uses. With ``avgdl`` the parts depend on the scope's rows alone
        (both ways give the same bits), so the caller may cache them per user mark; the
        store's counts used on the way are read under the store's write mark. ``raw``
        (with ``avgdl``) receives the rows' weighted counts and lengths (``_tf_parts``)."""
        mark = self._write_mark()
        total = self._total_count(mark)
        if total > _HIGHLIGHT_RATIO * n_scope:
            rows = self._term_rows(match, where, params, key, avgdl,
                                   counts=raw is not None and avgdl is not None)
            if rows is not None:
                if raw is not None and avgdl is not None:
                    raw[:] = [np.fromiter((r[3] for r in rows), np.float64, count=len(rows)),
                              np.fromiter((r[4] for r in rows), np.float64, count=len(rows))]
                return _parts(rows)
        stats = self._fts_averages(mark) if avgdl is not None else None
        join = "CROSS JOIN memories m ON m.n = memories_fts.rowid " if where else ""
        # bm25() weighing the labels alone is 0 exactly where they do not hold the term
        cols = f"{key}, {_BM25}, bm25(memories_fts, 0.0, 0.0, 1.0)"
        if stats is not None:  # the rows' lengths, to rescore with ``avgdl``
            cols += ", d.sz"
            join += "CROSS JOIN memories_fts_docsize d ON d.id = memories_fts.rowid "
        if span is not None and not where:
            # the same scores: the scope phrase of ``match`` adds exactly 0 to bm25()
            got = self.conn.execute(
                f"SELECT {cols} FROM memories_fts {join}WHERE memories_fts MATCH ? "
                "AND memories_fts.rowid BETWEEN ? AND ?", [_phrase(term), *span]).fetchall()
        else:
            got = self.conn.execute(
                f"SELECT {cols} FROM memories_fts {join}"
                f"WHERE memories_fts MATCH ?{' AND ' + where if where else ''}",
                [match, *params]).fetchall()
        if not got:  # (no row to score: the store-wide count is not needed)
            if raw is not None and avgdl is not None:
                raw[:] = [np.zeros(0, np.float64), np.zeros(0, np.float64)]
            return [], np.zeros(0, np.float64), np.zeros(0, bool)
        idf = _idf(total, self._store_df(term, total, mark))
        if stats is None or avgdl is None:
            return _parts([(k, float(sc) / idf, lab != 0) for k, sc, lab, *_ in got])
        return _rescaled(got, idf, stats[1], avgdl, raw, self._length_cap)

    def _term_rows(self, match: str, where: str = "", params: Sequence[Any] = (),
                   key: str = "memories_fts.rowid", avgdl: float | None = None, *,
                   counts: bool = False) -> list[tuple[Any, ...]] | None:
        """(key, BM25 term-frequency part, whether the row's labels hold the term; with
        ``counts`` also the term's weighted count and the row's length) of the rows matching
        one term within a scope,
        without FTS5's bm25(): the weighted count of the term in text (1) and extra (0.5)
        comes from highlight(), the row length from the docsize table, avgdl from the
        averages record (or ``avgdl``: the scope's). The caller multiplies by an IDF. None if
        the averages are unreadable or the index holds no content (the caller falls back to
        bm25())."""
        if avgdl is None:
            stats = self._fts_averages()
            if stats is None:
                return None
            avgdl = stats[1]
        # CROSS JOIN keeps the full-text match as the outer loop: otherwise the planner may
        # walk the user's rows and probe the index once per row (35 ms instead of 0.3)
        join = "CROSS JOIN memories m ON m.n = memories_fts.rowid " if where else ""
        rows = self.conn.execute(
            f"SELECT {key}, highlight(memories_fts, 0, char(1), ''), "
            "highlight(memories_fts, 2, char(1), ''), d.sz FROM memories_fts "
            f"{join}CROSS JOIN memories_fts_docsize d ON d.id = memories_fts.rowid "
            f"WHERE memories_fts MATCH ?{' AND ' + where if where else ''}",
            [match, *params]).fetchall()
        # (_tf_coefficients and _row_length inline: one loop over the term's rows)
        k1_1, tf_k, tf_len = _tf_coefficients(avgdl)
        most = self._length_cap * avgdl if self._length_cap > 0 else math.inf
        out = []
        for k, text, extra, sz in rows:
            if text is None:  # a contentless index (a store before 0005): no highlight()
                return None
            f = float(text.count("\x01"))
            labelled = bool(extra) and "\x01" in extra
            if labelled:
                f += EXTRA_WEIGHT * extra.count("\x01")
            length = sum(sz) if max(sz, default=0) < 0x80 else sum(_varints(sz))
            part = f * k1_1 / (f + tf_k + tf_len * (length if length <= most else most))
            out.append((k, part, labelled, f, length) if counts else (k, part, labelled))
        return out

    def _scope_avgdl(self, user: str, mark: tuple[int, int]) -> float | None:
        """The mean length (tokens in all columns, as FTS5 counts them) of ``user``'s
        memories: the average length of BM25 within the user's scope (the PostgreSQL backend
        keeps it in user_stats). FTS5's bm25() takes it over the whole table, so other users'
        memories would move a user's scores and even their order. The token count comes from
        the user's snapshot (``scope_snap``, current wherever it exists) or is read from the
        docsize table (~1 us a row); cached until the user's next write (``mark``: the user's
        mark). None for an empty scope."""
        hit = self._scope_avgdl_cache.get(user)
        if hit is not None and hit[1] == mark:
            return hit[0]
        n = self._scope_count(user, mark)
        value, tokens = None, 0
        if n > 0:
            # after this connection's own inserts alone: the held count and the new rows'
            got = self._own_appends(user, hit[1], mark) if hit is not None else None
            if hit is not None and got is not None:
                sizes = [] if not got[2] else self.conn.execute(
                    "SELECT d.sz FROM memories m CROSS JOIN memories_fts_docsize d "
                    "ON d.id = m.n WHERE m.n BETWEEN ? AND ? AND +m.user = ?",
                    (got[0], got[1], user)).fetchall()
                if len(sizes) == got[2]:
                    tokens = hit[2] + sum(_row_length(r[0]) for r in sizes)
                else:
                    got = None
            if got is None:
                row = self.conn.execute("SELECT tokens FROM scope_snap WHERE user = ?",
                                        (user,)).fetchone()
                tokens = row[0] if row is not None and row[0] is not None \
                    else self._count_tokens(user)
            value = tokens / n if tokens > 0 else None
        if len(self._scope_avgdl_cache) > 10_000:
            self._scope_avgdl_cache.clear()
        self._scope_avgdl_cache[user] = (value, mark, tokens)
        return value

    def _count_tokens(self, user: str) -> int:
        """The tokens of all of ``user``'s memories in the full-text index (docsize)."""
        rows = self.conn.execute(
            "SELECT d.sz FROM memories m INDEXED BY memories_scope "
            "CROSS JOIN memories_fts_docsize d ON d.id = m.n WHERE m.user = ?",
            (user,)).fetchall()
        return sum(_row_length(r[0]) for r in rows)

    def _store_df(self, term: str, total: int, mark: tuple[int, int] | None = None) -> int:
        """How many memories in the whole store hold ``term``: cached until the next commit of
        this or another connection (the write mark), since a forget or a text update lowers
        it. ``_term_tf`` divides FTS5's bm25() by the IDF made of it, so it must be the count
        FTS5 itself sees."""
        mark = mark or self._write_mark()
        if self._df_mark != mark:
            self._df_cache.clear()
            self._df_mark = mark
        hit = self._df_cache.get(term)
        if hit is not None:
            return hit
        n = int(self.conn.execute("SELECT count(*) FROM memories_fts WHERE memories_fts "
                                  "MATCH ?", (_phrase(term),)).fetchone()[0])
        if len(self._df_cache) > 50_000:
            self._df_cache.clear()
        self._df_cache[term] = n
        return n

    def scope_text(self, query: str, view: ScopeView, masks: Sequence[tuple[np.ndarray, int]]
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``text_search`` over the view: for each (allowed rows, limit), the positions of the
        best matching allowed rows and their scores, best first. Same scores as
        ``text_search`` with the filter the mask stands for: per-scope IDF for each term
        (scopes up to ``hnsw_min_scope``), plain BM25 for one term or a larger scope."""
        terms = query_terms(query)
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float64))
        if not terms or len(view) == 0:
            return [empty for _ in masks]
        scope = "u" + view.user.encode().hex()
        sql = (f"SELECT rowid, {_BM25} FROM memories_fts "
               "WHERE memories_fts MATCH ?")
        n_scope = len(view)
        per_scope = n_scope <= self.hnsw_min_scope
        idf_docs = max(n_scope, IDF_MIN_DOCS)
        postings: list[tuple[np.ndarray, ...]] = []
        with self._lock:
            try:
                mark = self._user_mark(view.user)
                current = self._scope_cache.get(view.user)
                # the cache holds positions in the user's view of this user mark: a view read
                # before another thread or connection wrote the user's memories is scored
                # without it
                keep = current is not None and current[0] is view and current[1] == mark
                cache = self._postings(view.user, mark) if keep else {}
                if not per_scope:
                    match = " OR ".join(_phrase(t) for t in terms)
                    groups = [("bm25", f'scope : "{scope}" AND ({match})', " ".join(terms))]
                else:
                    groups = [("tf", f'scope : "{scope}" AND {_phrase(t)}', t) for t in terms]
                span = _span(view)
                for kind, match, term in groups:
                    held = cache.get((kind, term))
                    if held is None and per_scope:
                        held = self._term_postings(view, term, span, mark, keep=keep)
                    elif held is None:
                        rows = self.conn.execute(sql, (match,)).fetchall()
                        rowids = np.fromiter((r[0] for r in rows), np.int64, count=len(rows))
                        tf = np.fromiter((r[1] for r in rows), np.float64, count=len(rows))
                        pos = view.positions(rowids)
                        ok = pos >= 0
                        # (not cached: FTS5's store-wide statistics are not the user's)
                        held = (rowids, tf, pos[ok], tf[ok], tf[ok])
                    if len(held[2]):
                        postings.append(held[2:])
            except sqlite3.OperationalError as exc:
                log.warning("full-text query failed (%s) for %r", exc, terms)
                return [empty for _ in masks]
            except sqlite3.DatabaseError as exc:
                raise self._fts_unreadable(exc) from exc
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for allowed, limit in masks:
            every = bool(allowed.all())  # no row filtered out (the usual main query)
            places, parts = [], []
            for pos, sc, w in postings:
                if not every:
                    keep = allowed[pos]
                    if not keep.any():
                        continue
                    if not keep.all():  # the term's IDF within the allowed rows
                        pos = pos[keep]
                        w = sc[keep] * _idf(idf_docs, len(pos)) if per_scope else sc[keep]
                places.append(pos)
                parts.append(w)
            if not places:
                out.append(empty)
                continue
            at = np.concatenate(places)
            # a row's score: its terms' parts added in the terms' order (bincount's order)
            score = np.bincount(at, weights=np.concatenate(parts), minlength=len(view))
            seen = np.zeros(len(view), dtype=bool)  # the rows hit, ascending (np.unique's
            seen[at] = True  # answer without its sort: ~5 instead of ~30 us)
            hit = np.flatnonzero(seen)
            order = hit[np.argsort(-score[hit], kind="stable")][:limit]
            out.append((order, score[order]))
        return out

    def scope_words(self, query: str, view: ScopeView) -> list[tuple[float, np.ndarray]]:
        """For each content word of the query (``query_terms``), its weight (its IDF as
        ``text_ceiling`` weighs it) and the positions in ``view`` of the rows holding it (text
        or labels): the word coverage of ``ltm.retrieval.ranker.coverage``. A scope up to
        ``hnsw_min_scope`` takes them from the postings ``scope_text`` has just read (no
        SQL), else from one read of each word's rows in the scope."""
        terms = query_terms(query)
        if not terms or len(view) == 0:
            return []
        n_scope = len(view)
        out: list[tuple[float, np.ndarray]] = []
        with self._lock:
            try:
                mark = self._user_mark(view.user)
                current = self._scope_cache.get(view.user)
                keep = current is not None and current[0] is view and current[1] == mark
                if n_scope <= self.hnsw_min_scope:
                    cache = self._postings(view.user, mark) if keep else {}
                    span = _span(view)
                    for t in terms:
                        held = cache.get(("tf", t))
                        if held is None:
                            held = self._term_postings(view, t, span, mark, keep=keep)
                        out.append((_idf(max(n_scope, IDF_MIN_DOCS), len(held[2])), held[2]))
                    return out
                scope = "u" + view.user.encode().hex()
                store = self._write_mark()
                total = self._total_count(store)
                for t in terms:
                    rows = self.conn.execute(
                        "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?",
                        (f'scope : "{scope}" AND {_phrase(t)}',)).fetchall()
                    pos = view.positions(np.fromiter((r[0] for r in rows), np.int64,
                                                     count=len(rows)))
                    out.append((_idf(total, self._store_df(t, total, store)), pos[pos >= 0]))
            except sqlite3.OperationalError as exc:
                log.warning("full-text query failed (%s) for %r", exc, terms)
                return []
            except sqlite3.DatabaseError as exc:
                raise self._fts_unreadable(exc) from exc
        return out

    def text_words(self, query: str, user: str, rowids: np.ndarray
                   ) -> list[tuple[float, np.ndarray]]:
        """``scope_words`` for the general path: for each content word of the query, its
        weight and the positions in ``rowids`` (row ids of ``user``'s memories: a search's
        candidates and their sessions) of the rows holding it. A scope up to
        ``hnsw_min_scope`` reads each word's rows in the scope once per user mark (the
        postings ``label_rows`` read where the user's view is cached), a larger one the
        word's rows between the least and the greatest of ``rowids``."""
        terms = query_terms(query)
        rowids = np.asarray(rowids, dtype=np.int64)
        if not terms or len(rowids) == 0:
            return []
        order = np.argsort(rowids, kind="stable")
        ranked = rowids[order]

        def at(found: np.ndarray) -> np.ndarray:
            """The positions in ``rowids`` of the row ids ``found``."""
            i = np.minimum(np.searchsorted(ranked, found), len(ranked) - 1)
            return np.sort(order[i[ranked[i] == found]])

        scope = "u" + user.encode().hex()
        out: list[tuple[float, np.ndarray]] = []
        with self._lock:
            try:
                mark = self._user_mark(user)
                n_scope = self._scope_count(user, mark)
                if 0 < n_scope <= self.hnsw_min_scope:
                    cache = self._postings(user, mark)
                    for t in terms:
                        held = cache.get(("tf", t)) or cache.get(("rows", t))
                        if held is None:
                            rows = self.conn.execute(
                                "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?",
                                (f'scope : "{scope}" AND {_phrase(t)}',)).fetchall()
                            held = self._keep_postings(user, ("rows", t), np.sort(np.fromiter(
                                (r[0] for r in rows), np.int64, count=len(rows))))
                        out.append((_idf(max(n_scope, IDF_MIN_DOCS), len(held[0])),
                                    at(held[0])))
                    return out
                store = self._write_mark()
                total = self._total_count(store)
                for t in terms:
                    rows = self.conn.execute(
                        "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? "
                        "AND rowid BETWEEN ? AND ?",
                        (f'scope : "{scope}" AND {_phrase(t)}', int(ranked[0]),
                         int(ranked[-1]))).fetchall()
                    found = np.fromiter((r[0] for r in rows), np.int64, count=len(rows))
                    out.append((_idf(total, self._store_df(t, total, store)), at(found)))
            except sqlite3.OperationalError as exc:
                log.warning("full-text query failed (%s) for %r", exc, terms)
                return []
            except sqlite3.DatabaseError as exc:
                raise self._fts_unreadable(exc) from exc
        return out

    def _term_postings(self, view: ScopeView, term: str, span: tuple[int, int] | None,
                       mark: tuple[int, int], *, keep: bool = True
                       ) -> tuple[np.ndarray, ...]:
        """Read one term's rows in ``view``'s scope (a scope up to ``hnsw_min_scope``) into
        the user's postings cache: as ("tf", term) their row ids, BM25 term-frequency parts,
        positions in the view (the same in any view of the user read under this user mark:
        rows in row-id order), those rows' parts and their scores with the term's IDF within
        the scope; as ("label", term) the rows whose labels hold it (``label_rows``).
        Returns the first. ``keep=False``: ``view`` was read under an earlier user mark, so
        its positions are not the ones the cache holds for ``mark``; nothing is stored."""
        user = view.user
        raw: list[np.ndarray] = []  # the rows' weighted counts and lengths
        keys, tf, labelled = self._term_tf(
            term, f'scope : "u{user.encode().hex()}" AND {_phrase(term)}', len(view),
            span=span, avgdl=self._scope_avgdl(user, mark), raw=raw)
        rowids = np.fromiter(keys, np.int64, count=len(keys))
        pos = view.positions(rowids)
        ok = pos >= 0
        tf_in = tf
        if not ok.all():
            pos, tf_in = pos[ok], tf[ok]
            if span is not None:  # other users' rows in the range
                rowids, tf, labelled = rowids[ok], tf_in, labelled[ok]
                raw = [a[ok] for a in raw]
            else:
                raw = []  # (a view older than its mark: not kept)
        got = (rowids, tf, pos, tf_in, tf_in * _idf(max(len(view), IDF_MIN_DOCS), len(pos)))
        if not keep:  # ``view`` is not the user's view of ``mark``: nothing to share
            return got
        self._keep_postings(user, ("label", term), rowids[labelled])
        if raw:
            self._keep_postings(user, ("raw", term), *raw)
        return self._keep_postings(user, ("tf", term), *got)

    def _grow_postings(self, user: str, term: str, old: _Stale, mark: tuple[int, int]
                       ) -> None:
        """Bring ``term``'s postings of an earlier user mark (``old``: that mark and the
        entries) up to ``mark`` in the user's cache, where only this connection's own inserts
        came between (``_own_appends``): the old rows' parts made again with the scope's new
        mean length from their weighted counts and lengths (``_tf_parts``: the same bits as
        a cold read), the new rows' read from that row-id range alone (``_term_rows``),
        appended (their row ids are above the old ones, and so their places in the view).
        Leaves the cache without them where it cannot (the caller then reads them cold)."""
        since, before = old
        got = self._own_appends(user, since, mark)
        cur = self._scope_cache.get(user)
        label = before.get(("label", term))
        tf = before.get(("tf", term))
        raw = before.get(("raw", term))
        if got is None or cur is None or cur[1] != mark or label is None:
            return
        first, last, count, _ = got
        avgdl = self._scope_avgdl(user, mark)
        if avgdl is None:
            return
        rows = [] if not count else self._term_rows(
            f'scope : "u{user.encode().hex()}" AND {_phrase(term)}',
            "memories_fts.rowid BETWEEN ? AND ?", (first, last), avgdl=avgdl, counts=True)
        if rows is None or any(r[3] <= 0 for r in rows):  # (a contentless index)
            return
        n = len(rows)
        rowids = np.fromiter((r[0] for r in rows), np.int64, count=n)
        pos = cur[0].positions(rowids)
        if not bool((pos >= 0).all()):
            return
        labelled = np.fromiter((r[2] for r in rows), bool, count=n)
        if tf is not None and raw is not None and len(tf[0]) == len(tf[2]) == len(raw[0]):
            f = np.concatenate([raw[0], np.fromiter((r[3] for r in rows), np.float64, count=n)])
            length = np.concatenate([raw[1], np.fromiter((r[4] for r in rows), np.float64,
                                                         count=n)])
            parts = _tf_parts(f, length, avgdl, self._length_cap)
            at = np.concatenate([tf[2], pos])
            self._keep_postings(user, ("raw", term), f, length)
            self._keep_postings(user, ("tf", term), np.concatenate([tf[0], rowids]), parts,
                                at, parts, parts * _idf(max(len(cur[0]), IDF_MIN_DOCS), len(at)))
        elif tf is not None:
            return  # (its counts not kept: read cold, with its labels)
        self._keep_postings(user, ("label", term), np.concatenate([label[0], rowids[labelled]]))
