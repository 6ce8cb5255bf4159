"""The optional second stage (setting ``reranker``): fit its blend on validation data, then
measure quality and search latency with and without it, in one run per data set.

    # 1. fit (validation only: small-store seeds 1-3, LoCoMo conversations 8-10); --cache DIR
    #    keeps the replayed rows (MiniLM runs ~40 texts/s here) for a refit
    nice -n 10 .venv/bin/python benchmarks/rerank.py --fit --locomo PATH/locomo10.json \
        --out benchmarks/results/rerank-fit.json [--cache /tmp/rerank-rows]
    # 2. measure (reported: small seed 0, LoCoMo conversations 1-3, BEAM conversations)
    .venv/bin/python benchmarks/rerank.py --locomo PATH/locomo10.json --beam PATH/beam/100K \
        --out benchmarks/results/rerank.json

The reranker (``ltm.retrieval.rerank``) re-scores the first stage's top ``rerank_top`` (20)
by the MiniLM cosine of query and memory text; their logit becomes a logistic blend of the
first stage's logit, the cosine and the cosine's gap to the head's best. ``--fit`` replays
the validation data once with a blend that keeps the first stage (the hits then carry its
logit, signal "fused", and the cosine, signal "rerank"), fits the blend by logistic
regression of "is evidence" over every question whose head the first stage found something
in (its best relevance at least the context floor, ``rerank.found``; elsewhere the blend only
reorders the head under that best), answerable and unrelated alike (cross-validated by seed
on the small stores), and simulates the ranking by data set and by scope size (LoCoMo
validation conversations cut to their first n turns), against the first stage and "replace" (the top 20 by the cosine alone). Measuring
replays each data set twice through the engine, reranker off and on (same process), and
reports small-store P@1 / MRR / AUROC, LoCoMo turn R@10, BEAM evidence R@10 and search
latency p50/p95 (query encode and MiniLM included; the memory vector cache fills on a
store's first searches).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

TOP = 20
CUTS = (20, 30, 40, 50, 100, 200, 400)
FLOOR = 0.015  # the default context_min_relevance: the floor of ``rerank.found``


def _replay(convs: list[Any], **overrides: Any) -> list[Any]:
    from ltm.bench.evaluate import replay
    return replay(convs, systems=("ltm",), k=TOP, keep_hits=True,
                  settings_overrides=overrides)["answers"]["ltm"]


def _rows(answers: list[Any], convs: list[Any]) -> list[dict[str, Any]]:
    """Per question: the top hits' first-stage logit, cosine, label and data-set id."""
    size = {c.name: len(c.items) for c in convs}
    out = []
    for a in answers:
        mids = []
        for h in a.hits:
            mids.append(str(h.memory.metadata.get("mid", h.memory.id)))
        out.append({"conv": a.conversation, "scope": size[a.conversation],
                    "source": a.question.extra.get("style", ""), "qtype": a.question.qtype,
                    "evidence": a.question.evidence, "answerable": a.question.answerable,
                    "fused": np.array([h.signals["fused"] for h in a.hits]),
                    "cos": np.array([h.signals.get("rerank", 0.0) for h in a.hits]),
                    "mids": mids})
    return out


def _features(r: dict[str, Any]) -> np.ndarray:
    """(n, 4): the first stage's logit, the cosine, its gap to the head's best, 1."""
    cos = r["cos"]
    gap = cos - cos.max() if len(cos) else cos
    return np.column_stack([r["fused"], cos, gap, np.ones_like(cos)])


def _found(r: dict[str, Any], floor: float = FLOOR) -> bool:
    from ltm.retrieval.rerank import found
    return found(r["fused"].tolist(), floor)


def _fit(rows: list[dict[str, Any]], l2: float = 1e-3, *, answerable_only: bool = False,
         floor: float = FLOOR) -> list[float]:
    """Logistic regression of "is evidence" on ``_features`` (Newton with step halving on the
    L2-penalised log loss) over the rows whose head the first stage ``found`` something in,
    every question (unrelated ones have no evidence: without them the top hit of any question
    got ~0.45), or with
    ``answerable_only`` and ``floor`` 0 as the blend before was fitted: the blend's scale,
    weight, gap_weight and offset."""
    use = [r for r in rows if len(r["cos"]) and _found(r, floor)
           and (r["answerable"] or not answerable_only)]
    x = np.concatenate([_features(r) for r in use])
    y = np.concatenate([[m in r["evidence"] for m in r["mids"]] for r in use]
                       ).astype(np.float64)

    def loss(b: np.ndarray) -> float:
        z = x @ b
        return float(np.sum(np.logaddexp(0, z) - y * z) + 0.5 * l2 * b @ b)

    beta = np.array([1.0, 0.0, 0.0, 0.0])  # start at the first stage
    for _ in range(100):
        p = 0.5 * (1 + np.tanh(0.5 * (x @ beta)))
        grad = x.T @ (p - y) + l2 * beta
        hess = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        t, now = 1.0, loss(beta)
        while loss(beta - t * step) > now and t > 1e-6:
            t /= 2
        beta = beta - t * step
        if np.abs(t * step).max() < 1e-9:
            break
    return [round(float(b), 3) for b in beta]


