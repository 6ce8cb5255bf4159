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

import dataclasses
import enum
import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from ..backends.base import Backend, Filters, KindReader, ScopeReader
from ..config import Settings
from ..embed import Embedder
from ..model import Hit, Memory
from ..timeparse import TimeWindow, parse_time_window
from ..timeutil import to_us
from . import rerank
from .calibrate import dense_background, dense_z, text_ratio
from .ranker import FULL, OWN, Ranker, RawPool, Turns, shipped, sigmoid

_US_PER_DAY = 86_400 * 1_000_000
_OPEN_MIN = 7 * _US_PER_DAY  # an open window's time fit halves no faster than weekly
_STRUCTURE_END = FULL.index("recency")  # "own" and the conversation-structure columns
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
    pool = pool_for(backend, embedder, settings, query, flt, k, now=now,
                    query_vector=query_vector, window=window)
    if pool is None:
        return []
    pool.query = query
    return rank(backend, settings, ranker or shipped(), pool, flt, k, now=now, window=window,
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
             window: TimeWindow | None = None) -> Candidates | None:
    """The candidate pool of a query and its calibrated signals (None: no candidate). The
    scope fast path and the general path compute the same pool and the same signals."""
    n_cand = max(settings.candidates, 3 * k)
    reader = scope_reader(backend)
    if reader is not None and flt.only_user and settings.mmr_lambda <= 0:
        fast = _pool_scope(backend, reader, embedder, settings, query, flt, n_cand, now=now,
                           query_vector=query_vector, window=window)
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
        text_hits, dense_hits = _window_candidates(backend, settings, content, qv, flt, window,
                                                   n_cand, text_hits, dense_hits)
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
    if len(labelled.rows) and len(rows[0]) > 6:
        rowid = np.array([light[i][6] for i in ids], dtype=np.int64)
        label = np.isin(rowid, labelled.rows).astype(np.float64)
    return _candidates(backend, embedder, settings, content, flt, now, window, ids,
                       pool.text[keep], pool.dense[keep], session, seq, has_seq, times,
                       importance, superseded, label, None, qv, bool(text_hits),
                       bool(dense_hits))


# a query word that labels at least this share of the scope's memories names a speaker of
# the conversation rather than something in it: it counts as the "label" signal only, not as
# content for the full-text and dense signals
SPEAKER_SHARE = 0.1


@dataclass
class _Labels:
    rows: np.ndarray  # row ids of the memories a query word labels (one may repeat)
    speakers: list[str]  # query words that name a speaker (see SPEAKER_SHARE)


def _labels(backend: Backend, settings: Settings, query: str, user: str, scope_size: int
            ) -> _Labels:
    """The user's memories whose labels (speaker, name, title, caption) hold a word of the
    query, and which of those words name a speaker."""
    if settings.text_weight <= 0:
        return _Labels(np.zeros(0, dtype=np.int64), [])
    got = backend.label_rows(query, user)
    if not got:
        return _Labels(np.zeros(0, dtype=np.int64), [])
    speakers = [w for w, r in got if len(r) >= SPEAKER_SHARE * max(scope_size, 1)]
    # the user's own name, in the user's own memories, tells none of them apart (their
    # memories without a speaker are theirs too): it is content for no signal
    rows = [r for w, r in got if w != user.lower()]
    return _Labels(np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64), speakers)


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
    return given if given is not None else np.asarray(embedder.embed([text])[0])


