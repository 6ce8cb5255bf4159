"""Would gradient-boosted trees rank better than the shipped linear relevance model?

Issue 15, sixth pass. The trees (LightGBM lambdarank, 300 trees of 15 leaves, learning rate
0.05) start from the linear model's logit (``init_score``) and see its stage-2 features
(time and supersession left out: they stay additive for the guarantees) and the stage-1 ones;
they re-rank each query's best 100 candidates. Two evaluations, the linear model refitted
alongside on the same training data each time:

- held out by conversation (5 folds over the training sources, as ``ltm train ranker``);
- leave one source out: trained on the other sources, tested on one never seen — what a
  user's store is to the shipped weights.

    pip install lightgbm   # not a dependency of ltm: this script only
    python benchmarks/ranker_trees.py --locomo PATH/locomo10.json --beam PATH/beam/100K

Writes ``benchmarks/results/ranker-trees.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from ltm.bench.ranker_data import collect, load_data
from ltm.retrieval.ranker import FULL, Ranker, own_features
from ltm.retrieval.train import Sample, _folds, fit_samples

TOP = 100
KEEP = [i for i, f in enumerate(FULL) if f not in ("superseded", "window", "time_fit")]
PARAMS = dict(objective="lambdarank", learning_rate=0.05, num_leaves=15, min_data_in_leaf=50,
              feature_fraction=0.9, bagging_fraction=0.8, bagging_freq=1,
              lambdarank_truncation_level=20, verbose=-1, num_threads=1, seed=1)


def _features(model: Ranker, s: Sample) -> np.ndarray:
    return np.column_stack([model.features(s.pool)[:, KEEP], own_features(s.pool)])


def _fit(train: list[Sample]) -> tuple[Ranker, Any]:
    import lightgbm as lgb

    model = fit_samples(train, 1.0, 2)
    xs, ys, groups, init = [], [], [], []
    for s in train:
        if s.label.sum() == 0:
            continue
        logit = model.logits(model.features(s.pool))[0]
        top = np.argsort(-logit, kind="stable")[:TOP]
        xs.append(_features(model, s)[top])
        ys.append(s.label[top])
        groups.append(len(top))
        init.append(logit[top])
    data = lgb.Dataset(np.concatenate(xs), np.concatenate(ys), group=groups,
                       init_score=np.concatenate(init))
    return model, lgb.train(PARAMS, data, num_boost_round=300)


def _score(model: Ranker, trees: Any, test: list[Sample]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, list[float]]] = {}
    for s in test:
        n_ev = s.label.sum() + s.missing
        if not (s.answerable and n_ev > 0):
            continue
        logit = model.logits(model.features(s.pool))[0]
        linear = np.argsort(-logit, kind="stable")
        top = linear[:TOP]
        boosted = trees.predict(_features(model, s)[top], raw_score=True, num_threads=1) \
            + logit[top]
        reranked = np.concatenate([top[np.argsort(-boosted, kind="stable")], linear[TOP:]])
        d = out.setdefault(s.source, {k: [] for k in ("linear_r10", "trees_r10",
                                                      "linear_p1", "trees_p1")})
        d["linear_r10"].append(float(s.label[linear[:10]].sum() / n_ev))
        d["trees_r10"].append(float(s.label[reranked[:10]].sum() / n_ev))
        d["linear_p1"].append(float(s.label[linear[0]]))
        d["trees_p1"].append(float(s.label[reranked[0]]))
    return {src: {k: round(float(np.mean(v)), 4) for k, v in d.items()} | {"questions": len(
        d["linear_r10"])} for src, d in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--locomo", required=True)
    ap.add_argument("--beam", required=True)
    ap.add_argument("--small", default="1-3")
    ap.add_argument("--out", default="benchmarks/results/ranker-trees.json")
    a = ap.parse_args()
    t0 = time.time()
    sources = {"locomo": f"locomo:{a.locomo}", "small": f"small:{a.small}",
               "beam": f"beam:{a.beam}"}
    samples = {name: collect(load_data(spec), progress=False)
               for name, spec in sources.items()}
    result: dict[str, Any] = {
        "benchmark": "ranker trees vs linear (issue 15)", "params": PARAMS, "top": TOP,
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip(),
        "machine": platform.machine(), "held_out_by_conversation": {},
        "leave_one_source_out": {}}
    train_all = samples["locomo"] + samples["small"]
    scored: dict[str, dict[str, list[tuple[float, int]]]] = {}
    for held in _folds([s.group for s in train_all], 5):
        model, trees = _fit([s for s in train_all if s.group not in held])
        for src, m in _score(model, trees, [s for s in train_all if s.group in held]).items():
            for k, v in m.items():
                if k != "questions":
                    scored.setdefault(src, {}).setdefault(k, []).append((v, m["questions"]))
    for src, d in scored.items():
        result["held_out_by_conversation"][src] = {
            k: round(sum(v * n for v, n in x) / sum(n for _, n in x), 4) for k, x in d.items()}
    for unseen in samples:
        # the remaining sources, weighted equally as the trainer does (``fit_samples``)
        model, trees = _fit([s for name, ss in samples.items() if name != unseen for s in ss])
        result["leave_one_source_out"][unseen] = _score(model, trees, samples[unseen])[unseen]
    result["seconds"] = round(time.time() - t0)
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
