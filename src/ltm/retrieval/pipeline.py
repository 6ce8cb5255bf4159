"""Hybrid retrieval: candidates -> normalised fusion -> session context -> time/importance -> MMR.

Each retriever (full-text BM25, dense vectors) proposes candidates. Their scores live on
different scales, so each signal is z-normalised over the candidate pool before the weighted
sum. Conversation turns rarely stand alone ("Yes, last May!" answers the turn before it), so an
episode then borrows relevance from its best neighbour in the same session. Recency and
importance add small, bounded bonuses; superseded facts are pushed below their successors.
Every hit keeps the per-signal numbers that made its score.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backends.base import Backend, Filters
from ..config import Settings
from ..embed import Embedder
from ..model import Hit, Memory
from ..timeparse import TimeWindow
from ..timeutil import to_us

_US_PER_DAY = 86_400 * 1_000_000


@dataclass
class _Pool:
    ids: list[str]
    text: np.ndarray
    dense: np.ndarray


def _zscore(x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return x
    std = float(x.std())
    if std < 1e-9:
        return np.zeros_like(x)
    return (x - float(x.mean())) / std


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
        scores_at = getattr(backend, "scores_at", None)
        key = {r[0]: r[6] for r in rows} if rows and len(rows[0]) > 6 else {}
        if scores_at is not None and all(ids[j] in key for j in gap):
            # the light rows carry their row ids: score the gap without looking ids up
            dense[gap] = scores_at(np.fromiter((key[ids[j]] for j in gap), np.int64,
                                               count=len(gap)), qv, user)
        else:
            vecs = backend.vectors([ids[j] for j in gap], user)
            for j in gap:
                v = vecs.get(ids[j])
                dense[j] = 0.0 if v is None else float(v @ qv)
    return _Pool(ids, text, np.nan_to_num(dense))


def search(backend: Backend, embedder: Embedder, settings: Settings, query: str,
           flt: Filters, k: int, *, now: int, query_vector: np.ndarray | None = None,
           window: TimeWindow | None = None) -> list[Hit]:
    """``window`` (from ``ltm.timeparse``: ``start``/``end`` in microseconds, half-open) adds
    the bounded "time_window" bonus to memories whose own time falls inside it."""
    n_cand = max(settings.candidates, 3 * k)
    if flt.only_user and settings.mmr_lambda <= 0 and hasattr(backend, "scope_view"):
        fast = _search_scope(backend, embedder, settings, query, flt, k, n_cand, now=now,
                             query_vector=query_vector, window=window)
        if fast is not None:
            return fast
    scope_count = getattr(backend, "scope_count", None)
    if scope_count is not None and scope_count(flt.user) >= settings.hnsw_min_scope:
        n_cand = max(min(settings.candidates, settings.large_scope_candidates), 3 * k)
    text_hits = backend.text_search(query, flt, n_cand) if settings.text_weight > 0 else []
    qv = None
    dense_hits: list[tuple[str, float]] = []
    if settings.dense_weight > 0 or settings.mmr_lambda > 0:
        qv = query_vector if query_vector is not None else embedder.embed([query])[0]
        dense_hits = backend.dense_search(qv, flt, n_cand)
    if window is not None and settings.time_weight > 0:
        text_hits, dense_hits = _window_candidates(backend, settings, query, qv, flt, window,
                                                   n_cand, text_hits, dense_hits)
    first = list(dict.fromkeys([i for i, _ in text_hits] + [i for i, _ in dense_hits]))
    if not first:
        return []
    structured = settings.context_weight > 0 or settings.session_weight > 0
    # (id, session, seq, time, importance, superseded_by) of the candidates and, when
    # conversation structure is on, of the other turns of their sessions (filters applied)
    rows = backend.light_rows(first, flt, whole_sessions=structured)
    if not rows:
        return []
    pool = _pool(backend, qv, text_hits, dense_hits, rows, flt.user)
    light = {r[0]: r for r in rows}
    keep = [j for j, i in enumerate(pool.ids) if i in light]
    pool = _Pool([pool.ids[j] for j in keep], pool.text[keep], pool.dense[keep])
    z_text = _zscore(pool.text) if text_hits else np.zeros(len(pool.ids))
    z_dense = _zscore(pool.dense) if dense_hits else np.zeros(len(pool.ids))
    fused = settings.text_weight * z_text + settings.dense_weight * z_dense
    context = np.zeros(len(pool.ids))
    if structured:
        context = _structure(pool.ids, light, fused, settings)
    scores = fused + context
    half_life = settings.recency_half_life_days * _US_PER_DAY
    times = np.array([light[i][3] for i in pool.ids], dtype=np.float64)
    recency = np.zeros(len(pool.ids))
    if settings.recency_weight and half_life > 0:
        recency = settings.recency_weight * 0.5 ** (np.maximum(0.0, now - times) / half_life)
    importance = np.zeros(len(pool.ids))
    if settings.importance_weight:
        imp = np.array([0.5 if light[i][4] is None else light[i][4] for i in pool.ids])
        importance = settings.importance_weight * (imp - 0.5)
    superseded = np.array([light[i][5] is not None for i in pool.ids], dtype=bool)
    penalty = settings.superseded_penalty * superseded
    in_window = np.zeros(len(pool.ids))
    if window is not None and settings.time_weight:
        # 1 inside, halving with every window width (at least a day) outside
        dist = np.maximum(window.start - times, 0) + np.maximum(times - (window.end - 1), 0)
        width = max(window.end - window.start, _US_PER_DAY)
        in_window = settings.time_weight * 0.5 ** (dist / width)
    total = scores + recency + importance + in_window - penalty
    order = np.lexsort((np.array(pool.ids), -total))  # best first, ties by id
    want = max(4 * k, 20) if settings.mmr_lambda > 0 else k
    top = order[:want]
    extra: dict[int, dict[str, float]] = {}
    if window is not None or _decay_policies(settings):
        # facts' validity intervals, decay and archived originals (ltm.policies) need the
        # full memories: adjust the head of the ranking, where they can change the top
        top, extra = _time_and_retention(backend, flt.user, pool.ids, total, in_window, order,
                                         want, now, window, settings)
    memories = backend.get_many([pool.ids[j] for j in top], flt.user)
    hits: list[Hit] = []
    for j in top:
        mem = memories.get(pool.ids[j])
        if mem is None:
            continue
        signals = {"text": float(pool.text[j]), "dense": float(pool.dense[j]),
                   "text_z": float(z_text[j]), "dense_z": float(z_dense[j]),
                   "fused": float(fused[j]), "context": float(context[j]),
                   "recency": float(recency[j]), "importance": float(importance[j])}
        if window is not None:
            signals["time_window"] = float(in_window[j])
        if superseded[j]:
            signals["superseded"] = -float(penalty[j])
        signals.update(extra.get(int(j), {}))
        if settings.archived_penalty and mem.metadata.get("ltm_archived") \
                and "archived" not in signals:
            # originals folded into a summary (ltm.policies.consolidate) rank below it
            signals["archived"] = -settings.archived_penalty
            total[j] -= settings.archived_penalty
        signals["score"] = float(total[j])
        hits.append(Hit(mem, float(total[j]), signals))
    if extra or settings.archived_penalty:
        hits.sort(key=lambda h: (-h.score, h.memory.id))
    if settings.mmr_lambda > 0 and qv is not None and len(hits) > k:
        hits = _mmr(backend, hits, flt.user, k, settings.mmr_lambda)
    return hits[:k]


def _search_scope(backend: Any, embedder: Embedder, settings: Settings, query: str,
                  flt: Filters, k: int, n_cand: int, *, now: int,
                  query_vector: np.ndarray | None, window: TimeWindow | None
                  ) -> list[Hit] | None:
    """``search`` for a filter on the user alone, over the user's scoring columns as arrays
    (``backend.scope_view``): the same candidates, pool and scores as the general path, with
    no SQL but the full-text postings and the final hydration. None where it does not apply
    (a scope served by HNSW)."""
    view = backend.scope_view(flt.user)
    if view is None:
        return None
    m = len(view)
    if m == 0:
        return []
    qv = None
    dense_all = np.full(m, np.nan)
    use_dense = settings.dense_weight > 0
    if use_dense:
        qv = query_vector if query_vector is not None else embedder.embed([query])[0]
        got = backend.scope_dense(qv, view)
        if got is None:
            return None
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
    texts = backend.scope_text(query, view, masks) if settings.text_weight > 0 else []
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
        return []
    structured = settings.context_weight > 0 or settings.session_weight > 0
    in_pool = first
    if structured:
        sessions = np.unique(view.session[first & (view.session >= 0)])
        in_pool = first | np.isin(view.session, sessions)
    p = np.flatnonzero(in_pool & live)  # pool: positions in the view
    if len(p) == 0:
        return []
    ptext = text[p]
    pdense = np.nan_to_num(dense_all[p]) if use_dense else np.zeros(len(p))
    z_text = _zscore(ptext) if is_text.any() else np.zeros(len(p))
    z_dense = _zscore(pdense) if is_dense.any() else np.zeros(len(p))
    fused = settings.text_weight * z_text + settings.dense_weight * z_dense
    context = np.zeros(len(p))
    if structured:
        context = _structure_arrays(view.session[p], view.seq[p], view.has_seq[p], fused,
                                    settings)
    times = view.time[p]
    recency = np.zeros(len(p))
    half_life = settings.recency_half_life_days * _US_PER_DAY
    if settings.recency_weight and half_life > 0:
        recency = settings.recency_weight * 0.5 ** (np.maximum(0.0, now - times) / half_life)
    importance = np.zeros(len(p))
    if settings.importance_weight:
        importance = settings.importance_weight * (view.importance[p] - 0.5)
    superseded = view.superseded[p]
    penalty = settings.superseded_penalty * superseded
    in_window = np.zeros(len(p))
    if window is not None and settings.time_weight:
        dist = np.maximum(window.start - times, 0) + np.maximum(times - (window.end - 1), 0)
        width = max(window.end - window.start, _US_PER_DAY)
        in_window = settings.time_weight * 0.5 ** (dist / width)
    total = fused + context + recency + importance + in_window - penalty
    order = np.argsort(-total, kind="stable")  # best first ...
    ranked = total[order]
    if bool(np.any(ranked[1:] == ranked[:-1])):
        order = np.lexsort((view.id_rank[p], -total))  # ... ties by id
    ids = _Picked(view.ids, p)
    top = order[:k]
    extra: dict[int, dict[str, float]] = {}
    if window is not None or _decay_policies(settings):
        top, extra = _time_and_retention(backend, flt.user, ids, total, in_window, order, k,
                                         now, window, settings, rank=view.id_rank[p])
    memories = backend.get_many([ids[j] for j in top], flt.user)
    hits: list[Hit] = []
    for j in top:
        mem = memories.get(ids[j])
        if mem is None:
            continue
        signals = {"text": float(ptext[j]), "dense": float(pdense[j]),
                   "text_z": float(z_text[j]), "dense_z": float(z_dense[j]),
                   "fused": float(fused[j]), "context": float(context[j]),
                   "recency": float(recency[j]), "importance": float(importance[j])}
        if window is not None:
            signals["time_window"] = float(in_window[j])
        if superseded[j]:
            signals["superseded"] = -float(penalty[j])
        signals.update(extra.get(int(j), {}))
        if settings.archived_penalty and mem.metadata.get("ltm_archived") \
                and "archived" not in signals:
            signals["archived"] = -settings.archived_penalty
            total[j] -= settings.archived_penalty
        signals["score"] = float(total[j])
        hits.append(Hit(mem, float(total[j]), signals))
    if extra or settings.archived_penalty:
        hits.sort(key=lambda h: (-h.score, h.memory.id))
    return hits[:k]


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


def _structure_arrays(session: np.ndarray, seq: np.ndarray, has_seq: np.ndarray,
                      fused: np.ndarray, settings: Settings) -> np.ndarray:
    """``_structure`` over arrays: session codes (-1 none) and turn numbers of the pool."""
    out = np.zeros(len(fused))
    idx = np.flatnonzero((session >= 0) & has_seq)
    if len(idx) == 0:
        return out
    idx = idx[np.lexsort((idx, seq[idx], session[idx]))]  # by session, then turn
    sess, seqs, vals = session[idx], seq[idx], fused[idx]
    if settings.session_weight:
        best_of = np.full(int(sess.max()) + 1, -np.inf)
        np.maximum.at(best_of, sess, vals)
        out[idx] += settings.session_weight * best_of[sess]
    win = settings.context_window
    if settings.context_weight and win > 0 and len(idx) > 1:
        best = np.full(len(idx), -np.inf)
        for off in range(1, min(win, len(idx) - 1) + 1):
            # neighbours `off` places away in the same session, if within the window
            ok = (sess[off:] == sess[:-off]) & ((seqs[off:] - seqs[:-off]) <= win)
            best[:-off] = np.where(ok, np.maximum(best[:-off], vals[off:]), best[:-off])
            best[off:] = np.where(ok, np.maximum(best[off:], vals[:-off]), best[off:])
        has = np.isfinite(best)
        out[idx[has]] += settings.context_weight * best[has]
    return out


def _structure(ids: list[str], light: dict[str, tuple[Any, ...]], fused: np.ndarray,
               settings: Settings) -> np.ndarray:
    """Context from conversation structure: the best neighbour within ``context_window`` turns
    and the best turn of the same session lend relevance (passage scores interpolated with
    their surroundings'). The pool's sessions become codes and ``_structure_arrays`` does the
    rest in a few array passes (a loop per session cost ~12 ms on a pool of thousands)."""
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
    return _structure_arrays(session, seq, has_seq, fused, settings)


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
    width = max(window.end - window.start, _US_PER_DAY)
    return float(0.5 ** (dist / width))


def _decay_policies(settings: Settings) -> dict[str, float]:
    """Half-life in days of each kind that decays (see ``ltm.policies.retention``)."""
    if not settings.decay_weight or not settings.retention:
        return {}
    from ..retention_rules import policies
    return {k: p.decay_half_life_days for k, p in policies(settings.retention).items()
            if p.decay_half_life_days}


def _time_and_retention(backend: Backend, user: str, ids: Sequence[str], total: np.ndarray,
                        in_window: np.ndarray, order: np.ndarray, want: int, now: int,
                        window: TimeWindow | None, settings: Settings,
                        rank: np.ndarray | None = None
                        ) -> tuple[np.ndarray, dict[int, dict[str, float]]]:
    """Adjust ``total`` (in place) over the head of the ranking (3x ``want``, at least 50):
    a fact's or summary's time-window bonus follows its validity interval (and a superseded
    fact valid in the window loses its penalty); decay with disuse and archived originals are
    penalties. Returns the new top ``want`` and extra signals."""
    extra: dict[int, dict[str, float]] = {}
    decay = _decay_policies(settings)
    head = order[:max(3 * want, 50)]
    mems = backend.get_many([ids[j] for j in head], user)
    for j in head:
        mem = mems.get(ids[j])
        if mem is None:
            continue
        sig: dict[str, float] = {}
        if window is not None and settings.time_weight and mem.kind != "episode":
            tw = settings.time_weight * _closeness(window, mem)
            total[j] += tw - in_window[j]
            in_window[j] = tw
            sig["time_window"] = tw
            if mem.superseded_by is not None and tw >= settings.time_weight:
                # it was still true in the window the query asks about: no penalty
                total[j] += settings.superseded_penalty
                sig["superseded"] = 0.0
        if decay.get(mem.kind) and settings.decay_weight:
            from ..retention_rules import strength
            d = -settings.decay_weight * (1.0 - strength(mem, now, decay[mem.kind]))
            sig["decay"] = d
            total[j] += d
        if settings.archived_penalty and mem.metadata.get("ltm_archived"):
            sig["archived"] = -settings.archived_penalty
            total[j] -= settings.archived_penalty
        if sig:
            extra[int(j)] = sig
    order = np.lexsort((np.array(ids) if rank is None else rank, -total))
    return order[:want], extra


def _mmr(backend: Backend, hits: list[Hit], user: str, k: int, lam: float) -> list[Hit]:
    """Maximal marginal relevance: trade score against similarity to what is already chosen."""
    pool = hits[: max(4 * k, 20)]
    vecs = backend.vectors([h.memory.id for h in pool], user)
    mat = np.stack([vecs.get(h.memory.id, np.zeros(1)) for h in pool]) if vecs else None
    if mat is None or mat.ndim != 2:
        return hits
    rel = _zscore(np.array([h.score for h in pool]))
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


def pack_context(hits: Sequence[Hit], budget_tokens: int) -> str:
    """The best hits that fit the token budget, in chronological order, one per line with
    date, session and speaker labels."""
    chosen: list[tuple[Memory, str]] = []
    used = 0
    for hit in hits:
        m = hit.memory
        label = m.time.strftime("%Y-%m-%d %H:%M")
        if m.session:
            label += f" · session {m.session}"
        if m.kind != "episode":
            label += f" · {m.kind}"
        speaker = m.speaker
        line = f"[{label}] " + (f"{speaker}: " if speaker else "") + m.text
        caption = m.metadata.get("caption")
        if isinstance(caption, str) and caption and caption not in m.text:
            line += f" [photo: {caption}]"
        cost = estimate_tokens(line)
        if used + cost > budget_tokens:
            continue
        used += cost
        chosen.append((m, line))
    chosen.sort(key=lambda p: (p[0].time, p[0].seq or 0, p[0].id))
    return "\n".join(line for _, line in chosen)


def estimate_tokens(text: str) -> int:
    """A conservative token estimate (about 4 characters per token for English)."""
    return max(1, math.ceil(len(text) / 3.5))
