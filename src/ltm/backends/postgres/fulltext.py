"""Full text: a ``tsvector`` (text at weight A, the metadata words at weight B) with a GIN
index; BM25 computed by the server (``text_search``) or here over one read of the matching rows
(``scope_text``); the label signal and the query's BM25 ceiling."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from ...index.scope import ScopeView
from ..base import Filters
from ..chunks import LENGTH_CAP
from ..common import BM25_B, BM25_K1, EXTRA_WEIGHT, IDF_MIN_DOCS
from ..segment import QUERY_WORDS, STOP_WORDS, fts_words
from .connection import Connection
from .schema import DOC_LENGTH, TEXT_CONFIG, fold

# scopes up to this many rows answer full-text queries by testing their own rows (see
# text_search): at 1,000 rows ~1 ms whatever the store's size
_TEXT_WALK_MAX = 5_000
_TOKEN = re.compile(r"\w+", re.UNICODE)


def _idf_sql(big_n: str, df: str) -> str:
    """FTS5's BM25 IDF (the SQLite backend's ``_idf``) in SQL: ln((N - n + 0.5) / (n + 0.5)),
    1e-6 where that is not positive, so that a memory scores the same on both backends."""
    value = f"ln(({big_n} - {df} + 0.5) / ({df} + 0.5))"
    return f"(CASE WHEN {value} > 0 THEN {value} ELSE 1e-6 END)"


def _idf(big_n: float, df: np.ndarray | float) -> np.ndarray:
    """``_idf_sql`` over arrays."""
    value = np.log((big_n - np.asarray(df, np.float64) + 0.5) / (np.asarray(df) + 0.5))
    return np.where(value > 0, value, 1e-6)


def query_words(text: str, limit: int = QUERY_WORDS) -> list[str]:
    """The distinct lower-cased words of a query but stop words (``STOP_WORDS``, as on
    SQLite), diacritics folded as in the full-text column (letters, digits, underscore only:
    safe to quote into a tsquery)."""
    words = [w.lower() for w in _TOKEN.findall(fold(fts_words(text) or text))]
    return list(dict.fromkeys(w for w in words if w not in STOP_WORDS))[:limit]


class FullText(Connection):
    """The full-text searches."""

    def text_search(self, query: str, flt: Filters, limit: int) -> list[tuple[str, float]]:
        words = query_words(query)
        if not words:
            return []
        tsquery = " | ".join(f"'{w}'" for w in words)
        where, params = self._where(flt)
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        k1, b = BM25_K1, BM25_B
        # (a length counts as at most LENGTH_CAP average lengths where the store takes passage
        # vectors of long memories, as on SQLite: ``ltm.backends.chunks.LENGTH_CAP``)
        dl = f"least(tf.dl, {float(LENGTH_CAP)} * st.avgdl)" if self.chunker is not None \
            else "tf.dl"
        cand, first = self._text_candidates("m.id", where, params, tsquery,
                                            self._walk_scope_for_text(flt.user))
        sql = f"""
WITH {cand},
tf AS (
    SELECT c.id, c.dl, u.lexeme,
           (SELECT sum(CASE WHEN w = 'A' THEN 1.0 ELSE {EXTRA_WEIGHT} END)
              FROM unnest(u.weights) AS w) AS f
    FROM cand c CROSS JOIN LATERAL unnest(c.tsv) AS u
    WHERE u.lexeme = ANY(tsvector_to_array(to_tsvector({cfg}, %s)))),
df AS (SELECT lexeme, count(*) AS n FROM tf GROUP BY lexeme),
st AS (
    SELECT greatest(coalesce(max(s.docs), 0), (SELECT count(*) FROM cand),
                    {IDF_MIN_DOCS})::float8 AS big_n,
           greatest(coalesce(max(s.lexemes)::float8 / nullif(max(s.docs), 0), 1.0), 1.0)
               AS avgdl
    FROM {self._st} s WHERE s.user_id = %s)
