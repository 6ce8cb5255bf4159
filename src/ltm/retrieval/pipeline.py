"""Hybrid retrieval: candidates -> calibrated signals -> learned relevance -> time -> diversity.

Each retriever (full-text BM25, dense vectors) proposes candidates. Their scores are put on
fixed scales (``calibrate``: BM25 over the query's own ceiling, cosine against the embedder's
background of unrelated pairs), never on the candidate pool's, and a small learned model
(``ranker``) turns them, with conversation structure (a turn's neighbours and session),
recency, importance, supersession and the fit to a time window named in the query, into
``relevance``: the probability that the memory is evidence for the query. Results are ranked
by it; two guarantees are enforced on the list itself: a superseded fact never ranks above its
successor (unless the query's ``as_of`` or time window falls before the successor was valid),
and the time window's weight is positive and additive. Every hit keeps the numbers that made
its relevance.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from ..backends.base import Backend, ChunkReader, Filters, Pinning, ScopeReader
from ..backends.chunks import ChunkSet
from ..config import Settings
from ..embed import Embedder, embedded
from ..index.scope import ScopeView
from ..model import Hit, Memory
from ..retention_rules import ARCHIVED, US_PER_DAY
from ..timeparse import TimeWindow
from . import rerank
from .calibrate import dense_background, dense_z, text_ratio
from .chunks import lifted
from .ranker import FULL, MATCH, OWN, Ranker, RawPool, Turns, shipped, sigmoid
from .supersede import lift_current, successors_first, with_successors
from .timefit import (
    decay_policies,
    halving,
    time_and_retention,
    time_head,
    window_candidates,
    window_gain,
)

_STRUCTURE_END = len(MATCH)  # "own" and the conversation-structure columns
# a hit's first signals, in order: the columns of ``rank``'s ``head``
_HEAD_SIGNALS = ("text", "dense", "text_rel", "dense_z", "label", *FULL[:_STRUCTURE_END],
                 "recency", "importance")
_FIT, _WINDOW = FULL.index("time_fit"), FULL.index("window")
_SUP = FULL.index("superseded")


@dataclass
class _Pool:
    ids: list[str]
    text: np.ndarray
    dense: np.ndarray


def _pool(backend: Backend, qv: np.ndarray | None, text_hits: list[tuple[str, float]],
          dense_hits: list[tuple[str, float]], rows: Sequence[tuple[Any, ...]],
          user: str) -> _Pool:
    ids = list(dict.fromkeys([i for i, _ in text_hits] + [i for i, _ in dense_hits]
                             + [r[0] for r in rows]))
    tmap = dict(text_hits)
    dmap = dict(dense_hits)
    text = np.array([tmap.get(i, 0.0) for i in ids], dtype=np.float64)
    dense = np.array([dmap.get(i, math.nan) for i in ids], dtype=np.float64)
    gap = np.flatnonzero(np.isnan(dense))
    if len(gap) and qv is not None:
        key = {r[0]: r[6] for r in rows} if rows and len(rows[0]) > 6 else {}
        if all(ids[j] in key for j in gap):
            # the light rows carry their row ids: score the gap without looking ids up
            dense[gap] = backend.scores_at(np.fromiter((key[ids[j]] for j in gap), np.int64,
                                                       count=len(gap)), qv, user)
        else:
            vecs = backend.vectors([ids[j] for j in gap], user)
            for j in gap:
                v = vecs.get(ids[j])
                dense[j] = 0.0 if v is None else float(v @ qv)
    return _Pool(ids, text, np.nan_to_num(dense))


def search(backend: Backend, embedder: Embedder, settings: Settings, query: str,
           flt: Filters, k: int, *, now: int, query_vector: np.ndarray | None = None,
           window: TimeWindow | None = None, ranker: Ranker | None = None,
           min_relevance: float = 0.0) -> list[Hit]:
    """The ``k`` most relevant memories under ``flt``, best first, none below
    ``min_relevance``. ``window`` (from ``ltm.timeparse``: ``start``/``end`` in microseconds,
    half-open) feeds the "time_window" signal: how well a memory's time fits it."""
    pins = _pinning(backend)
    model = ranker or shipped()
    with pins.pinned(flt.user) if pins is not None else contextlib.nullcontext():
        pool = pool_for(backend, embedder, settings, query, flt, k, now=now,
                        query_vector=query_vector, window=window, words=model.reads_words)
        if pool is None:
            return []
        pool.query = query
        return rank(backend, settings, model, pool, flt, k, now=now, window=window,
                    min_relevance=min_relevance)