def _candidates(backend: Backend, embedder: Embedder, settings: Settings, query: str,
                flt: Filters, now: int, window: TimeWindow | None, ids: Sequence[str],
                bm25: np.ndarray, cosine: np.ndarray, session: np.ndarray, seq: np.ndarray,
                has_seq: np.ndarray, times: np.ndarray, importance: np.ndarray,
                superseded: np.ndarray, label: np.ndarray, tie: np.ndarray | None,
                qv: np.ndarray | None, use_text: bool, use_dense: bool,
                turns: Turns | None = None) -> Candidates:
    """Calibrate the pool's signals (shared by both paths)."""
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
    half_life = settings.recency_half_life_days * _US_PER_DAY
    if settings.recency_weight and half_life > 0:
        recency = 0.5 ** (np.maximum(0.0, now - times) / half_life)
    imp = importance - 0.5 if settings.importance_weight else np.zeros(n)
    sup = superseded if settings.superseded_penalty else np.zeros(n, dtype=bool)
    fit = np.zeros(n)
    timed = window is not None and settings.time_weight > 0
    if timed:
        assert window is not None
        # 1 inside, halving with every window width (_halving) outside
        dist = np.maximum(window.start - times, 0) + np.maximum(times - (window.end - 1), 0)
        fit = 0.5 ** (dist / _halving(window))
    raw = RawPool(text, dense, session, seq, has_seq, recency, imp, sup, fit, label, timed)
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
    logit, _ = ranker.logits(x)
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
        _lift_current(backend, flt.user, ids, x, logit, ranker, at, memories)
    if window is not None or _decay_policies(settings):
        # facts' validity intervals, decay and archived originals (ltm.policies) need the
        # full memories: adjust the head of the ranking, where they can change the top
        order = _head(key, tie, _time_head(want))
        order, extra, memories = _time_and_retention(backend, flt.user, ids, logit, x, order,
                                                     want, now, window, settings, ranker, tie,
                                                     raw.text)
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
        top = _with_successors(backend, flt.user, ids, order[:size], memories)
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
    for r, j in enumerate(top):
        mem = memories.get(top_ids[r])
        if mem is None:
            continue
        signals = dict(zip(_HEAD_SIGNALS, head[r]))
        if raw.window:
            signals["time_window"] = float(x[j, _FIT])
            # the time part of the logit: relevance without time is sigmoid(fused - time)
            signals["time"] = float(ranker.scale * (ranker.full_w[_FIT] * x[j, _FIT]
                                                    + ranker.full_w[_WINDOW] * x[j, _WINDOW]))
        if raw.superseded[j]:
            # its part of the logit (none where ``_lift_current`` took the penalty off)
            signals["superseded"] = ranker.superseded_weight if x[j, _SUP] else 0.0
        signals.update(extra.get(int(j), {}))
        if settings.archived_penalty and mem.metadata.get("ltm_archived") \
                and "archived" not in signals:
            # originals folded into a summary (ltm.policies.consolidate) rank below it
            signals["archived"] = -settings.archived_penalty
            logit[j] -= settings.archived_penalty
            resort = True
        signals["fused"] = float(logit[j])
        fused.append(signals["fused"])
        chosen.append((mem, signals))
    if rr is not None and chosen:
        rerank.apply(rr, cand.query, [Hit(m, 0.0, sig, 0.0) for m, sig in chosen], fused)
        resort = True
    rels = sigmoid(np.array(fused)).tolist()
    hits = [Hit(m, rel, sig, rel) for (m, sig), rel in zip(chosen, rels)]
    if resort:
        hits.sort(key=lambda h: -h.relevance)  # stable: ties keep the id order
    hits = _successors_first(hits, at, window)
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


def _lift_current(backend: Backend, user: str, ids: Sequence[str], x: np.ndarray,
                  logit: np.ndarray, ranker: Ranker, at: int,
                  memories: dict[str, Memory]) -> None:
    """Take the superseded penalty off the candidates whose successor holds only from after
    ``at`` (the moment the search is about: ``as_of``, else now): until then each is still
    the current fact. Done on the whole pool before the head is chosen (so a small ``k`` is
    the start of a larger one's list), in ``logit`` and in the feature column (so that
    nothing takes it off twice). ``memories`` receives the memories read."""
    sup = np.flatnonzero(x[:, _SUP] != 0)
    if not len(sup):
        return
    got = backend.get_many([ids[int(j)] for j in sup], user)
    memories.update(got)
    for j in sup:
        m = got.get(ids[int(j)])
        if m is not None and m.valid_to is not None and to_us(m.valid_to) > at:
            _drop_superseded_penalty(logit, x, int(j), ranker)


def _drop_superseded_penalty(logit: np.ndarray, x: np.ndarray, j: int, ranker: Ranker) -> None:
    """Candidate ``j`` carries no superseded penalty (it is still true when the search is
    about): off its logit, and off its feature column, which tells the hit's ``superseded``
    signal and keeps anything from taking it off twice."""
    logit[j] -= ranker.superseded_weight * x[j, _SUP]
    x[j, _SUP] = 0.0


def _with_successors(backend: Backend, user: str, ids: Sequence[str], top: np.ndarray,
                     memories: dict[str, Memory]) -> np.ndarray:
    """``top`` (candidate positions, best first) with the successors of its superseded facts
    that are candidates too, and theirs, appended: the supersession guarantee
    (``_successors_first``) then holds on the list whatever ``k`` cuts it to, instead of the
    outdated fact standing alone when its successor ranked just below the cut. ``memories``
    receives the memories read."""
    place: dict[str, int] | None = None
    out = [int(j) for j in top]
    seen = set(out)
    done = 0  # ``out[:done]``: looked at already
    while done < len(out):
        todo = [ids[j] for j in out[done:] if ids[j] not in memories]
        if todo:
            memories.update(backend.get_many(todo, user))
        nxt_round = []
        for j in out[done:]:
            m = memories.get(ids[j])
            if m is None or m.superseded_by is None:
                continue
            if place is None:
                place = {i: n for n, i in enumerate(ids)}
            s = place.get(m.superseded_by)
            if s is not None and s not in seen:
                seen.add(s)
                nxt_round.append(s)
        done = len(out)
        out += nxt_round
    return np.array(out, dtype=np.int64)


