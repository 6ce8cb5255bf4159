"""Fitting the relevance model from candidate pools and their evidence labels: the held-out
quality of a fit (group cross-validation by conversation, the L2 strength chosen inside each
training split on its own inner folds), the metrics it is judged by, and a store's own weights
fitted on its recorded judgments (``MemoryStore.feedback``), pulled toward the shipped ones.

The pools of ``ltm train ranker --data`` are collected by ``ltm.bench.ranker_data`` (which
stores labelled conversations and runs the search code over them) and handed here as
``Sample``s.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .ranker import FULL, MATCH, MIN_TIME_FIT, Ranker, RawPool, fit, fit_ranking, shipped, sigmoid

L2_GRID = (0.1, 1.0, 10.0, 100.0)


@dataclasses.dataclass
class Sample:
    group: str  # conversation (the cross-validation group)
    source: str
    qtype: str
    answerable: bool
    pool: RawPool
    label: np.ndarray  # 1 where the candidate is evidence
    missing: int  # evidence items not in the pool at all (count as misses)
    # an update question's (original, updated) pool positions (``metrics.update_first``)
    update: tuple[np.ndarray, np.ndarray] | None = None


# -- evaluation ------------------------------------------------------------------------------
def evaluate(model: Ranker, samples: list[Sample]) -> dict[str, Any]:
    return evaluate_pairs([(s, model) for s in samples])


def evaluate_pairs(pairs: list[tuple[Sample, Ranker]]) -> dict[str, Any]:
    """Each sample scored by its model: recall@k over the pool (evidence outside the pool
    counts as missed), expected calibration error of the top 10 and of every candidate,
    abstention AUROC of the top relevance (where unanswerable questions exist), and on
    update questions the share whose best updated memory ranks above every original one."""
    recall: dict[str, list[float]] = {"5": [], "10": [], "20": []}
    top_p: list[np.ndarray] = []
    top_y: list[np.ndarray] = []
    all_p: list[np.ndarray] = []
    all_y: list[np.ndarray] = []
    best: list[tuple[float, bool]] = []
    p1: list[float] = []
    newest_first: list[float] = []
    for s, model in pairs:
        logit, _ = model.logits(model.features(s.pool))
        p = sigmoid(logit)
        order = np.argsort(-p, kind="stable")
        n_ev = s.label.sum() + s.missing
        if s.answerable and n_ev > 0:
            for k in recall:
                recall[k].append(float(s.label[order[:int(k)]].sum() / n_ev))
            p1.append(float(s.label[order[0]]))
        top_p.append(p[order[:10]])
        top_y.append(s.label[order[:10]])
        all_p.append(p)
        all_y.append(s.label)
        best.append((float(p[order[0]]) if len(p) else 0.0, s.answerable))
        if s.update is not None:
            rank = np.empty(len(p), dtype=np.int64)
            rank[order] = np.arange(len(p))
            orig, upd = s.update
            newest_first.append(float(len(upd) > 0 and (
                len(orig) == 0 or rank[upd].min() < rank[orig].min())))
    out: dict[str, Any] = {
        "questions": len(pairs),
        "recall": {k: round(float(np.mean(v)), 4) if v else None for k, v in recall.items()},
        "p_at_1": round(float(np.mean(p1)), 4) if p1 else None,
        "ece_top10": round(ece(np.concatenate(top_p), np.concatenate(top_y)), 4),
        "ece_all": round(ece(np.concatenate(all_p), np.concatenate(all_y)), 4),
    }
    if newest_first:
        out["update_order"] = round(float(np.mean(newest_first)), 4)
    if any(not a for _, a in best) and any(a for _, a in best):
        out["abstention_auroc"] = round(auroc([b for b, a in best if a],
                                              [b for b, a in best if not a]), 4)
    return out


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the count-weighted gap between mean predicted probability
    and observed frequency over equal-width probability bins."""
    if len(p) == 0:
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(float(p[m].mean()) - float(y[m].mean()))
    return total / len(p)


def auroc(pos: list[float], neg: list[float]) -> float:
    """P(a positive scores above a negative), ties counted half."""
    a, b = np.asarray(pos), np.asarray(neg)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    greater = (a[:, None] > b[None, :]).sum()
    ties = (a[:, None] == b[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(a) * len(b)))


# a source that is a variant of another (the same generator, its memories stored otherwise):
# it counts as part of the other (``_weights``)
VARIANT_OF = {"small-lone": "small"}


