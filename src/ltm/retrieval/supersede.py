"""Supersession in one result list: a superseded fact carries a penalty unless it is still
current when the search is about (``as_of``, else now), its successors join the list, and the
guarantee that a superseded fact never ranks above its successor is enforced on the hits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..backends.base import Backend
from ..model import Hit, Memory
from ..timeparse import TimeWindow
from ..timeutil import to_us
from .ranker import FULL, Ranker

_SUP = FULL.index("superseded")


def lift_current(backend: Backend, user: str, ids: Sequence[str], x: np.ndarray,
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
            drop_superseded_penalty(logit, x, int(j), ranker)


def drop_superseded_penalty(logit: np.ndarray, x: np.ndarray, j: int, ranker: Ranker) -> None:
    """Candidate ``j`` carries no superseded penalty (it is still true when the search is
    about): off its logit, and off its feature column, which tells the hit's ``superseded``
    signal and keeps anything from taking it off twice."""
    logit[j] -= ranker.superseded_weight * x[j, _SUP]
    x[j, _SUP] = 0.0


def with_successors(backend: Backend, user: str, ids: Sequence[str], top: np.ndarray,
                     memories: dict[str, Memory]) -> np.ndarray:
    """``top`` (candidate positions, best first) with the successors of its superseded facts
    that are candidates too, and theirs, appended: the supersession guarantee
    (``successors_first``) then holds on the list whatever ``k`` cuts it to, instead of the
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


def successors_first(hits: list[Hit], at: int, window: TimeWindow | None) -> list[Hit]:
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
                        and not _not_yet(s.memory, at, window):
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
        if nxt in pos and nxt not in seen and not _not_yet(hits[pos[nxt]].memory, at, window):
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
    return _current_first(out, at, window)


def _not_yet(succ: Memory, at: int, window: TimeWindow | None) -> bool:
    """Whether the successor ``succ`` was not yet valid at the moment a search is about:
    ``at`` (its ``as_of``, else now), or the end of its time window, falls before it."""
    start = to_us(succ.valid_from if succ.valid_from is not None else succ.time)
    return at < start or (window is not None and window.end <= start)


def _current_first(hits: list[Hit], at: int, window: TimeWindow | None) -> list[Hit]:
    """The other side of the guarantee: a successor not yet valid at the moment searched
    (``_not_yet``) ranks right below the fact it will replace, which is still the answer then
    (asked in 2024, a fact valid from 2025 ranked above the one it supersedes: a future date
    has the best recency; asked about 2023, one valid from 2024). Its relevance is capped at
    that fact's; along a chain, each link in turn."""
    for _ in range(len(hits)):  # a chain moves one link a pass
        where = {h.memory.id: n for n, h in enumerate(hits)}
        for j, older in enumerate(hits):
            n = where.get(older.memory.superseded_by or "")
            if n is None or n > j:
                continue
            succ = hits[n]
            if not _not_yet(succ.memory, at, window):
                continue
            capped = Hit(succ.memory, older.relevance,
                         dict(succ.signals, below_current=1.0), older.relevance)
            hits = [*hits[:n], *hits[n + 1:j + 1], capped, *hits[j + 1:]]
            break
        else:
            break
    return hits
