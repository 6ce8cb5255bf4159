"""What ``ltm train ranker`` runs: fit the relevance model on labelled conversations, or a
store's weights on its feedback.

With ``--data`` (repeatable, ``NAME:PATH``: ``locomo:locomo10.json``, ``beam:DIR``, ``small``)
each conversation is stored as one user in a temporary store, every question's candidate pool
is collected with its calibrated signals (the same code the search runs), and the two logistic
stages are fitted. Quality is reported only on held-out conversations: group cross-validation
by conversation (a fold never holds a conversation the model was fitted on), the L2 strength
chosen inside each training split on its own inner folds. The final weights are fitted on
everything and written with their provenance (data, date, command, the held-out metrics).

With ``--store PATH`` the store's recorded judgments (``MemoryStore.feedback``) are replayed and
weights pulled toward the shipped ones are fitted and saved in the store.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..bench.labelled import MID, LabelledConversation, LabelledQuestion
from .ranker import Ranker, RawPool, fit, shipped, sigmoid

L2_GRID = (0.1, 1.0, 10.0, 100.0)


class UnknownData(ValueError):
    """A ``NAME:PATH`` data source that is not ``locomo``, ``beam`` or ``small`` (or small's
    seed 0, the benchmark's own)."""


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


# -- data ------------------------------------------------------------------------------------
def locomo_labelled(path: str | Path) -> list[LabelledConversation]:
    from ..bench.locomo import CATEGORIES, load

    out = []
    for c in load(path):
        items = []
        for t in c.turns:
            item = dict(t)
            item["metadata"] = dict(t["metadata"], **{MID: t["metadata"]["dia_id"]})
            items.append(item)
        qs = [LabelledQuestion(f"{c.user}:{n}", q["question"],
                               CATEGORIES.get(q["category"], str(q["category"])),
                               frozenset(q["evidence"]))
              for n, q in enumerate(c.questions)]
        out.append(LabelledConversation(c.user, items, qs, source="locomo"))
    return out


def load_data(spec: str) -> list[LabelledConversation]:
    name, _, path = spec.partition(":")
    if name == "locomo":
        return locomo_labelled(path)
    if name == "beam":
        from ..bench.beam import load_beam
        return load_beam(path)
    if name == "small":
        # the project's generated small stores; seed 0 is the benchmark's: never trained on
        from ..bench.small import make_small
        first, _, last = (path or "1-3").partition("-")
        seeds = range(int(first), int(last or first) + 1)
        if 0 in seeds:
            raise UnknownData("small seed 0 is the benchmark's; train on seeds >= 1")
        return [c for seed in seeds for c in make_small(seed)]
    raise UnknownData(f"{spec!r}: expected locomo:PATH, beam:DIR or small[:SEEDS] "
                     "(e.g. small:1-3)")


def collect(convs: Iterable[LabelledConversation], *, embedder: str | None = None,
            progress: bool = True) -> list[Sample]:
    """Store each conversation (one user each) and collect every question's candidate pool
    with its calibrated signals and evidence labels."""
    import ltm

    from .pipeline import pool_for

    convs = list(convs)
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="ltm-train-") as tmp:
        mem = ltm.open(Path(tmp) / "store", embedder=embedder)
        try:
            for n, c in enumerate(convs):
                stored = mem.add_many([dict(it, user=c.name) for it in c.items])
                mid_of = {m.id: str(m.metadata.get(MID)) for m in stored}
                for q in c.questions:
                    pool = _pool(mem, q, c.name, pool_for)
                    ev = set(q.evidence)
                    if pool is None:
                        label = np.zeros(0)
                        raw = None
                        found: set[str] = set()
                    else:
                        mids = [mid_of.get(i, "") for i in pool.ids]
                        label = np.array([m in ev for m in mids], dtype=np.float64)
                        raw = pool.raw
                        found = {m for m in mids if m in ev}
                    if raw is None:
                        continue
                    update = None
                    upd = set(q.extra.get("updated_info") or [])
                    orig = set(q.extra.get("original_info") or []) - upd
                    if upd and orig:
                        update = (np.array([j for j, m in enumerate(mids) if m in orig]),
                                  np.array([j for j, m in enumerate(mids) if m in upd]))
                    samples.append(Sample(c.name, c.source, q.qtype,
                                          q.answerable and bool(ev), raw, label,
                                          len(ev - found), update))
                if progress:
                    sys.stderr.write(f"\r{n + 1}/{len(convs)} conversations, "
                                     f"{len(samples)} questions")
                    sys.stderr.flush()
        finally:
            mem.close()
    if progress:
        sys.stderr.write("\n")
    return samples