def _weights(samples: list[Sample]) -> list[float]:
    """Each source counts as much as the others, whatever its number of questions; a source's
    variants (``VARIANT_OF``) are part of it (each question of the two counts the same)."""
    count: dict[str, int] = {}
    for s in samples:
        src = VARIANT_OF.get(s.source, s.source)
        count[src] = count.get(src, 0) + 1
    return [len(samples) / (len(count) * count[VARIANT_OF.get(s.source, s.source)])
            for s in samples]


def _matchable(s: Sample) -> tuple[RawPool, np.ndarray]:
    """A sample's pool and labels for fitting, an update question's original memories left
    out: they match the question as well as its update does (the same words, the same
    meaning), so as negatives they would teach the model that matching matters less. What is
    newer is the time features' and the supersession's part (their priors), not the match's."""
    if s.update is None or len(s.update[0]) == 0:
        return s.pool, s.label
    keep = np.ones(len(s.label), dtype=bool)
    keep[s.update[0]] = False
    keep[s.update[1]] = True
    idx = np.flatnonzero(keep)
    return s.pool.take(idx), s.label[idx]


def fit_samples(samples: list[Sample], l2: float, window: int) -> Ranker:
    """The two stages fitted on these samples, each source weighted equally."""
    pairs = [_matchable(s) for s in samples]
    return fit([p for p, _ in pairs], [y for _, y in pairs], context_window=window, l2=l2,
               weights=_weights(samples))


def _folds(groups: list[str], k: int) -> list[set[str]]:
    uniq = sorted(set(groups))
    k = max(2, min(k, len(uniq)))
    return [set(uniq[i::k]) for i in range(k)]


def choose_l2(samples: list[Sample], window: int, k: int = 3) -> float:
    """The L2 strength with the best inner-fold recall@10 (ties: the stronger penalty)."""
    folds = _folds([s.group for s in samples], k)
    best, best_r = L2_GRID[-1], -1.0
    for l2 in reversed(L2_GRID):
        r = []
        for held in folds:
            train = [s for s in samples if s.group not in held]
            test = [s for s in samples if s.group in held]
            if not train or not test:
                continue
            r.append(evaluate(fit_samples(train, l2, window), test)["recall"]["10"] or 0.0)
        score = float(np.mean(r)) if r else 0.0
        if score > best_r + 1e-4:
            best, best_r = l2, score
    return best


def cross_validate(samples: list[Sample], *, folds: int, window: int,
                   l2: float | None) -> dict[str, Any]:
    """Held-out metrics: each fold's conversations scored by a model fitted without them."""
    parts = _folds([s.group for s in samples], folds)
    scored: list[tuple[Sample, Ranker]] = []
    chosen = []
    for held in parts:
        train = [s for s in samples if s.group not in held]
        lam = l2 if l2 is not None else choose_l2(train, window)
        chosen.append(lam)
        model = fit_samples(train, lam, window)
        scored += [(s, model) for s in samples if s.group in held]
    out: dict[str, Any] = {"folds": len(parts), "l2_chosen": chosen, "by_source": {}}
    sources = sorted({s.source for s, _ in scored})
    for src in sources + ["all"]:
        sub = [(s, m) for s, m in scored if src in ("all", s.source)]
        out["by_source"][src] = evaluate_pairs(sub)
        types = sorted({s.qtype for s, _ in sub})
        if src != "all" and len(types) > 1:
            out["by_source"][src]["by_type"] = {
                t: evaluate_pairs([(s, m) for s, m in sub if s.qtype == t])["recall"]
                for t in types}
    return out


# -- per-store weights from feedback ---------------------------------------------------------
JUDGED_TOP = 20  # a judged query's candidates the refit ranks its judged memories among
# A "not useful" judgment of a memory says each other candidate of its query (judged useful or
# not judged) should rank above it: pairwise terms whose weights sum to NOT_USEFUL_WEIGHT per
# judgment (a "useful" judgment's term weighs 1), a candidate judged useful for the query
# counting USEFUL_OVER_NOT times an unjudged one (a sure preference, where an unjudged one is
# only probably better). Before, such a memory counted as one more unjudged candidate: "not
# useful" changed the fit only when the memory was not in its query's top JUDGED_TOP anyway.
# These terms never move the MATCH columns (ranker.MATCH): a memory judged not useful usually
# matches its query best, and fitted free they scaled the match down to nothing (measured: 18
# judgments on one note took the "own" weight 0.39 -> -0.07, every memory's relevance to 0.000
# for every query). Weight 2, the middle of 1 / 2 / 4 tried on a scenario of its own (a recent
# catch-all note among 7 older facts; 30 judgments over 5 questions, read on 5 others): the
# note's rank there went from 2,1,1,1,0 (0: first) to 2,4,3,4,0 / 3,5,4,5,1 / 6,7,7,7,3.
NOT_USEFUL_WEIGHT = 2.0
USEFUL_OVER_NOT = 2.0


