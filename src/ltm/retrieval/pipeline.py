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
          dense_hits: list[tuple[str, float]], extra: Sequence[str], user: str) -> _Pool:
    ids = list(dict.fromkeys([i for i, _ in text_hits] + [i for i, _ in dense_hits] + list(extra)))
    tmap = dict(text_hits)
    dmap = dict(dense_hits)
    text = np.array([tmap.get(i, 0.0) for i in ids], dtype=np.float64)
    dense = np.array([dmap.get(i, math.nan) for i in ids], dtype=np.float64)
    missing = [i for i, d in zip(ids, dense) if math.isnan(d)]
    if missing and qv is not None:
        vecs = backend.vectors(missing, user)
        got = {i: float(v @ qv) for i, v in vecs.items()}
        dense = np.array([dmap.get(i, got.get(i, 0.0)) for i in ids], dtype=np.float64)
    return _Pool(ids, text, np.nan_to_num(dense))


def search(backend: Backend, embedder: Embedder, settings: Settings, query: str,
           flt: Filters, k: int, *, now: int, query_vector: np.ndarray | None = None,
           window: TimeWindow | None = None) -> list[Hit]:
    n_cand = max(settings.candidates, 3 * k)
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
    neighbours: dict[str, list[str]] = {}
    if settings.context_weight > 0 and settings.context_window > 0:
        neighbours = backend.neighbors(first, flt.user, settings.context_window)
    extra = [n for ns in neighbours.values() for n in ns]
    pool = _pool(backend, qv, text_hits, dense_hits, extra, flt.user)
    z_text = _zscore(pool.text) if text_hits else np.zeros(len(pool.ids))
    z_dense = _zscore(pool.dense) if dense_hits else np.zeros(len(pool.ids))
    fused = settings.text_weight * z_text + settings.dense_weight * z_dense
    pos = {i: j for j, i in enumerate(pool.ids)}
    context = np.zeros(len(pool.ids))
    if neighbours:
        for cid, ns in neighbours.items():
            context[pos[cid]] = max(float(fused[pos[n]]) for n in ns)
    has_ctx = np.zeros(len(pool.ids), dtype=bool)
    for cid in neighbours:
        has_ctx[pos[cid]] = True
    base = np.where(has_ctx, fused + settings.context_weight * context, fused)
    # Only the first-stage candidates compete; neighbours only lent them context.
    cand = [pos[i] for i in first]
    memories = backend.get_many([pool.ids[j] for j in cand], flt.user)
    hits: list[Hit] = []
    half_life = settings.recency_half_life_days * _US_PER_DAY
    for j in cand:
        mem = memories.get(pool.ids[j])
        if mem is None:
            continue
        score = float(base[j])
        signals = {"text": float(pool.text[j]), "dense": float(pool.dense[j]),
                   "text_z": float(z_text[j]), "dense_z": float(z_dense[j]),
                   "fused": float(fused[j]), "context": float(base[j] - fused[j])}
        if settings.recency_weight:
            age = max(0, now - to_us(mem.time))
            rec = settings.recency_weight * 0.5 ** (age / half_life) if half_life > 0 else 0.0
            signals["recency"] = rec
            score += rec
        if settings.importance_weight:
            imp = settings.importance_weight * ((mem.importance if mem.importance is not None
                                                 else 0.5) - 0.5)
            signals["importance"] = imp
            score += imp
        if mem.superseded_by is not None and settings.superseded_penalty:
            signals["superseded"] = -settings.superseded_penalty
            score -= settings.superseded_penalty
        if window is not None and settings.time_weight:
            tw = settings.time_weight * _closeness(window, mem)
            signals["time_window"] = tw
            score += tw
        if settings.archived_penalty and mem.metadata.get("ltm_archived"):
            signals["archived"] = -settings.archived_penalty
            score -= settings.archived_penalty
        signals["score"] = score
        hits.append(Hit(mem, score, signals))
    hits.sort(key=lambda h: (-h.score, h.memory.id))
    if settings.mmr_lambda > 0 and qv is not None and len(hits) > k:
        hits = _mmr(backend, hits, flt.user, k, settings.mmr_lambda)
    return hits[:k]


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