@dataclass
class Candidates:
    """One query's candidate pool with its calibrated signals (``raw``) and what ranking needs
    besides: ids, raw scores, times, the tie-break key."""

    ids: Sequence[str]
    bm25: np.ndarray
    cosine: np.ndarray
    times: np.ndarray
    raw: RawPool
    tie: np.ndarray | None  # rank of each id among the scope's (None: sort by the ids)
    qv: np.ndarray | None
    only: str | None = None  # "text" / "dense": one retriever and nothing else is switched on
    query: str = ""  # the query as asked (what a reranker reads; set by search)
    turns: Turns | None = None  # where the pool's turns sit in their conversations (None:
    # the ranker finds out)


def pool_for(backend: Backend, embedder: Embedder, settings: Settings, query: str,
             flt: Filters, k: int, *, now: int, query_vector: np.ndarray | None = None,
             window: TimeWindow | None = None, words: bool = True) -> Candidates | None:
    """The candidate pool of a query and its calibrated signals (None: no candidate). The
    scope fast path and the general path compute the same pool and the same signals.
    ``words``: read which query words each candidate holds (``RawPool.words``, the word
    coverage columns; a search skips them where its model gives them no weight)."""
    n_cand = max(settings.candidates, 3 * k)
    reader = scope_reader(backend)
    if reader is not None and flt.only_user and settings.mmr_lambda <= 0:
        fast = _pool_scope(backend, reader, embedder, settings, query, flt, n_cand, now=now,
                           query_vector=query_vector, window=window, words=words)
        if fast is not _Path.GENERAL:
            return fast
    scope_size = backend.scope_count(flt.user)
    if scope_size >= settings.hnsw_min_scope:
        n_cand = max(min(settings.candidates, settings.large_scope_candidates), 3 * k)
    labelled = _labels(backend, settings, query, flt.user, scope_size)
    content = _content(query, labelled.speakers)
    text_hits = backend.text_search(content, flt, n_cand) if settings.text_weight > 0 else []
    qv = None
    dense_hits: list[tuple[str, float]] = []
    if settings.dense_weight > 0 or settings.mmr_lambda > 0:
        qv = _query_vector(embedder, content, query_vector)
        dense_hits = backend.dense_search(qv, flt, n_cand)
    if window is not None and settings.time_weight > 0:
        text_hits, dense_hits = window_candidates(backend, settings, content, qv, flt, window,
                                                   n_cand, text_hits, dense_hits)
    long = _passages(backend, settings, flt.user, qv) if dense_hits else None
    if long is not None:
        dense_hits = _with_passages(dense_hits, long, n_cand)
    first = list(dict.fromkeys([i for i, _ in text_hits] + [i for i, _ in dense_hits]))
    if not first:
        return None
    structured = settings.context_weight > 0 or settings.session_weight > 0
    # (id, session, seq, time, importance, superseded_by) of the candidates and, when
    # conversation structure is on, of the other turns of their sessions (filters applied)
    rows = backend.light_rows(first, flt, whole_sessions=structured)
    if not rows:
        return None
    pool = _pool(backend, qv, text_hits, dense_hits, rows, flt.user)
    if long is not None:  # a long memory's dense score: its whole vector's or its passages'
        at = {i: j for j, i in enumerate(pool.ids)}
        for i, score in zip(long[0].ids, long[1].tolist()):
            j = at.get(i)
            if j is not None and score > pool.dense[j]:
                pool.dense[j] = score
    light = {r[0]: r for r in rows}
    keep = [j for j, i in enumerate(pool.ids) if i in light]
    ids = [pool.ids[j] for j in keep]
    n = len(ids)
    session = np.full(n, -1, dtype=np.int64)
    seq = np.zeros(n, dtype=np.int64)
    has_seq = np.zeros(n, dtype=bool)
    codes: dict[str, int] = {}
    for j, i in enumerate(ids):
        row = light[i]
        if row[1] is not None and row[2] is not None:
            session[j] = codes.setdefault(row[1], len(codes))
            seq[j] = row[2]
            has_seq[j] = True
    times = np.array([light[i][3] for i in ids], dtype=np.float64)
    importance = np.array([0.5 if light[i][4] is None else light[i][4] for i in ids],
                          dtype=np.float64)
    superseded = np.array([light[i][5] is not None for i in ids], dtype=bool)
    label = np.zeros(n)
    assistant = None
    held = None
    if len(rows[0]) > 6:
        rowid = np.array([light[i][6] for i in ids], dtype=np.int64)
        if len(labelled.rows):
            label = np.isin(rowid, labelled.rows).astype(np.float64)
        if len(labelled.assistant):
            assistant = np.isin(rowid, labelled.assistant).astype(np.float64)
        if settings.text_weight > 0 and words:
            held = _word_masks(backend.text_words(content, flt.user, rowid), n)
    return _candidates(backend, embedder, settings, content, flt, now, window, ids,
                       pool.text[keep], pool.dense[keep], session, seq, has_seq, times,
                       importance, superseded, label, None, qv, bool(text_hits),
                       bool(dense_hits), assistant=assistant, words=held)