def store_samples(mem: Any) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], int]:
    """For each judged query (at its latest judgment's time) that judged a memory it still
    finds (useful, or not useful with another candidate to rank above it): the stage-2
    features (shipped stage 1) of its best ``JUDGED_TOP`` candidates by the shipped weights
    and of its judged memories that are still candidates, with each one's count of "useful"
    and of "not useful" judgments; and the number of judgments on those memories."""
    from ..backends.base import Filters
    from ..timeparse import parse_time_window
    from .feedback import load_feedback
    from .pipeline import pool_for

    base = shipped()
    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    judged = 0
    for user in mem.users():
        queries: dict[str, list[dict[str, Any]]] = {}
        for fb in load_feedback(mem.backend, user):
            queries.setdefault(fb["query"], []).append(fb)
        for query, fbs in queries.items():
            at = max(int(fb["at"]) for fb in fbs)
            flt = Filters(user=user, now=at)  # a stored user: already a valid name
            window = parse_time_window(query, at) \
                if mem.settings.time_phrases != "off" else None
            cand = pool_for(mem.backend, mem.embedder, mem.settings, query, flt, JUDGED_TOP,
                            now=at, window=window)
            if cand is None:
                continue
            x = base.features(cand.raw)
            place = {i: j for j, i in enumerate(cand.ids)}
            useful = np.zeros(len(cand.ids))
            not_useful = np.zeros(len(cand.ids))
            keep = np.zeros(len(cand.ids), dtype=bool)
            counted = 0
            for fb in fbs:
                j = place.get(fb["id"])
                if j is not None:
                    keep[j] = True
                    if fb["useful"]:
                        useful[j] += 1.0
                    else:
                        not_useful[j] += 1.0
                    counted += 1
            logit, _ = base.logits(x)
            keep[np.argsort(-logit, kind="stable")[:JUDGED_TOP]] = True
            if not useful.any() and not _movable(x[keep], not_useful[keep]):
                # (nothing to lift, and no other candidate that differs from a "not useful"
                # memory in more than its match: such judgments leave the weights where they
                # are, so they are not counted as used)
                continue
            judged += counted
            groups.append((x[keep], useful[keep], not_useful[keep]))
    return groups, judged


def _movable(x: np.ndarray, not_useful: np.ndarray) -> bool:
    """Whether some candidate not judged not useful differs from one judged not useful, by at
    least 1e-3, in a column the "not useful" judgments may move (any but ``MATCH``): memories
    written a few seconds apart differ in recency by ~1e-9, which moves no weight."""
    free = [n for n, f in enumerate(FULL) if f not in MATCH]
    above = x[not_useful == 0][:, free]  # (m, free)
    return any(bool((np.abs(above - x[j, free]) >= 1e-3).any())
               for j in np.flatnonzero(not_useful > 0))