def _successors_first(hits: list[Hit], at: int, window: TimeWindow | None) -> list[Hit]:
    """The supersession guarantee on one result list: a superseded fact ranks right below its
    successor when it would rank above it, unless the moment the search is about (``at``: its
    ``as_of``, else now), or the end of its time window, falls before the successor became
    valid (the older fact is then the answer).
    A successor inside the query's time window is raised to the older fact's relevance (it
    holds in the window too, and capping the older fact would put both under memories
    outside the window whose relevance without time is lower: the window guarantee);
    otherwise the older fact's relevance is capped at its successor's."""
    pos = {h.memory.id: n for n, h in enumerate(hits)}
    if not any(h.memory.superseded_by in pos for h in hits):
        return hits

    def exempt(succ: Memory) -> bool:
        start = to_us(succ.valid_from if succ.valid_from is not None else succ.time)
        if at < start:
            return True
        return window is not None and window.end <= start

    if window is not None:  # successors inside the window take their predecessors' relevance
        hits = list(hits)
        for _ in range(len(hits)):  # a chain raises one link a pass
            raised = False
            for h in hits:
                nxt = h.memory.superseded_by
                if nxt not in pos:
                    continue
                s = hits[pos[nxt]]
                if s.relevance < h.relevance and s.signals.get("time_window", 0.0) >= 1.0 \
                        and not exempt(s.memory):
                    hits[pos[nxt]] = Hit(s.memory, h.relevance,
                                         dict(s.signals, raised_to_predecessor=1.0),
                                         h.relevance)
                    raised = True
            if not raised:
                break

    cap: dict[str, float] = {}
    depth: dict[str, int] = {}

    def settle(h: Hit, seen: frozenset[str]) -> tuple[float, int]:
        mid = h.memory.id
        if mid in cap:
            return cap[mid], depth[mid]
        rel, d = h.relevance, 0
        nxt = h.memory.superseded_by
        if nxt in pos and nxt not in seen and not exempt(hits[pos[nxt]].memory):
            s_rel, s_d = settle(hits[pos[nxt]], seen | {mid})
            if s_rel <= rel:
                rel, d = s_rel, s_d + 1
        cap[mid], depth[mid] = rel, d
        return rel, d

    for h in hits:
        settle(h, frozenset())
    out = []
    for h in hits:
        rel = cap[h.memory.id]
        if rel != h.relevance:
            sig = dict(h.signals, below_successor=1.0)
            h = Hit(h.memory, rel, sig, rel)
        out.append(h)
    out.sort(key=lambda h: (-h.relevance, depth[h.memory.id], pos[h.memory.id]))
    return out


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


def _pool_scope(backend: Backend, reader: ScopeReader, embedder: Embedder, settings: Settings,
                query: str, flt: Filters, n_cand: int, *, now: int,
                query_vector: np.ndarray | None, window: TimeWindow | None
                ) -> Candidates | None | Literal[_Path.GENERAL]:
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
            turns = view.memo["turns"] = Turns.of(view.session, view.seq, view.has_seq)
        if not whole:
            turns = turns.within(p, m, session, view.seq[p])
    label = np.zeros(len(p))
    if len(labelled.rows):
        at = view.positions(labelled.rows)
        labelled_here = np.zeros(m, dtype=bool)
        labelled_here[at[at >= 0]] = True
        label = pick(labelled_here).astype(np.float64)
    return _candidates(backend, embedder, settings, content, flt, now, window,
                       view.ids if whole else _Picked(view.ids, p), pick(text), pdense,
                       session, pick(view.seq),
                       pick(view.has_seq), pick(view.time), pick(view.importance),
                       pick(view.superseded), label, pick(view.id_rank), qv,
                       bool(is_text.any()), bool(is_dense.any()), turns)


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