def _grown_turns(view: ScopeView) -> Turns | None:
    """``Turns.of`` the view without a sort, from the turns of the view it was made from
    (``ScopeView.base``), where its new turns all sort after the old ones (a conversation
    appended at its end, or rows without a turn); None where not (the caller sorts)."""
    if view.base is None:
        return None
    n, memo = view.base
    old = memo.get("turns")
    if not isinstance(old, Turns):
        return None
    tail = np.flatnonzero((view.session[n:] >= 0) & view.has_seq[n:]) + n
    # session codes move up by the new sessions named before them (the same order): where
    # the last turn's code is the same, so are all of the old turns' codes
    same = not len(old.idx) or int(view.session[old.idx[-1]]) == int(old.sess[-1])
    if not len(tail):
        return old if same else Turns(old.idx, view.session, view.seq)
    if len(tail) > 1:
        tail = tail[np.lexsort((tail, view.seq[tail], view.session[tail]))]
    if len(old.idx):
        last = int(old.idx[-1])
        s0, sl = int(view.session[tail[0]]), int(view.session[last])
        if s0 < sl or (s0 == sl and int(view.seq[tail[0]]) < int(view.seq[last])):
            return None
    if not same:
        return Turns(np.concatenate([old.idx, tail]), view.session, view.seq)
    return old.extended(tail, view.session, view.seq)


def _passages(backend: Backend, settings: Settings, user: str, qv: np.ndarray | None
              ) -> tuple[ChunkSet, np.ndarray] | None:
    """The user's long memories (``ltm.retrieval.chunks``) and the cosine each one's best
    passage stands for (``lifted``); None where there is none (or the settings take none:
    ``chunk_min_chars`` 0)."""
    if qv is None or settings.chunk_min_chars <= 0:
        return None
    known = _CHUNKS.get(type(backend))
    if known is None:
        known = _CHUNKS[type(backend)] = isinstance(backend, ChunkReader)
    got = cast(ChunkReader, backend).chunk_set(user) if known else None
    if got is None:
        return None
    return got, lifted(got.best(qv), got.bg, got.bg_sd)


_CHUNKS: dict[type, bool] = {}  # backend class -> whether it is a ChunkReader


def _with_passages(hits: list[tuple[str, float]], long: tuple[ChunkSet, np.ndarray],
                   limit: int) -> list[tuple[str, float]]:
    """The dense retriever's ``hits`` and the long memories whose passages score above the
    last of them (all, while there are fewer than ``limit``), those without their score (NaN:
    the pool reads their whole vector's, then takes the better)."""
    floor = min(s for _, s in hits) if len(hits) >= limit else -math.inf
    have = {i for i, _ in hits}
    more = [(i, math.nan) for i, s in zip(long[0].ids, long[1].tolist())
            if s > floor and i not in have]
    return hits + more if more else hits