def not_useful_pairs(groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The pairwise preferences (``fit_ranking``'s ``pairs``) the "not useful" judgments of
    ``groups`` (from ``store_samples``) state: every candidate of the query not itself judged
    not useful above each memory judged not useful, weighted as ``NOT_USEFUL_WEIGHT`` says."""
    diffs: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for x, useful, not_useful in groups:
        above = np.flatnonzero(not_useful == 0)
        if not len(above):
            continue
        a = np.where(useful[above] > 0, USEFUL_OVER_NOT, 1.0)  # (m,) each preferred one's share
        for j in np.flatnonzero(not_useful > 0):
            diffs.append(x[above] - x[j])  # (m, f): preferred minus judged not useful
            weights.append(not_useful[j] * NOT_USEFUL_WEIGHT * a / a.sum())
    f = groups[0][0].shape[1] if groups else 0
    return (np.concatenate(diffs) if diffs else np.zeros((0, f)),
            np.concatenate(weights) if weights else np.zeros(0))


# Stage-2 columns a store's fit keeps on the side of 0 the shipped weights are on (the sign
# they must have by design): a superseded fact is penalised (its successor's guarantee), a
# memory inside the query's window gains (``MIN_TIME_FIT``, the window guarantee; ``window`` is
# one value per query, which a ranking fit never moves). Importance and recency are not among
# them: a store may learn that its important notes, or its newest memories, are not what its
# user asks for (``not_useful_pairs``), and its relevance level is then kept by ``_no_lift``.
SIGNED = {"superseded": -1.0, "time_fit": 1.0}
# the values a memory can have in the columns outside ``MATCH`` whose values do not depend on
# the store (recency is 0.5 ** (age / half-life); importance, see ``_no_lift``)
_RANGE = {"recency": (0.0, 1.0), "superseded": (0.0, 1.0), "window": (0.0, 1.0),
          "time_fit": (0.0, 1.0), "assistant": (0.0, 1.0)}


def _no_lift(w: np.ndarray, base: Ranker, xs: list[np.ndarray]) -> float:
    """How far to lower the bias so that the change of the priors (the columns outside
    ``MATCH``: importance, recency, supersession, time, speaker) from the shipped weights lifts
    no memory's logit: the largest lift the change gives a memory whose values are within the
    columns' ranges, importance within the fit's candidates' (``xs``) and an unset one's (0).
    The ranking fit is blind to a query's level (a constant of every candidate cancels), so
    without this a prior fitted the other way lifted every memory at its other end: 60 "not
    useful" judgments of an important note took importance's weight 1.0 -> -1.24, and the
    store's facts of importance 0.2 rose 0.67 in logit, an unrelated question's best from
    relevance 0.0106 to 0.0205, over the context floor (0.015)."""
    lift = 0.0
    imp = FULL.index("importance")
    col = np.concatenate([x[:, imp] for x in xs] + [np.zeros(1)])
    ranges = {**_RANGE, "importance": (float(col.min()), float(col.max()))}
    for f, (lo, hi) in ranges.items():
        d = float(w[FULL.index(f)] - base.full_w[FULL.index(f)])
        lift += max(d * lo, d * hi)
    return max(lift, 0.0)


def fit_store(mem: Any, *, l2: float = 20.0) -> tuple[Ranker | None, int]:
    """Weights for this store from its judgments: the stage-2 weights refitted by the ranking
    objective (``fit_ranking``: each judged query's useful memories against its other
    candidates) and pulled toward the shipped ones with strength ``l2``, then, given "not
    useful" judgments, refitted from there with its other candidates above each memory judged
    not useful (``not_useful_pairs``; the ``MATCH`` weights kept), a ``SIGNED`` weight fitted
    across its bound held there and the rest refitted; the bias lowered by what the priors'
    change can lift a memory (``_no_lift``: judgments reorder, they never make a memory more
    relevant to every question); the stage-1 weights and the calibration stay the shipped
    ones. Judgments say which memories a user prefers for a query, not how many of a store's
    memories are relevant: a free logistic fit on them alone (most users only ever say
    "useful") lifted every memory's relevance to 1 for every query. None when the store holds
    no usable judgment."""
    groups, judged = store_samples(mem)
    if judged == 0:
        return None, 0
    base = shipped()
    xs, ys = [x for x, _, _ in groups], [y for _, y, _ in groups]
    pairs = not_useful_pairs(groups)
    held: dict[int, float] = {}  # columns fitted across their sign, kept at their bound
    while True:
        prior = base.full_w.copy()
        prior[list(held)] = list(held.values())
        w = fit_ranking(xs, ys, l2=l2, prior=prior, fixed=list(held))
        if len(pairs[1]):
            # then the "not useful" judgments, the useful ones still counted, from there: they
            # move what says which memories a match should come from, never the match's own
            # weight
            w = fit_ranking(xs, ys, l2=l2, prior=w, pairs=pairs,
                            fixed=[*held, *(FULL.index(f) for f in MATCH)])
        bounds = {FULL.index(f): MIN_TIME_FIT if f == "time_fit" else 0.0 for f in SIGNED}
        over = {j: b for j, b in bounds.items()
                if j not in held and SIGNED[FULL[j]] * (w[j] - b) < 0}
        if not over:
            break
        held.update(over)  # at its bound, the rest refitted
    lowered = _no_lift(w, base, xs)
    model = Ranker(base.own_w.copy(), base.own_b, w, base.full_b - lowered,
                   base.context_window,
                   {"fitted_from": "feedback", "judgments": judged,
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "l2_toward_shipped": l2, "objective": "ranking",
                    "bias_lowered": round(lowered, 6)},
                   None if base.context_w is None else base.context_w.copy(), base.context_b)
    return Ranker.from_dict(model.to_dict()), judged  # the checks a loaded model gets