def _window_candidates(backend: Backend, settings: Settings, query: str, qv: np.ndarray | None,
                       flt: Filters, window: TimeWindow, n_cand: int,
                       text_hits: list[tuple[str, float]], dense_hits: list[tuple[str, float]]
                       ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Add the best candidates from inside the query's time window, which a narrow window's
    memories may need to enter the pool at all."""
    since = window.start if flt.since is None else max(flt.since, window.start)
    until = window.end - 1 if flt.until is None else min(flt.until, window.end - 1)
    if since > until:
        return text_hits, dense_hits
    wflt = dataclasses.replace(flt, since=since, until=until)
    limit = max(20, n_cand // 4)
    if settings.text_weight > 0:
        seen = {i for i, _ in text_hits}
        text_hits = text_hits + [h for h in backend.text_search(query, wflt, limit)
                                 if h[0] not in seen]
    if qv is not None:
        seen = {i for i, _ in dense_hits}
        dense_hits = dense_hits + [h for h in backend.dense_search(qv, wflt, limit)
                                   if h[0] not in seen]
    return text_hits, dense_hits


def _closeness(window: TimeWindow, mem: Memory) -> float:
    """1 when the memory's time (a fact's or summary's validity interval) meets the window,
    halving with every window width (at least a day) it lies outside."""
    t = to_us(mem.time)
    if mem.kind == "episode":
        dist = window.distance(t)
    else:
        start = to_us(mem.valid_from) if mem.valid_from is not None else t
        end = to_us(mem.valid_to) if mem.valid_to is not None else max(start, t) + 1
        dist = 0 if start < window.end and end > window.start else \
            min(window.distance(start), window.distance(end - 1))
    if dist == 0:
        return 1.0
    return float(0.5 ** (dist / _halving(window)))


def _names_time_in(window: TimeWindow, mem: Memory) -> bool:
    """Whether the memory's own text names a date (read as of the memory's time) that meets
    ``window``: it is evidence about that time, whenever it was recorded. Only for a phrase
    with a number ("2023-05-08", "May 2019"), and read only where the text holds each of
    its numbers and one of its naming words (``_phrase_marks``): parsing every candidate's
    text would cost more than the rest of a search."""
    numbers, words = _phrase_marks(window.phrase)
    if not numbers:
        return False
    low = mem.text[:_NAMED_SCAN].lower()
    if not all(n.search(low) for n in numbers) or (words and not any(w in low for w in words)):
        return False
    # read around the first few places its first number is named (a long text costs no more)
    for n, m in enumerate(numbers[0].finditer(low)):
        if n == _NAMED_READS:
            break
        named = _named_span(low[max(0, m.start() - 60):m.end() + 60], to_us(mem.time))
        if named is not None and named[0] < window.end and named[1] > window.start:
            return True
    return False


@functools.lru_cache(maxsize=4_096)
def _named_span(snippet: str, at: int) -> tuple[int, int] | None:
    """The span a snippet of a memory's text names, read as of ``at`` (the memory's time):
    kept, since a user's searches meet the same memories and a reading costs ~0.3 ms."""
    named = parse_time_window(snippet, at)
    return None if named is None else (named.start, named.end)


_NAMED_READS = 3  # places in a memory's text read for a date (``_names_time_in``)
_NAMED_MAX = 12  # memories of a search whose text may be read for a date
# the time fit of a memory recorded outside the window whose text names a date inside it:
# about that time, but weaker evidence of it than being recorded then (at 1.0, BEAM's
# abstention questions, which name the date of an event whose detail was never given, rose
# with their topic's messages: AUROC 0.657 -> 0.631; at 0.5 the bench gave 0.654)
_NAMED_FIT = 0.5
_NAMED_SCAN = 4_000  # characters of a memory's text searched for the phrase's numbers


_MARK = re.compile(r"\d+|[^\W\d_]{3,}")
_NOT_MARKS = frozenset(("the", "and", "last", "this", "next", "past", "previous", "before",
                        "after", "since", "until", "till", "from", "between", "during", "ago",
                        "early", "late", "end", "start", "beginning", "first", "second",
                        "third", "fourth", "fifth", "couple", "few", "several", "one", "two",
                        "three", "four", "five", "six", "seven", "eight", "nine", "ten"))


@functools.lru_cache(maxsize=256)
def _phrase_marks(phrase: str) -> tuple[tuple[re.Pattern[str], ...], tuple[str, ...]]:
    """The numbers (each as a pattern for the whole number) and the naming words (not "last",
    "before", ...) of a time phrase: a text naming the same date holds every number and one
    of the words."""
    found = _MARK.findall(phrase.lower())
    return (tuple(re.compile(rf"(?<!\d)0*{int(m)}(?!\d)")
                  for m in dict.fromkeys(found) if m.isdigit()),
            tuple(m for m in dict.fromkeys(found) if not m.isdigit() and m not in _NOT_MARKS))