def _word_masks(got: Sequence[tuple[float, np.ndarray]], n: int
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """The ranker's ``RawPool.words`` and ``word_w`` of ``n`` rows from a backend's
    ``scope_words`` / ``text_words`` (each query word's weight and the positions of the rows
    holding it): bit b of a row's mask set where it holds the b-th word (at most 64 words:
    ``segment.QUERY_WORDS``; the narrowest unsigned type that holds them). None where the
    query has no word."""
    got = got[:64]
    if not got:
        return None
    kind = np.uint8 if len(got) <= 8 else np.uint16 if len(got) <= 16 \
        else np.uint32 if len(got) <= 32 else np.uint64
    masks = np.zeros(n, dtype=kind)
    for b, (_, pos) in enumerate(got):
        masks[pos] |= kind(1 << b)
    return masks, np.array([w for w, _ in got], dtype=np.float64)


# a query word that labels at least this share of the scope's memories names a speaker of
# the conversation rather than something in it: it counts as the "label" signal only, not as
# content for the full-text and dense signals
SPEAKER_SHARE = 0.1


# the word an assistant's turns carry in their labels (the speaker role "assistant"): such a
# memory gets the ranker's ``assistant`` column (see ``ranker.PRIOR_ONLY``)
ASSISTANT = "assistant"


@dataclass
class _Labels:
    rows: np.ndarray  # row ids of the memories a query word labels (one may repeat)
    speakers: list[str]  # query words that name a speaker (see SPEAKER_SHARE)
    assistant: np.ndarray  # row ids of the memories an assistant said (none when the query
    # names the assistant: its words are then what is asked for)


_NONE = np.zeros(0, dtype=np.int64)


def _labels(backend: Backend, settings: Settings, query: str, user: str, scope_size: int
            ) -> _Labels:
    """The user's memories whose labels (speaker, name, title, caption) hold a word of the
    query, which of those words name a speaker, and the memories an assistant said (one
    read: the query's words and ``ASSISTANT`` together)."""
    asked = bool(_ASKS_ASSISTANT.search(query))
    words = query if settings.text_weight > 0 else ""
    # (first: a backend reads at most the first ``segment.QUERY_WORDS`` words of a query)
    got = backend.label_rows(words if asked else f"{ASSISTANT} {words}", user,
                             only=() if asked else (ASSISTANT,))
    said = [r for w, r in got if w == ASSISTANT and not asked]
    if said:
        got = [(w, r) for w, r in got if w != ASSISTANT]
    assistant = np.concatenate(said) if said else _NONE
    if not got:
        return _Labels(_NONE, [], assistant)
    speakers = [w for w, r in got if len(r) >= SPEAKER_SHARE * max(scope_size, 1)]
    # the user's own name, in the user's own memories, tells none of them apart (their
    # memories without a speaker are theirs too): it is content for no signal
    rows = [r for w, r in got if w != user.lower()]
    return _Labels(np.concatenate(rows) if rows else _NONE, speakers, assistant)


# a query that names the assistant, or asks what it said ("what did you recommend", "your
# advice") or what both sides did ("what did we decide"), not a request to it ("can you tell
# me"): the assistant's turns may then be the evidence
_ASKS_ASSISTANT = re.compile(
    rf"\b(?:{ASSISTANT}|did you|did we|you (?:had )?(?:recommended|suggested|said|told|"
    r"mentioned|advised|explained|proposed|gave|shared|provided|showed)|we (?:discussed|"
    r"talked|said|decided|agreed|concluded))\b|\byour (?:recommendation|suggestion|advice|"
    r"explanation|answer|reply|response)s?\b", re.IGNORECASE)


def _content(query: str, names: Sequence[str]) -> str:
    """The query without the words that name a speaker (unchanged if nothing would remain):
    otherwise "where does alice live?" is closest to whatever alice said, since her turns
    are embedded as "alice: ..." and her name is in their full-text labels."""
    query = _POSSESSIVE.sub("", query)  # "Priya's" asks about Priya
    if not names:
        return query
    stripped = _names(tuple(names)).sub(" ", query)
    return " ".join(stripped.split()) if _WORD.search(stripped) else query


_POSSESSIVE = re.compile(r"(?<=\w)['\u2019]s\b")
_WORD = re.compile(r"\w")


@functools.lru_cache(maxsize=256)
def _names(names: tuple[str, ...]) -> re.Pattern[str]:
    """Any of ``names`` as a whole word, any case (a user's speakers: compiled once)."""
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in names) + r")\b", re.IGNORECASE)


