"""Which relevance-model columns carry to data the model was not fitted on?

Issue 15, eighth pass. Each variant leaves some columns out of the fit (``ranker.UNFITTED_OWN``
/ ``ranker.UNFITTED``) and is scored where it was not fitted:

- BEAM (never in the training data): fitted on LoCoMo + small stores seeds 1-3;
- small stores seed 0 (the benchmark's, never trained on): the same fit;
- LoCoMo by conversation: 5 folds, each fitted on the other conversations + small 1-3;
- selection data only (no BEAM, no seed 0): fitted on small 1-3 and scored on LoCoMo, fitted on
  LoCoMo and scored on small 1-3 (does the variant carry from one training source to the
  other?), and LoCoMo scored by a fit on small 1-3 + BEAM (leave LoCoMo out).

Recall is over each question's candidate pool (which for LoCoMo and BEAM holds every turn of
the conversation); dense alone ranks the pool by the cosine z-score.

    python benchmarks/ranker_generalise.py --locomo PATH/locomo10.json --beam PATH/beam/100K

Writes ``benchmarks/results/ranker-generalise.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from ltm.bench.ranker_data import collect, load_data
from ltm.bench.small import make_small
from ltm.retrieval import ranker
from ltm.retrieval.train import Sample, _folds, evaluate, evaluate_pairs, fit_samples

ABS_TEXT = ("text", "text_any", "text_sqrt")
VARIANTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "all columns (the fit before)": ((), ()),
    "no near": ((), ("near",)),
    "no session_lse": ((), ("session_lse",)),
    "no near, session_lse": ((), ("near", "session_lse")),
    "no near, session_lse, previous, next": ((), ("near", "session_lse", "previous", "next")),
    "no near, session_lse, previous, next, absolute text (shipped)":
        (ABS_TEXT, ("near", "session_lse", "previous", "next")),
}


def _by_type(pairs: list[tuple[Sample, Any]]) -> dict[str, Any]:
    return {t: evaluate_pairs([(s, m) for s, m in pairs if s.qtype == t])["recall"]["10"]
            for t in sorted({s.qtype for s, _ in pairs}) if t != "abstention"}


def _dense_alone(samples: list[Sample]) -> dict[str, float]:
    r10, p1 = [], []
    for s in samples:
        n_ev = s.label.sum() + s.missing
        if s.answerable and n_ev > 0:
            o = np.argsort(-s.pool.dense, kind="stable")
            r10.append(float(s.label[o[:10]].sum() / n_ev))
            p1.append(float(s.label[o[0]]))
    return {"r10": round(float(np.mean(r10)), 4), "p_at_1": round(float(np.mean(p1)), 4)}


def score(loco: list[Sample], beam: list[Sample], small0: list[Sample],
          small: list[Sample]) -> dict[str, Any]:
    """The held-out and selection metrics of the fit as ``ranker`` is set now."""
    def fit(train: list[Sample]) -> ranker.Ranker:
        return fit_samples(train, 1.0, 2)

    out: dict[str, Any] = {}
    m = fit(loco + small)
    out["beam"] = evaluate(m, beam)
    out["beam"]["by_type"] = _by_type([(s, m) for s in beam])
    out["small_seed0"] = evaluate(m, small0)
    pairs = []
    for held in _folds([s.group for s in loco], 5):
        mf = fit([s for s in loco if s.group not in held] + small)
        pairs += [(s, mf) for s in loco if s.group in held]
    out["locomo_cv"] = evaluate_pairs(pairs)
    out["locomo_cv"]["by_type"] = _by_type(pairs)
    a, b = evaluate(fit(small), loco), evaluate(fit(loco), small)
    out["selection"] = {"small_to_locomo_r10": a["recall"]["10"],
                        "locomo_to_small_p_at_1": b["p_at_1"],
                        "locomo_to_small_auroc": b.get("abstention_auroc")}
    out["locomo_left_out_r10"] = evaluate(fit(small + beam), loco)["recall"]["10"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--locomo", required=True)
    ap.add_argument("--beam", required=True)
    ap.add_argument("--out", default="benchmarks/results/ranker-generalise.json")
    args = ap.parse_args()
    loco = collect(load_data(f"locomo:{args.locomo}"), progress=False)
    beam = collect(load_data(f"beam:{args.beam}"), progress=False)
    small0 = collect(make_small(0), progress=False)
    small = collect(load_data("small:1-3"), progress=False)
    shipped = (ranker.UNFITTED_OWN, ranker.UNFITTED)
    result: dict[str, Any] = {
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip(),
        "dense_alone": {"beam": _dense_alone(beam), "small_seed0": _dense_alone(small0),
                        "locomo": _dense_alone(loco)},
        "variants": {}}
    for name, (own, full) in VARIANTS.items():
        ranker.UNFITTED_OWN, ranker.UNFITTED = own, full
        result["variants"][name] = r = score(loco, beam, small0, small)
        print(f"{name}: BEAM R@10 {r['beam']['recall']['10']}, LoCoMo CV R@10 "
              f"{r['locomo_cv']['recall']['10']}, small seed 0 P@1 {r['small_seed0']['p_at_1']}",
              flush=True)
    ranker.UNFITTED_OWN, ranker.UNFITTED = shipped
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