def _halving(window: TimeWindow) -> int:
    """How far outside ``window`` (microseconds) the time fit halves: the window's width, at
    least a day. An open window ("before 2020", "since last week") halves by the span its
    phrase names (not the centuries back to year 1, which made every memory fit), at least a
    week: "the week before August 3" is told on August 3, just outside its window."""
    if window.scale:
        return max(window.scale, _OPEN_MIN)
    return max(window.end - window.start, _US_PER_DAY)


def _decay_policies(settings: Settings) -> dict[str, float]:
    """Half-life in days of each kind that decays (see ``ltm.policies.retention``)."""
    if not settings.decay_weight or not settings.retention:
        return {}
    from ..retention_rules import policies
    return {k: p.decay_half_life_days for k, p in policies(settings.retention).items()
            if p.decay_half_life_days}


def _time_head(want: int) -> int:
    """How many of the best candidates ``_time_and_retention`` adjusts."""
    return max(3 * want, 50)


def _time_and_retention(backend: Backend, user: str, ids: Sequence[str], logit: np.ndarray,
                        x: np.ndarray, order: np.ndarray, want: int, now: int,
                        window: TimeWindow | None, settings: Settings, ranker: Ranker,
                        tie: np.ndarray, text: np.ndarray
                        ) -> tuple[np.ndarray, dict[int, dict[str, float]], dict[str, Memory]]:
    """Adjust ``logit`` (in place) over the head of the ranking (3x ``want``, at least 50):
    a fact's or summary's time fit follows its validity interval (and a superseded fact
    valid in the window loses its penalty); a memory outside the window whose words match
    the query's (``text`` > 0) and whose own text names a time inside it ("the 2023-05-08
    report", "last week" told the week after) fits it; decay with disuse and archived
    originals are penalties. Returns the new order, extra signals and the head's memories."""
    extra: dict[int, dict[str, float]] = {}
    decay = _decay_policies(settings)
    head = order[:_time_head(want)]
    head_ids = [ids[j] for j in head]
    timed = window is not None and bool(settings.time_weight)
    told: set[str] = set()
    if timed and window is not None and _phrase_marks(window.phrase)[0]:
        # fitting the window less than a named date would, sharing words with the query, and
        # able to reach the best ``want`` if its text named the asked time (the _NAMED_MAX
        # that could rise highest: the same ones whatever ``k``, as far as a smaller k reaches)
        bar = logit[head[min(want, len(head)) - 1]] if len(head) else 0.0
        gain = ranker.time_fit_weight * (_NAMED_FIT - x[head, _FIT])
        could = logit[head] + gain
        able = np.flatnonzero((gain > 0) & (text[head] > 0) & (could >= bar))
        able = able[np.argsort(-could[able], kind="stable")][:_NAMED_MAX]
        told = {ids[j] for j in head[able]}
    # (asked per call, not per class: a wrapper may forward it for one backend, not another)
    kinds = backend if isinstance(backend, KindReader) else None
    if kinds is not None:
        # read whole only what an adjustment below can apply to (the rest keep their logit)
        head_ids = [i for i, (kind, archived) in
                    kinds.kinds(head_ids, user, "ltm_archived").items()
                    if (timed and (kind != "episode" or i in told)) or decay.get(kind)
                    or (archived and settings.archived_penalty)]
    mems = backend.get_many(head_ids, user) if head_ids else {}
    w_fit = ranker.time_fit_weight
    for j in head:
        mem = mems.get(ids[j])
        if mem is None:
            continue
        sig: dict[str, float] = {}
        if window is not None and timed and (mem.kind != "episode" or mem.id in told):
            fit = _closeness(window, mem) if mem.kind != "episode" else float(x[j, _FIT])
            if fit < _NAMED_FIT and mem.id in told and _names_time_in(window, mem):
                fit = _NAMED_FIT
            logit[j] += w_fit * (fit - x[j, _FIT])
            x[j, _FIT] = fit
            sig["time_window"] = fit
            if mem.superseded_by is not None and fit >= 1.0 and x[j, _SUP]:
                # it was still true in the window the query asks about: no penalty
                _drop_superseded_penalty(logit, x, int(j), ranker)
        if decay.get(mem.kind) and settings.decay_weight:
            from ..retention_rules import strength
            d = -settings.decay_weight * (1.0 - strength(mem, now, decay[mem.kind]))
            sig["decay"] = d
            logit[j] += d
        if settings.archived_penalty and mem.metadata.get("ltm_archived"):
            sig["archived"] = -settings.archived_penalty
            logit[j] -= settings.archived_penalty
        if sig:
            extra[int(j)] = sig
    return np.lexsort((tie, -logit)), extra, mems


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