def _truncated(convs: list[Any], sizes: tuple[int, ...]) -> list[Any]:
    """Each conversation cut to its first ``n`` items for each ``n`` in ``sizes`` (a scope of
    that size), with the questions whose evidence all lies in them."""
    import dataclasses

    out = []
    for c in convs:
        for n in sizes:
            items = c.items[:n]
            have = {str(i["metadata"]["mid"]) for i in items}
            qs = [q for q in c.questions if q.answerable and q.evidence and q.evidence <= have]
            out.append(dataclasses.replace(c, name=f"{c.name}-first{n}", items=items,
                                           questions=qs))
    return out


def _simulate(rows: list[dict[str, Any]], how: str, blend: list[float] | None = None,
              max_scope: int = 10**9, floor: float = FLOOR) -> dict[str, Any]:
    """P@1, MRR, R@10 and top-10 ECE (answerable questions), and the abstention AUROC of the
    top hit's relevance against unrelated questions (general, absent topic) with the share of
    each whose top stays under ``floor``, of ``rows`` ranked by the first stage ("first"), the
    cosine alone ("replace") or the blend, the latter two only on scopes up to ``max_scope``
    (where the first stage found nothing at ``floor``, the blend only reorders: 0, never)."""
    from ltm.bench.metrics import (
        auroc,
        evidence_recall,
        expected_calibration_error,
        mean,
        precision_at_1,
        reciprocal_rank,
    )
    p1, rr, r10, probs, labels = [], [], [], [], []
    tops: dict[str, list[float]] = {"answerable": [], "general": [], "absent": []}
    for r in rows:
        key = r["fused"]
        if how != "first" and r["scope"] <= max_scope and len(key):
            key = r["cos"] if how == "replace" else _features(r) @ np.array(blend)
            if how != "replace" and not _found(r, floor):  # reordered, never lifted
                key = key - key.max() + r["fused"].max()
        order = np.argsort(-key, kind="stable")
        ranked = list(dict.fromkeys(r["mids"][j] for j in order))
        top = float(1 / (1 + np.exp(-key[order[0]]))) if len(key) else 0.0
        if r["answerable"]:
            p1.append(precision_at_1(ranked, r["evidence"]))
            rr.append(reciprocal_rank(ranked, r["evidence"]))
            r10.append(evidence_recall(ranked, r["evidence"], 10))
            for j in order[:10]:
                probs.append(float(1 / (1 + np.exp(-key[j]))))
                labels.append(r["mids"][j] in r["evidence"])
            tops["answerable"].append(top)
        elif r.get("qtype") == "unrelated_general":
            tops["general"].append(top)
        elif r.get("qtype") == "unrelated_absent":
            tops["absent"].append(top)
    out: dict[str, Any] = {"questions": len(p1), "p_at_1": round(mean(p1), 4),
                           "mrr": round(mean(rr), 4), "recall_10": round(mean(r10), 4),
                           "ece_top10": round(expected_calibration_error(probs, labels), 4)
                           if how != "replace" else None}
    if how != "replace":
        for kind in ("general", "absent"):
            if tops[kind]:
                out[f"abstention_auroc_{kind}"] = round(auroc(tops["answerable"], tops[kind]),
                                                        4)
                out[f"{kind}_top_below_floor"] = round(mean([t < FLOOR for t in tops[kind]]),
                                                       4)
                out[f"{kind}_top_median"] = round(float(np.median(tops[kind])), 4)
        if tops["general"] or tops["absent"]:
            out["answerable_top_at_floor"] = round(mean([t >= FLOOR
                                                         for t in tops["answerable"]]), 4)
    return out