SELECT tf.id, sum({_idf_sql("st.big_n", "df.n")}
                  * tf.f * {k1 + 1} / (tf.f + {k1} * (1 - {b} + {b} * {dl} / st.avgdl))) AS s
FROM tf JOIN df USING (lexeme) CROSS JOIN st
GROUP BY tf.id ORDER BY s DESC, tf.id LIMIT %s"""
        rows = self._read(sql, [*first, " ".join(words), flt.user, limit])
        return [(r[0], float(r[1])) for r in rows]

    def _text_candidates(self, key: str, where: str, params: list[Any], tsquery: str,
                         walk: bool) -> tuple[str, list[Any]]:
        """The ``cand`` CTE (``key``, tsv, dl: the row's BM25 length) of a full-text query and
        its parameters."""
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        if walk:
            # a small scope: test its own rows against the query, instead of intersecting
            # the store-wide postings of each word (which grow with the whole store)
            return (f"mine AS MATERIALIZED (SELECT {key} AS k, m.tsv, {DOC_LENGTH} AS dl "
                    f"FROM {self._m} m WHERE {where}),\ncand AS (SELECT m.k AS "
                    f"{key.split('.')[-1]}, m.tsv, m.dl FROM mine m "
                    f"WHERE m.tsv @@ to_tsquery({cfg}, %s))", [*params, tsquery])
        return (f"cand AS (SELECT {key}, m.tsv, {DOC_LENGTH} AS dl FROM {self._m} m "
                f"WHERE m.tsv @@ to_tsquery({cfg}, %s) AND {where})", [tsquery, *params])

    def _walk_scope_for_text(self, user: str) -> bool:
        """Whether a full-text query of ``user`` reads the scope's own rows rather than the
        store-wide postings of its words: for a scope of at most ``_TEXT_WALK_MAX`` rows."""
        with self._conn() as conn:
            return 0 < self._scope_size(conn, user) <= _TEXT_WALK_MAX

    def scope_text(self, query: str, view: ScopeView, masks: Sequence[tuple[np.ndarray, int]]
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``text_search`` over the view: for each (allowed rows, limit), the positions of the
        best matching allowed rows and their scores, best first. The same BM25 as
        ``text_search`` with the filter the mask stands for (document frequencies among the
        allowed rows, N and average length from ``user_stats``), computed here from one
        read of the matching rows' term weights."""
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float64))
        words = query_words(query)
        if not words or len(view) == 0:
            return [empty for _ in masks]
        with self._views_lock:
            hit = self._views.get(view.user)
        if hit is not None and hit[0] is view:
            docs, lexemes = hit[2], hit[3]
        else:  # the cache was cleared meanwhile
            with self._conn() as conn:
                row = conn.execute(f"SELECT docs, lexemes FROM {self._st} WHERE user_id = %s",
                                   [view.user]).fetchone()
            docs, lexemes = (int(row[0]), int(row[1])) if row else (len(view), 0)
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        cand, first = self._text_candidates(
            "m.n", "m.user_id = %s", [view.user], " | ".join(f"'{w}'" for w in words),
            len(view) <= _TEXT_WALK_MAX)
        # the matching rows' query lexemes, then (n NULL) every lexeme of the query
        got = self._read(
            f"WITH {cand} SELECT c.n, c.dl, u.lexeme, "
            f"(SELECT sum(CASE WHEN w = 'A' THEN 1.0 ELSE {EXTRA_WEIGHT} END) "
            f"FROM unnest(u.weights) AS w) FROM cand c CROSS JOIN LATERAL unnest(c.tsv) AS u "
            f"WHERE u.lexeme = ANY(tsvector_to_array(to_tsvector({cfg}, %s))) "
            f"UNION ALL SELECT NULL, NULL, q, NULL FROM "
            f"unnest(tsvector_to_array(to_tsvector({cfg}, %s))) AS q",
            [*first, " ".join(words), " ".join(words)])
        rows = [r for r in got if r[0] is not None]
        query_lex = sorted({r[2] for r in got if r[0] is None})
        pos = view.positions(np.fromiter((r[0] for r in rows), np.int64, count=len(rows)))
        dl = np.fromiter((r[1] for r in rows), np.float64, count=len(rows))
        f = np.fromiter((r[3] for r in rows), np.float64, count=len(rows))
        lex = np.searchsorted(np.array(query_lex, dtype=object),
                              np.array([r[2] for r in rows], dtype=object)).astype(np.int64)
        keep = pos >= 0
        pos, dl, f, lex = pos[keep], dl[keep], f[keep], lex[keep]
        self._keep_words(view, words, docs, pos, lex, len(query_lex))
        if not len(pos):
            return [empty for _ in masks]
        k1, b = BM25_K1, BM25_B
        avgdl = max(lexemes / docs, 1.0) if docs > 0 else 1.0
        out = []
        for allowed, limit in masks:
            ok = allowed[pos]
            if not ok.any():
                out.append(empty)
                continue
            p, d, w, t = pos[ok], dl[ok], f[ok], lex[ok]
            df = np.bincount(t, minlength=int(t.max()) + 1).astype(np.float64)[t]
            big_n = float(max(docs, len(np.unique(p)), IDF_MIN_DOCS))
            if self.chunker is not None:  # (as text_search: LENGTH_CAP)
                d = np.minimum(d, LENGTH_CAP * avgdl)
            term = _idf(big_n, df) * w * (k1 + 1) / (w + k1 * (1 - b + b * d / avgdl))
            score = np.zeros(len(view), dtype=np.float64)
            np.add.at(score, p, term)
            hit_pos = np.unique(p)
            order = hit_pos[np.lexsort((view.id_rank[hit_pos], -score[hit_pos]))][:limit]
            out.append((order, score[order]))
        return out

    def _keep_words(self, view: ScopeView, words: list[str], docs: int, pos: np.ndarray,
                    lex: np.ndarray, n_lex: int) -> None:
        """Keep what ``scope_words`` of this view and these words needs from the rows
        ``scope_text`` read (each matching row's position in the view and the index of its
        query lexeme among the query's ``n_lex``): a search that reads words asks next."""
        with self._views_lock:
            if len(self._words) >= 256:
                self._words.clear()
            self._words[view.user] = (view, tuple(words), (docs, pos, lex, n_lex))

    def scope_words(self, query: str, view: ScopeView) -> list[tuple[float, np.ndarray]]:
        """For each lexeme of the query, its weight (its IDF over the user's rows, as
        ``text_ceiling`` weighs it) and the positions in ``view`` of the rows holding it: the
        word coverage of ``ltm.retrieval.ranker.coverage``. From the rows the ``scope_text``
        of the same view and words read (no query), else read as it reads them."""
        words = query_words(query)
        if not words or len(view) == 0:
            return []
        for attempt in range(2):
            with self._views_lock:
                hit = self._words.get(view.user)
            if hit is not None and hit[0] is view and hit[1] == tuple(words):
                docs, pos, lex, n_lex = hit[2]
                df = np.bincount(lex, minlength=n_lex)
                weight = _idf(float(max(docs, IDF_MIN_DOCS)), df)
                by_lex = np.argsort(lex, kind="stable")
                cuts = np.cumsum(df)[:-1] if n_lex else np.zeros(0, dtype=np.int64)
                return [(float(w), np.sort(p)) for w, p in
                        zip(weight.tolist(), np.split(pos[by_lex], cuts))]
            if attempt == 0:
                self.scope_text(query, view, [(np.ones(len(view), dtype=bool), 1)])
        return []

    def text_words(self, query: str, user: str, rowids: np.ndarray
                   ) -> list[tuple[float, np.ndarray]]:
        """``scope_words`` for the general path: for each lexeme of the query, its weight and
        the positions in ``rowids`` (row ids of ``user``'s memories: a search's candidates
        and their sessions) of the rows holding it."""
        words = query_words(query)
        rowids = np.asarray(rowids, dtype=np.int64)
        if not words or len(rowids) == 0:
            return []
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        rows = self._read(
            f"WITH q AS (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector({cfg}, %s))) "
            f"AS lexeme), st AS (SELECT greatest(coalesce(max(docs), 0), {IDF_MIN_DOCS})"
            f"::float8 AS big_n FROM {self._st} WHERE user_id = %s) "
            f"SELECT st.big_n, (SELECT count(*) FROM {self._m} m WHERE m.user_id = %s "
            f"AND m.tsv @@ to_tsquery('simple', quote_literal(q.lexeme)))::float8, "
            f"ARRAY(SELECT m.n FROM {self._m} m WHERE m.user_id = %s "
            f"AND m.n = ANY(%s::bigint[]) "
            f"AND m.tsv @@ to_tsquery('simple', quote_literal(q.lexeme))) "
            f"FROM q CROSS JOIN st ORDER BY q.lexeme",
            [" ".join(words), user, user, user, rowids.tolist()])
        order = np.argsort(rowids, kind="stable")
        ranked = rowids[order]
        out = []
        for big_n, df, found in rows:
            got = np.asarray(found or [], dtype=np.int64)
            i = np.minimum(np.searchsorted(ranked, got), len(ranked) - 1)
            out.append((float(_idf(float(big_n), float(df))),
                        np.sort(order[i[ranked[i] == got]])))
        return out

    def label_rows(self, query: str, user: str, *, only: Collection[str] = ()
                   ) -> list[tuple[str, np.ndarray]]:
        """For each word of the query that labels some of the user's memories (their speaker,
        name, title or caption: the tsvector's weight-B part), the word and the row ids
        (``n``) of those memories: the speaker/entity match signal of ``ltm.retrieval``."""
        words = query_words(query)
        if not words:
            return []
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        rows = self._read(
            f"SELECT w, m.n FROM unnest(%s::text[]) AS w CROSS JOIN LATERAL ("
            f"SELECT n FROM {self._m} WHERE user_id = %s AND numnode(plainto_tsquery({cfg}, w))"
            f" > 0 AND tsv @@ to_tsquery({cfg}, quote_literal(w) || ':B')) m",
            [words, user])
        by_word: dict[str, list[int]] = {}
        for w, n in rows:
            by_word.setdefault(w, []).append(int(n))
        return [(w, np.sort(np.array(by_word[w], dtype=np.int64)))
                for w in words if w in by_word]

    def text_ceiling(self, query: str, user: str) -> float:
        """The query's own BM25 ceiling in ``user``'s scope: what an average-length memory
        holding every query lexeme once scores in ``text_search`` (the sum of the lexemes'
        IDFs over the user's rows). ``ltm.retrieval.calibrate`` divides BM25 by it."""
        words = query_words(query)
        if not words:
            return 0.0
        cfg = f"'{TEXT_CONFIG}'::regconfig"
        rows = self._read(
            f"WITH q AS (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector({cfg}, %s))) "
            f"AS lexeme), st AS (SELECT greatest(coalesce(max(docs), 0), {IDF_MIN_DOCS})"
            f"::float8 AS big_n "
            f"FROM {self._st} WHERE user_id = %s) "
            f"SELECT st.big_n, (SELECT count(*) FROM {self._m} m WHERE m.user_id = %s "
            f"AND m.tsv @@ to_tsquery('simple', quote_literal(q.lexeme)))::float8 "
            f"FROM q CROSS JOIN st", [" ".join(words), user, user])
        return float(sum(_idf(float(big_n), float(df)) for big_n, df in rows))