def _query_vector(embedder: Embedder, text: str, given: np.ndarray | None) -> np.ndarray:
    # checked as a memory's vector is (``embedded``): a NaN query vector matched no memory by
    # its vector and the search answered from full text alone, saying nothing
    return given if given is not None else embedded(embedder, [text])[0]


def _candidates(backend: Backend, embedder: Embedder, settings: Settings, query: str,
                flt: Filters, now: int, window: TimeWindow | None, ids: Sequence[str],
                bm25: np.ndarray, cosine: np.ndarray, session: np.ndarray, seq: np.ndarray,
                has_seq: np.ndarray, times: np.ndarray, importance: np.ndarray,
                superseded: np.ndarray, label: np.ndarray, tie: np.ndarray | None,
                qv: np.ndarray | None, use_text: bool, use_dense: bool,
                turns: Turns | None = None, assistant: np.ndarray | None = None,
                words: tuple[np.ndarray, np.ndarray] | None = None) -> Candidates:
    """Calibrate the pool's signals (shared by both paths). ``words``: the query words each
    row holds and their weights (``_word_masks``)."""
    n = len(ids)
    text = np.zeros(n)
    if use_text:
        ceiling = backend.text_ceiling(query, flt.user)
        text = text_ratio(bm25, ceiling) if ceiling > 0 else \
            (bm25 > 0).astype(np.float64)
    dense = dense_z(cosine, dense_background(backend, embedder)) if use_dense else np.zeros(n)
    structured = settings.context_weight > 0 or settings.session_weight > 0
    if not structured:
        session = np.full(n, -1, dtype=np.int64)
    recency = np.zeros(n)
    half_life = settings.recency_half_life_days * US_PER_DAY
    if settings.recency_weight and half_life > 0:
        recency = 0.5 ** (np.maximum(0.0, now - times) / half_life)
    imp = importance - 0.5 if settings.importance_weight else np.zeros(n)
    sup = superseded if settings.superseded_penalty else np.zeros(n, dtype=bool)
    fit = np.zeros(n)
    timed = window is not None and settings.time_weight > 0
    if timed:
        assert window is not None
        # 1 inside, halving with every window width (halving) outside
        dist = np.maximum(window.start - times, 0) + np.maximum(times - (window.end - 1), 0)
        fit = 0.5 ** (dist / halving(window))
    raw = RawPool(text, dense, session, seq, has_seq, recency, imp, sup, fit, label, timed,
                  assistant, *(words if use_text and words is not None else (None, None)))
    only = None
    if not structured and not settings.recency_weight and not settings.importance_weight:
        # a single-signal baseline (``ltm bench``'s "BM25 alone", "dense alone"): its raw
        # score orders the hits, the model still gives their relevance
        only = "text" if use_text and not use_dense else "dense" if use_dense and not use_text \
            else None
    cosine = cosine if bool(np.isfinite(cosine).all()) else np.nan_to_num(cosine)
    return Candidates(ids, bm25, cosine, times, raw, tie, qv, only,
                      turns=turns if structured else None)


