"""``ltm bench scale``: ingest, user-scoped search, one large scope, reopen and memory at scale.

The synthetic corpus (``ltm.bench.corpus``) is ingested in batches through the public API
(``MemoryStore.add_many``, embedding included). Each phase that measures time-to-first-answer
or memory runs in a fresh Python process, so its peak resident set is its own:

1. ``ingest``: N memories over U users, batches of ``--batch``; rate, close time, disk size.
2. ``search``: reopen (open + first query) then >= 1,000 user-scoped queries through
   ``search()`` (query embedding included), the same with the query vectors precomputed (the
   search alone), and the dense vector search alone.
3. ``single``: the same N memories in one user; the HNSW index is built (timed), then its
   latency and recall@10 against the exact scan of the same scope on the same queries.
4. ``single-reopen``: reopen of that store and its first query (the HNSW file is loaded).

Only the standard library is imported at module level.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .corpus import Corpus
from .scale_common import (
    SINGLE_USER,
    PhaseFailed,
    _bar,
    _rss_mb,
    nothing_to_measure,
    single_reopen_first_query,
    timed_scoped_passes,
)
from .stats import latency_summary, mean_recall, rate, recall_at_k_ties

RESULTS = Path("benchmarks/results")


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- phases (each runs in its own process) -------------------------------------------------
def phase_ingest(a: dict[str, Any]) -> dict[str, Any]:
    import ltm

    path = Path(a["path"])
    corpus = Corpus(a["n"], a["users"], a["seed"])
    single = a.get("single", False)
    store = ltm.open(path, **a.get("settings", {}))
    batch: list[dict[str, Any]] = []
    spent = 0.0
    batches: list[float] = []
    bar = _bar(a["n"], "ingest" + (" (one scope)" if single else ""), a["progress"])

    cpu = 0.0

    def flush() -> None:
        nonlocal spent, cpu
        t0, c0 = time.perf_counter(), time.process_time()
        store.add_many(batch)
        dt = time.perf_counter() - t0
        cpu += time.process_time() - c0
        spent += dt
        batches.append(dt)
        bar.update(len(batch))
        batch.clear()

    for item in corpus.items():
        batch.append({"text": item.text, "user": SINGLE_USER if single else item.user,
                      "session": item.session, "time": item.time})
        if len(batch) == a["batch"]:
            flush()
    if batch:
        flush()
    bar.close()
    t0 = time.perf_counter()
    store.close()
    close_s = time.perf_counter() - t0
    return {"count": a["n"], "ingest_s": round(spent, 3),
            "ingest_per_s": round(rate(a["n"], spent), 1),
            # CPU seconds of this process (all its threads): the rate on an idle machine
            "ingest_cpu_s": round(cpu, 3), "ingest_per_cpu_s": round(rate(a["n"], cpu), 1),
            **latency_summary(batches, "ingest_batch"),
            "close_s": round(close_s, 3), "bytes_on_disk": _folder_bytes(path),
            "peak_rss_mb": _rss_mb()}


def phase_search(a: dict[str, Any]) -> dict[str, Any]:
    t_start = time.perf_counter()
    import ltm

    t_import = time.perf_counter() - t_start
    corpus = Corpus(a["n"], a["users"], a["seed"])
    queries = corpus.queries(a["queries"], seed=a["seed"] + 1)
    k = a["k"]
    t0 = time.perf_counter()
    store = ltm.open(a["path"])
    t_open = time.perf_counter() - t0
    store.search(queries[0][1], user=queries[0][0], k=k)
    first = time.perf_counter() - t0
    out: dict[str, Any] = {"reopen_s": round(t_open, 4), "reopen_first_query_s": round(first, 4),
                           "import_s": round(t_import, 4)}
    bar = _bar(3 * len(queries), "user-scoped search", a["progress"])
    lat, cpu, alone, dense = timed_scoped_passes(store, queries, k, bar)
    emb_lat = []
    for _, q in queries[: min(len(queries), 1000)]:
        t1 = time.perf_counter()
        store.embedder.embed([q])
        emb_lat.append(time.perf_counter() - t1)
    bar.close()
    store.close()
    out.update(latency_summary(lat, "scoped_search"))
    out.update(latency_summary(cpu, "scoped_search_cpu"))
    out.update(latency_summary(alone, "scoped_search_noembed"))
    out.update(latency_summary(dense, "scoped_dense"))
    out.update(latency_summary(emb_lat, "embed_query"))
    out["peak_rss_mb"] = _rss_mb()
    return out


def phase_reopen(a: dict[str, Any]) -> dict[str, Any]:
    """Open a store whose derived index files are current and answer one query."""
    import ltm

    corpus = Corpus(a["n"], a["users"], a["seed"])
    user, q = corpus.queries(1, seed=a["seed"] + 4)[0]
    t0 = time.perf_counter()
    store = ltm.open(a["path"])
    store.search(q, user=user, k=a["k"])
    first = time.perf_counter() - t0
    store.close()
    return {"reopen_saved_first_query_s": round(first, 4),
            "reopen_saved_peak_rss_mb": _rss_mb()}


def phase_single(a: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    import ltm
    from ltm.backends.base import Filters

    corpus = Corpus(a["n"], a["users"], a["seed"])
    queries = [q for _, q in corpus.queries(a["queries"], seed=a["seed"] + 2)]
    k = a["k"]
    store = ltm.open(a["path"], **a.get("settings", {}))
    backend: Any = store.backend
    qvecs = store.embedder.embed(queries)
    flt = Filters(user=SINGLE_USER)
    t0 = time.perf_counter()
    backend.dense_search(qvecs[0], flt, k)  # builds (or loads) the HNSW index of the scope
    build_s = time.perf_counter() - t0
    idx = backend._vector_index()
    hnsw = backend._hnsw_scope(SINGLE_USER, idx)
    bar = _bar(2 * len(queries) + a["hybrid_queries"], "one scope", a["progress"])
    lat, exact_lat, found, truth = [], [], [], []
    cpu = []
    for qv in qvecs:
        t1, c1 = time.perf_counter(), time.process_time()
        hits = backend.dense_search(qv, flt, k)
        lat.append(time.perf_counter() - t1)
        cpu.append(time.process_time() - c1)
        found.append([h[0] for h in hits])
        bar.update()
    all_rowids, all_vecs = idx.user_rows(SINGLE_USER)  # a view of the mapped file
    kth: list[float] = []
    for qv in qvecs:
        t1 = time.perf_counter()
        rowids, top_scores = _exact_top(idx, all_rowids, all_vecs, qv, k)  # exact scan
        truth.append(backend._ids_for(rowids, np.zeros(len(rowids))))
        exact_lat.append(time.perf_counter() - t1)
        kth.append(float(top_scores[-1]) if len(top_scores) else 0.0)
        bar.update()
    truth_ids = [[i for i, _ in t] for t in truth]
    tie_recall = []
    for qv, f, t, kt in zip(qvecs, found, truth_ids, kth):
        vecs = backend.vectors(f, SINGLE_USER)  # exact float32 scores of what HNSW returned
        exact_scores = [float(np.dot(vecs[i], qv)) for i in f if i in vecs]
        tie_recall.append(recall_at_k_ties(exact_scores, kt, k, len(t)))
    hybrid = []
    for q in queries[: a["hybrid_queries"]]:
        t1 = time.perf_counter()
        store.search(q, user=SINGLE_USER, k=k)
        hybrid.append(time.perf_counter() - t1)
        bar.update()
    bar.close()
    out: dict[str, Any] = {"single_scope_count": idx.count(SINGLE_USER),
                           "single_scope_hnsw": hnsw is not None,
                           "hnsw_build_s": round(build_s, 3)}
    s = latency_summary(lat, "single_scope")
    out.update(s)
    out.update(latency_summary(cpu, "single_scope_cpu"))
    out.update(latency_summary(exact_lat, "single_scope_exact"))
    if hybrid:
        out.update(latency_summary(hybrid, "single_scope_search"))
    # recall@10 counts a returned duplicate of a true neighbour as a hit (ann-benchmarks'
    # definition): the synthetic scope repeats sentences, so the exact top 10 is not unique;
    # the strict id overlap is kept beside it
    out["single_scope_recall_at_10"] = round(sum(tie_recall) / len(tie_recall), 4)
    out["single_scope_recall_at_10_ids"] = round(mean_recall(found, truth_ids, k), 4)
    t0 = time.perf_counter()
    store.close()
    out["single_close_s"] = round(time.perf_counter() - t0, 3)
    out["single_peak_rss_mb"] = _rss_mb()
    return out


def _exact_top(idx: Any, rowids: Any, vecs: Any, qv: Any, k: int) -> Any:
    """Row ids of the exact top k, scanned in blocks whose mapped pages are let go after each
    (the ground truth should not hold the whole scope resident)."""
    import numpy as np

    best_r, best_s = [], []
    for start in range(0, len(rowids), 131_072):
        s = np.einsum("ij,j->i", vecs[start:start + 131_072], qv)
        top = np.argpartition(-s, k)[:k] if k < len(s) else np.arange(len(s))
        best_r.append(rowids[start:start + 131_072][top])
        best_s.append(s[top])
        idx.release()
    r, s = np.concatenate(best_r), np.concatenate(best_s)
    order = np.argsort(-s, kind="stable")[:k]
    return r[order], s[order]


def phase_single_reopen(a: dict[str, Any]) -> dict[str, Any]:
    return single_reopen_first_query(a["path"], a)


PHASES = {"ingest": phase_ingest, "search": phase_search, "reopen": phase_reopen,
          "single": phase_single,
          "single-reopen": phase_single_reopen}


def run_phase(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one phase in a fresh interpreter; its last stdout line is the JSON result."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ltm.bench.scale", "_phase", name,
                           json.dumps(args)], stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "TOKENIZERS_PARALLELISM": "true"})
    if proc.returncode != 0:
        raise PhaseFailed(f"phase {name} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result[f"{name.replace('-', '_')}_process_s"] = round(time.perf_counter() - t0, 3)
    return result


def run_scale(n: int, users: int, *, workdir: Path, queries: int = 1000, batch: int = 1000,
              seed: int = 0, k: int = 10, single_scope: bool = True, progress: bool = True,
              hnsw_min_scope: int | None = None, hybrid_queries: int = 200,
              multi_user: bool = True, ef_search: int | None = None) -> dict[str, Any]:
    """All phases; returns the merged result (the JSON written by the command)."""
    nothing_to_measure(multi_user, single_scope)
    multi, single = workdir / "multi", workdir / "single"
    for p in (multi, single):
        shutil.rmtree(p, ignore_errors=True)
    base = {"n": n, "users": users, "seed": seed, "batch": batch, "progress": progress,
            "queries": queries, "k": k, "hybrid_queries": min(hybrid_queries, queries)}
    settings: dict[str, Any] = {} if hnsw_min_scope is None else {"hnsw_min_scope": hnsw_min_scope}
    if ef_search is not None:
        settings["hnsw_ef_search"] = ef_search
    out: dict[str, Any] = {"benchmark": "scale", "backend": "sqlite", "n": n, "users": users,
                           "batch": batch, "seed": seed, "k": k, "queries": queries,
                           "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
                           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "load_average_at_start": list(os.getloadavg())}
    if ef_search is not None:
        out["hnsw_ef_search"] = ef_search
    out["multi_user"] = multi_user
    rss: list[float] = []
    if multi_user:
        ing = run_phase("ingest", {**base, "path": str(multi)})
        out.update(ing)
        out["ingest_peak_rss_mb"] = ing.pop("peak_rss_mb")
        srch = run_phase("search", {**base, "path": str(multi)})
        out["search_peak_rss_mb"] = srch.pop("peak_rss_mb")
        out.update(srch)
        # the search phase found no index files (an ingest-only process never loads the
        # index, so it had to build it) and saved them on close: this reopen reads them
        out.update(run_phase("reopen", {**base, "path": str(multi)}))
        rss += [out["ingest_peak_rss_mb"], out["search_peak_rss_mb"],
                out["reopen_saved_peak_rss_mb"]]
    if single_scope:
        ing1 = run_phase("ingest", {**base, "path": str(single), "single": True,
                                    "settings": settings})
        out["single_ingest_per_s"] = ing1["ingest_per_s"]
        out["single_ingest_peak_rss_mb"] = ing1["peak_rss_mb"]
        out["single_bytes_on_disk"] = ing1["bytes_on_disk"]
        out.update(run_phase("single", {**base, "path": str(single), "settings": settings}))
        out.update(run_phase("single-reopen", {**base, "path": str(single),
                                                "settings": settings}))
        rss += [out["single_ingest_peak_rss_mb"], out["single_peak_rss_mb"],
                out["single_reopen_peak_rss_mb"]]
    out["peak_rss_mb"] = max(rss)
    out["load_average_at_end"] = list(os.getloadavg())
    return out


def plot_scale(results_dir: Path) -> Path | None:
    """Latency and ingest rate against N from every scale-N.json in ``results_dir``."""
    runs = []
    for p in sorted(results_dir.glob("scale-*.json")):
        if not re.fullmatch(r"scale-\d+\.json", p.name):
            continue  # one run per N: variants (-single, -postgres-..., -multi-quiet) aside
        try:
            data = json.loads(p.read_text())
        except ValueError:
            continue
        if (data.get("benchmark") == "scale" and data.get("backend", "sqlite") == "sqlite"
                and data.get("multi_user", True)):
            runs.append(data)
    if not runs:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs.sort(key=lambda d: d["n"])
    ns = [d["n"] for d in runs]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    series = [("scoped_search_ms_p50", "user-scoped search p50"),
              ("scoped_search_ms_p95", "user-scoped search p95"),
              ("scoped_dense_ms_p95", "user-scoped vector search p95"),
              ("single_scope_ms_p95", "one scope (HNSW) p95")]
    for key, label in series:
        pts = [(d["n"], d[key]) for d in runs if key in d]
        if pts:
            ax1.plot(*zip(*pts), marker="o", label=label)
    ax1.axhline(2, color="grey", ls=":", lw=1)
    ax1.axhline(5, color="grey", ls="--", lw=1)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("memories in the store (N)")
    ax1.set_ylabel("latency (ms)")
    ax1.set_title("search latency vs N")
    ax1.legend(fontsize=8)
    ax2.plot(ns, [d["ingest_per_s"] for d in runs], marker="o", label="ingest (embedding incl.)")
    ax2.axhline(20_000, color="grey", ls="--", lw=1, label="target 20,000/s")
    ax2.set_xscale("log")
    ax2.set_xlabel("memories in the store (N)")
    ax2.set_ylabel("memories / s")
    ax2.set_title("batch ingest rate vs N")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    path = results_dir / "scale-vs-n.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scale_sqlite(n: int, users: int, out: Path, *, workdir: Path | None = None,
                 keep: bool = False, **kw: Any) -> dict[str, Any]:
    """``ltm bench scale``'s run on SQLite: the stores in ``workdir`` (default a temporary
    folder; built stores removed unless ``keep``), the result written to ``out`` and
    returned. ``kw`` goes to ``run_scale``."""
    tmp = workdir is None
    work = Path(tempfile.mkdtemp(prefix="ltm-scale-")) if workdir is None else workdir
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = run_scale(n, users, workdir=work, **kw)
    finally:
        if tmp or not keep:
            shutil.rmtree(work / "multi", ignore_errors=True)
            shutil.rmtree(work / "single", ignore_errors=True)
            if tmp:
                shutil.rmtree(work, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _phase_main(argv: list[str]) -> None:
    name, args = argv[0], json.loads(argv[1])
    result = PHASES[name](args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_phase":
        _phase_main(sys.argv[2:])