def _pool(mem: Any, q: LabelledQuestion, user: str, pool_for: Any) -> Any:
    from ..timeutil import now_us, to_us

    now = now_us() if q.now is None else to_us(q.now)
    flt = mem._filters(user, None, None, None, None, None, None, None, now)
    window = None
    if mem.settings.time_phrases != "off":
        from ..timeparse import parse_time_window
        window = parse_time_window(q.text, now)
    return pool_for(mem.backend, mem.embedder, mem.settings, q.text, flt, 20, now=now,
                    window=window)


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


def _weights(samples: list[Sample]) -> list[float]:
    """Each source counts as much as the others, whatever its number of questions."""
    count: dict[str, int] = {}
    for s in samples:
        count[s.source] = count.get(s.source, 0) + 1
    return [len(samples) / (len(count) * count[s.source]) for s in samples]


def _fit(samples: list[Sample], l2: float, window: int) -> Ranker:
    return fit([s.pool for s in samples], [s.label for s in samples], context_window=window,
               l2=l2, weights=_weights(samples))


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
            r.append(evaluate(_fit(train, l2, window), test)["recall"]["10"] or 0.0)
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
        model = _fit(train, lam, window)
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
def store_samples(mem: Any) -> tuple[np.ndarray, np.ndarray]:
    """Stage-2 features (shipped stage 1, each computed in its query's own pool) and labels of
    the judged memories that are still candidates for their queries."""
    from ..timeparse import parse_time_window
    from .feedback import load_feedback
    from .pipeline import pool_for

    base = shipped()
    xs, ys = [], []
    for user in mem.users():
        for fb in load_feedback(mem.backend, user):
            at = int(fb["at"])
            flt = mem._filters(user, None, None, None, None, None, None, None, at)
            window = parse_time_window(fb["query"], at) \
                if mem.settings.time_phrases != "off" else None
            cand = pool_for(mem.backend, mem.embedder, mem.settings, fb["query"], flt, 20,
                            now=at, window=window)
            if cand is None:
                continue
            hit = [j for j, i in enumerate(cand.ids) if i == fb["id"]]
            if hit:
                xs.append(base.features(cand.raw)[hit[0]])
                ys.append(1.0 if fb["useful"] else 0.0)
    if not xs:
        return np.zeros((0, 0)), np.zeros(0)
    return np.stack(xs), np.array(ys)


def fit_store(mem: Any, *, l2: float = 20.0) -> tuple[Ranker | None, int]:
    """Weights for this store from its judgments: the stage-2 weights refitted, pulled toward
    the shipped ones with strength ``l2`` (the stage-1 weights stay the shipped ones); None
    when it holds no usable judgment."""
    from .ranker import fit_logistic

    x, y = store_samples(mem)
    if len(y) == 0:
        return None, 0
    base = shipped()
    w, b = fit_logistic(x, y, l2=l2, prior=base.full_w, prior_b=base.full_b)
    model = Ranker(base.own_w.copy(), base.own_b, w, b, base.context_window,
                   {"fitted_from": "feedback", "judgments": int(len(y)),
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "l2_toward_shipped": l2},
                   None if base.context_w is None else base.context_w.copy(), base.context_b)
    return Ranker.from_dict(model.to_dict()), int(len(y))  # the checks a loaded model gets


def fit_on_data(data: Iterable[str], *, folds: int = 5, l2: float | None = None,
                context_window: int = 2, embedder: str | None = None, command: str = "",
                note: Any = None) -> tuple[Ranker, dict[str, Any]]:
    """``ltm train ranker --data ...``: collect every ``NAME:PATH`` source's questions, report
    held-out quality by conversation, fit the final weights on everything; returns the model
    (with its provenance) and the cross-validation report. ``note`` (a callable) hears
    progress lines. Raises UnknownData for a source it does not know."""
    data = list(data)
    t0 = time.time()
    convs: list[LabelledConversation] = []
    for spec in data:
        convs += load_data(spec)
    samples = collect(convs, embedder=embedder)
    if note is not None:
        note(f"collected {len(samples)} questions in {time.time() - t0:.0f} s")
    cv = cross_validate(samples, folds=folds, window=context_window, l2=l2)
    lam = l2 if l2 is not None else choose_l2(samples, context_window)
    model = _fit(samples, lam, context_window)
    model.provenance = {
        "data": data, "embedder": embedder or "wordllama",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command, "l2": lam, "questions": len(samples),
        "conversations": len({s.group for s in samples}),
        "cross_validation": cv}
    return model, cv