def rank(backend: Backend, settings: Settings, ranker: Ranker, cand: Candidates,
         flt: Filters, k: int, *, now: int, window: TimeWindow | None,
         min_relevance: float = 0.0) -> list[Hit]:
    """Relevance of every candidate, the head adjusted with what needs whole memories, the
    list's guarantees enforced, the best ``k`` at or above ``min_relevance``."""
    raw = cand.raw
    x1, x = ranker.stages(raw, cand.turns)
    logit = ranker.logit(x)
    # a query that asks for its time window alone: the window is its match (timefit)
    asked = window_gain(cand.query, window, ranker) if raw.window else 0.0
    if asked:
        logit += asked * (x[:, _FIT] >= 1.0)
    ids = cand.ids
    tie = cand.tie if cand.tie is not None else np.array(ids)
    key = logit if cand.only is None else cand.bm25 if cand.only == "text" else cand.cosine
    want = max(4 * k, 20) if settings.mmr_lambda > 0 else k
    # the optional second stage (a single-signal baseline keeps its own order)
    rr = rerank.for_settings(settings, backend.scope_count(flt.user)) \
        if settings.reranker != "none" and cand.only is None else None
    if rr is not None:
        want = max(want, settings.rerank_top)
    extra: dict[int, dict[str, float]] = {}
    memories: dict[str, Memory] = {}
    at = flt.as_of if flt.as_of is not None else now  # the moment the search is about
    if bool(raw.superseded.any()):
        lift_current(backend, flt.user, ids, x, logit, ranker, at, memories)
    if window is not None or decay_policies(settings):
        # facts' validity intervals, decay and archived originals (ltm.policies) need the
        # full memories: adjust the head of the ranking, where they can change the top
        ranked = _head(key, tie, time_head(want))
        order, extra, memories = time_and_retention(backend, flt.user, ids, logit, x, ranked,
                                                     want, now, window, settings, ranker, tie,
                                                     raw.text, asked)
        if cand.only is not None:  # (a single-signal baseline keeps its own order)
            order = ranked
    else:
        order = _head(key, tie, want)
    top = order[:want]
    if bool(raw.superseded[top].any()):
        # each superseded fact may drop under its successor and leave its place to the next
        # candidate: the head holds as many more as it holds superseded facts
        size = want
        while True:
            grown = want + int(raw.superseded[order[:size]].sum())
            if grown <= size or grown > len(key):
                break
            if len(order) < grown:
                order = _head(key, tie, grown)
            size = grown
        top = with_successors(backend, flt.user, ids, order[:size], memories)
    top_ids = [ids[j] for j in top]
    missing = [i for i in top_ids if i not in memories]
    if missing:
        memories.update(backend.get_many(missing, flt.user))
    # the head's numbers as Python floats, read once (the same values float() gives)
    head = np.column_stack([cand.bm25[top], cand.cosine[top], x1[top, 0],
                            x1[top, OWN.index("dense")], raw.label[top], x[top, :_STRUCTURE_END],
                            raw.recency[top], raw.importance[top]]).tolist()
    chosen: list[tuple[Memory, dict[str, float]]] = []
    fused: list[float] = []
    resort = False
    # (and the head's flags and logits, as Python values read once)
    superseded = raw.superseded[top].tolist()
    said = None if raw.assistant is None else raw.assistant[top].tolist()
    head_logit = logit[top].tolist()
    for r, j in enumerate(top.tolist()):
        mem = memories.get(top_ids[r])
        if mem is None:
            continue
        signals = dict(zip(_HEAD_SIGNALS, head[r]))
        if raw.window:
            signals["time_window"] = float(x[j, _FIT])
            # the time part of the logit: relevance without time is sigmoid(fused - time)
            signals["time"] = float(ranker.scale * (ranker.full_w[_FIT] * x[j, _FIT]
                                                    + ranker.full_w[_WINDOW] * x[j, _WINDOW])
                                    + (asked if x[j, _FIT] >= 1.0 else 0.0))
        if said is not None and said[r]:
            signals["assistant"] = ranker.assistant_weight  # its part of the logit
        if superseded[r]:
            # its part of the logit (none where ``lift_current`` took the penalty off)
            signals["superseded"] = ranker.superseded_weight if x[j, _SUP] else 0.0
        if extra:
            signals.update(extra.get(j, {}))
        value = head_logit[r]
        if settings.archived_penalty and mem.metadata.get(ARCHIVED) \
                and "archived" not in signals:
            # originals folded into a summary (ltm.policies.consolidate) rank below it
            signals["archived"] = -settings.archived_penalty
            logit[j] -= settings.archived_penalty
            value = float(logit[j])
            resort = True
        signals["fused"] = value
        fused.append(value)
        chosen.append((mem, signals))
    if rr is not None and chosen:
        rerank.apply(rr, cand.query, [Hit(m, 0.0, sig, 0.0) for m, sig in chosen], fused,
                     settings.context_min_relevance)
        resort = True
    rels = sigmoid(np.array(fused)).tolist()
    hits = [Hit(m, rel, sig, rel) for (m, sig), rel in zip(chosen, rels)]
    if resort:
        hits.sort(key=lambda h: -h.relevance)  # stable: ties keep the id order
    hits = successors_first(hits, at, window)
    if settings.mmr_lambda > 0 and cand.qv is not None and len(hits) > k:
        hits = _mmr(backend, hits, flt.user, k, settings.mmr_lambda)
    hits = hits[:k]
    if min_relevance > 0:
        hits = [h for h in hits if h.relevance >= min_relevance]
    for h in hits:
        h.signals["relevance"] = h.relevance
        h.signals["score"] = h.score
    return hits