def _collect(name: str, convs: list[Any], cache: str | None) -> list[dict[str, Any]]:
    """The rows of ``convs`` replayed with the cosines collected (from ``cache`` if there)."""
    path = Path(cache) / f"{name}.pkl" if cache else None
    if path is not None and path.exists():
        rows: list[dict[str, Any]] = pickle.loads(path.read_bytes())
        return rows
    rows = _rows(_replay(convs, reranker="minilm", rerank_max_scope=10**9,
                         context_min_relevance=0.0), convs)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(rows))
    return rows


def fit(args: argparse.Namespace) -> dict[str, Any]:
    from ltm.bench import small
    from ltm.bench.locomo import load_labelled
    from ltm.retrieval import rerank
    # a blend that keeps the first stage: the hits carry its logit and the cosine
    rerank.load("minilm").blend = rerank.Blend(1.0, 0.0, 0.0, 0.0, "collect the cosines")
    data: dict[str, list[dict[str, Any]]] = {}
    data["small"] = [r for s in (1, 2, 3) for r in _collect(
        f"small-s{s}-{args.small_stores}", small.make_small(s, args.small_stores), args.cache)]
    print("small rows", len(data["small"]), file=sys.stderr)
    if args.locomo:
        lc = load_labelled(args.locomo)[7:10]
        data["locomo"] = _collect("locomo-8-10", lc, args.cache)
        print("locomo rows", len(data["locomo"]), file=sys.stderr)
        # the same conversations cut to the scopes between (each its first n turns)
        data["locomo_cut"] = _collect("locomo-8-10-cut", _truncated(lc, CUTS), args.cache)
        print("locomo_cut rows", len(data["locomo_cut"]), file=sys.stderr)
    out: dict[str, Any] = {
        "validation": {"small": f"seeds 1-3, {args.small_stores} stores each, answerable and "
                                "unrelated questions",
                       "locomo": "conversations 8-10 (indices 7-9)",
                       "locomo_cut": f"the same, each cut to its first {CUTS} turns"},
        "features": ["first-stage logit", "cosine", "cosine - best cosine of the head", "1"],
        "found": f"the blend sets a head's level where the first stage's best relevance >= "
                 f"{FLOOR} (context_min_relevance; rerank.found), else it reorders the head "
                 "under that best"}
    small_rows = data["small"]
    seeds = sorted({r["conv"].split("-")[1] for r in small_rows})
    out["small_cv_by_seed"] = {}
    for s in seeds:  # held out by seed: is the blend's gain real?
        blend = _fit([r for r in small_rows if r["conv"].split("-")[1] != s])
        before = _fit([r for r in small_rows if r["conv"].split("-")[1] != s],
                      answerable_only=True, floor=0.0)
        held = [r for r in small_rows if r["conv"].split("-")[1] == s]
        out["small_cv_by_seed"][s] = {
            "blend": blend, "first": _simulate(held, "first"),
            "reranked": _simulate(held, "blend", blend),
            "blend_before": before,  # answerable questions only, every head lifted
            "reranked_before": _simulate(held, "blend", before, floor=0.0),
            "reranked_always_lifted": _simulate(held, "blend", _fit(
                [r for r in small_rows if r["conv"].split("-")[1] != s], floor=0.0),
                floor=0.0)}
    # the first stage's best relevance of the general questions: what ``found`` keeps
    gen = [float(1 / (1 + np.exp(-r["fused"].max()))) for r in small_rows
           if r["qtype"] == "unrelated_general" and len(r["fused"])]
    out["small_general_first_stage_top"] = {
        "p10": round(float(np.percentile(gen, 10)), 5),
        "p50": round(float(np.percentile(gen, 50)), 5),
        "p90": round(float(np.percentile(gen, 90)), 5),
        "best_cosine_p10_p90": [round(float(np.percentile(
            [r["cos"].max() for r in small_rows if r["qtype"] == "unrelated_general"
             and len(r["cos"])], q)), 3) for q in (10, 90)]}
    out["fits"] = {"small": _fit(small_rows),
                   "all": _fit([r for v in data.values() for r in v])}
    out["by_data"] = {name: {"first": _simulate(rs, "first"), "replace": _simulate(rs, "replace"),
                             **{f"blend_{f}": _simulate(rs, "blend", b)
                                for f, b in out["fits"].items()}}
                      for name, rs in data.items()}
    out["by_scope"] = {}
    for n in CUTS:
        rs = [r for r in data.get("locomo_cut", []) if r["scope"] == n]
        if rs:
            out["by_scope"][f"locomo_first_{n}"] = {
                "first": _simulate(rs, "first"),
                **{f"blend_{f}": _simulate(rs, "blend", b) for f, b in out["fits"].items()}}
    for lo, hi in ((1, 20), (21, 50)):
        rs = [r for r in small_rows if lo <= r["scope"] <= hi]
        out["by_scope"][f"small_{lo}_{hi}"] = {
            "first": _simulate(rs, "first"),
            **{f"blend_{f}": _simulate(rs, "blend", b) for f, b in out["fits"].items()}}
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from ltm.bench import beam, small
    from ltm.bench.locomo import load_labelled
    from ltm.bench.metrics import evidence_recall, expected_calibration_error, mean
    from ltm.bench.stats import percentile

    def lat(ans: list[Any]) -> dict[str, float]:
        ms = [a.ms for a in ans]
        return {"search_ms_p50": round(percentile(ms, 50), 2),
                "search_ms_p95": round(percentile(ms, 95), 2)}

    out: dict[str, Any] = {"load_average_at_start": list(os.getloadavg()),
                           "torch_threads": torch.get_num_threads()}
    sets: list[tuple[str, list[Any]]] = [("small", small.make_small(0, args.small_stores))]
    if args.locomo:
        sets.append(("locomo", load_labelled(args.locomo)[:args.locomo_limit]))
    if args.beam:
        sets.append(("beam", beam.load_beam(args.beam)[:args.beam_limit]))
    for name, convs in sets:
        res: dict[str, Any] = {"conversations": len(convs),
                               "questions": sum(len(c.questions) for c in convs)}
        variants = {"none": {"reranker": "none"}, "minilm": {"reranker": "minilm"}}
        if name != "small":  # the default gate keeps these scopes out: what would it do?
            variants["minilm_every_scope"] = {"reranker": "minilm",
                                              "rerank_max_scope": 10**9}
        for variant, overrides in variants.items():
            ans = _replay(convs, **overrides)
            if name == "small":
                sc = small.score(ans)
                q = {k: sc[k] for k in ("p_at_1", "mrr", "abstention_auroc",
                                        "abstention_auroc_general",
                                        "abstention_auroc_absent_topic")}
                for kind in ("general", "absent"):  # context() empty: top under the floor
                    tops = [a.top or 0.0 for a in ans
                            if a.question.qtype == f"unrelated_{kind}"]
                    q[f"{kind}_top_below_floor"] = round(mean([t < FLOOR for t in tops]), 4)
                q["answerable_top_at_floor"] = round(mean([(a.top or 0.0) >= FLOOR for a in ans
                                                           if a.question.answerable]), 4)
            elif name == "locomo":
                q = {"turn_recall_10": round(mean([evidence_recall(
                    a.ranked, a.question.evidence, 10) for a in ans]), 4)}
            else:
                sc = beam.score(ans)
                q = {"recall_10": sc["recall"]["all"]["10"],
                     "knowledge_update_order": sc["knowledge_update_order"],
                     "abstention_auroc": sc["abstention_auroc"]}
            q["ece_top10"] = round(expected_calibration_error(
                [h.relevance for a in ans if a.question.answerable for h in a.hits[:10]],
                [str(h.memory.metadata.get("mid")) in a.question.evidence
                 for a in ans if a.question.answerable for h in a.hits[:10]]), 4)
            res[variant] = {**q, **lat(ans)}
            print(name, variant, res[variant], file=sys.stderr)
        out[name] = res
    out["load_average_at_end"] = list(os.getloadavg())
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true",
                    help="Fit the blend and choose rerank_max_scope on validation data.")
    ap.add_argument("--locomo", default=os.environ.get("LTM_LOCOMO"))
    ap.add_argument("--beam", default=os.environ.get("LTM_BEAM"))
    ap.add_argument("--locomo-limit", type=int, default=3,
                    help="Measure on the first N LoCoMo conversations (validation: 8-10).")
    ap.add_argument("--beam-limit", type=int, default=3)
    ap.add_argument("--small-stores", type=int, default=40)
    ap.add_argument("--cache", default=None,
                    help="--fit: keep the replayed rows in this folder (and reuse them).")
    ap.add_argument("--out", default="benchmarks/results/rerank.json")
    args = ap.parse_args(argv)

    import torch

    from ltm.bench.beam import git_commit
    torch.set_num_threads(1)  # two threads spin-wait on this busy 2-core machine
    result = {"commit": git_commit(), "top": TOP,
              **(fit(args) if args.fit else measure(args))}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