def _head(key: np.ndarray, tie: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` positions of the ranking by ``key`` (highest first), ties by
    ``tie`` (``np.lexsort((tie, -key))[:count]``), without sorting the rest: the rows at or
    above the ``count``-th highest key, sorted."""
    neg = -key
    if 0 < count < len(neg):
        kth = np.partition(neg, count - 1)[count - 1]
        at = np.flatnonzero(neg <= kth)  # (every row tied with the count-th one too)
        return at[np.lexsort((tie[at], neg[at]))][:count]
    return np.lexsort((tie, neg))


class _Path(enum.Enum):
    GENERAL = "general"  # the scope fast path does not apply: take the general one


_SCOPE_READERS: dict[type, bool] = {}


def scope_reader(backend: Backend) -> ScopeReader | None:
    """``backend`` as a ``ScopeReader`` (the user-scope fast path) when its class is one,
    else None; the protocol is checked once per class, not per query."""
    cls = type(backend)
    known = _SCOPE_READERS.get(cls)
    if known is None:
        known = _SCOPE_READERS[cls] = isinstance(backend, ScopeReader)
    return cast(ScopeReader, backend) if known else None


_PINNING: dict[type, bool] = {}


def _pinning(backend: Backend) -> Pinning | None:
    """``backend`` as ``Pinning`` when its class is one (checked once per class)."""
    cls = type(backend)
    known = _PINNING.get(cls)
    if known is None:
        known = _PINNING[cls] = isinstance(backend, Pinning)
    return cast(Pinning, backend) if known else None


def _pool_scope(backend: Backend, reader: ScopeReader, embedder: Embedder, settings: Settings,
                query: str, flt: Filters, n_cand: int, *, now: int,
                query_vector: np.ndarray | None, window: TimeWindow | None,
                words: bool = True) -> Candidates | None | Literal[_Path.GENERAL]:
    """``pool_for`` for a filter on the user alone, over the user's scoring columns as arrays
    (``reader.scope_view``; ``reader`` is ``backend``): the same candidates and signals as the
    general path, with no SQL but the full-text postings and the final hydration.
    ``_Path.GENERAL`` where it does not apply (a scope served by HNSW)."""
    view = reader.scope_view(flt.user)
    if view is None:
        return _Path.GENERAL
    m = len(view)
    if m == 0:
        return None
    qv = None
    dense_all = np.full(m, np.nan)
    use_dense = settings.dense_weight > 0
    labelled = _labels(backend, settings, query, flt.user, m)
    content = _content(query, labelled.speakers)
    if use_dense:
        qv = _query_vector(embedder, content, query_vector)
        got = reader.scope_dense(qv, view)
        if got is None:
            return _Path.GENERAL
        dense_all = got
        long = _passages(backend, settings, flt.user, qv)
        if long is not None:  # a long memory's dense score: its whole vector's or its passages'
            # (where the long memories sit in the view: the same while both are)
            held = view.memo.get("passages")
            if held is None or held[0] is not long[0]:
                at = view.positions(long[0].rowids)
                held = view.memo["passages"] = (long[0], at[at >= 0], at >= 0)
            _, at, ok = held
            dense_all[at] = np.fmax(dense_all[at], long[1][ok])
    live = view.live(flt.now)
    has_vec = ~np.isnan(dense_all)
    masks = [(live, n_cand)]
    in_win = None
    if window is not None and settings.time_weight > 0:
        since, until = window.start, window.end - 1
        if since <= until:
            in_win = live & (view.time >= since) & (view.time <= until)
            masks.append((in_win, max(20, n_cand // 4)))
    texts = reader.scope_text(content, view, masks) if settings.text_weight > 0 else []
    # the query words each row holds (after scope_text: from the postings it read)
    held = _word_masks(reader.scope_words(content, view), m) \
        if settings.text_weight > 0 and words else None
    text = np.zeros(m)
    is_text = np.zeros(m, dtype=bool)
    for pos, sc in reversed(texts):  # the main query's scores win over the window's
        text[pos] = sc
        is_text[pos] = True
    first = is_text.copy()
    is_dense = np.zeros(m, dtype=bool)
    if use_dense:
        # the dense retriever applies no expiry (rows are dropped below, sessions kept)
        cand = np.flatnonzero(has_vec)
        if len(cand) > n_cand:
            cand = cand[np.argpartition(-dense_all[cand], n_cand)[:n_cand]]
        is_dense[cand] = True
        if in_win is not None:
            wc = np.flatnonzero(in_win & has_vec)
            limit = max(20, n_cand // 4)
            if len(wc) > limit:
                wc = wc[np.argpartition(-dense_all[wc], limit)[:limit]]
            is_dense[wc] = True
        first |= is_dense
    if not first.any():
        return None
    structured = settings.context_weight > 0 or settings.session_weight > 0
    in_pool = first
    if structured and not first.all():  # (every row a candidate: no session to add)
        # whole sessions of the first candidates: a lookup by session code (-1: none -> 0)
        hit = np.zeros(int(view.session.max()) + 2, dtype=bool)
        hit[view.session[first] + 1] = True
        hit[0] = False
        in_pool = first | hit[view.session + 1]
    p = np.flatnonzero(in_pool & live)  # pool: positions in the view
    if len(p) == 0:
        return None
    whole = len(p) == m  # the whole scope (a conversation's turns): no row to pick

    def pick(a: np.ndarray) -> np.ndarray:
        return a if whole else a[p]

    pdense = pick(dense_all) if use_dense else np.zeros(len(p))
    session = pick(view.session).astype(np.int64)
    turns = None
    if structured:
        # where each turn sits in its conversation: the view's, kept with it (a view never
        # changes: a write gives a new one), or that of the pool's rows of it
        turns = view.memo.get("turns")
        if turns is None:
            turns = view.memo["turns"] = _grown_turns(view) or Turns.of(
                view.session, view.seq, view.has_seq)
        if not whole:
            turns = turns.within(p, m, session, view.seq[p])
    def marked(rows: np.ndarray) -> np.ndarray:
        """1.0 at the pool's rows among ``rows`` (row ids)."""
        at = view.positions(rows)
        here = np.zeros(m, dtype=bool)
        here[at[at >= 0]] = True
        return pick(here).astype(np.float64)

    label = marked(labelled.rows) if len(labelled.rows) else np.zeros(len(p))
    assistant = marked(labelled.assistant) if len(labelled.assistant) else None
    return _candidates(backend, embedder, settings, content, flt, now, window,
                       view.ids if whole else _Picked(view.ids, p), pick(text), pdense,
                       session, pick(view.seq),
                       pick(view.has_seq), pick(view.time), pick(view.importance),
                       pick(view.superseded), label, pick(view.id_rank), qv,
                       bool(is_text.any()), bool(is_dense.any()), turns, assistant,
                       None if held is None else (pick(held[0]), held[1]))


class _Picked(Sequence[str]):
    """``[items[j] for j in index]``, evaluated only where read."""

    def __init__(self, items: list[str], index: np.ndarray) -> None:
        self._items, self._index = items, index

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, j: Any) -> Any:
        if isinstance(j, slice):
            return [self._items[i] for i in self._index[j]]
        return self._items[int(self._index[j])]


def _mmr(backend: Backend, hits: list[Hit], user: str, k: int, lam: float) -> list[Hit]:
    """Maximal marginal relevance: trade score against similarity to what is already chosen."""
    pool = hits[: max(4 * k, 20)]
    vecs = backend.vectors([h.memory.id for h in pool], user)
    mat = np.stack([vecs.get(h.memory.id, np.zeros(1)) for h in pool]) if vecs else None
    if mat is None or mat.ndim != 2:
        return hits
    rel = np.array([h.relevance for h in pool])
    chosen: list[int] = []
    left = list(range(len(pool)))
    while left and len(chosen) < k:
        if chosen:
            sim = (mat[left] @ mat[chosen].T).max(axis=1)
        else:
            sim = np.zeros(len(left))
        best = left[int(np.argmax((1 - lam) * rel[left] - lam * sim))]
        chosen.append(best)
        left.remove(best)
    return [pool[i] for i in chosen]
