"""``ltm bench scale --backend postgres``: the scale benchmark on PostgreSQL + pgvector.

The same corpus, phases and JSON keys as the SQLite run (``ltm.bench.scale``), on one
PostgreSQL server: ``--dsn`` (or ``LTM_POSTGRES_URL``), else a temporary PostgreSQL 16 +
pgvector started from the ``pgserver`` package (as the tests do) and deleted after. Each store
is a fresh schema of that database, dropped at the end unless ``keep``.

1. ``ingest``: N memories over U users through ``MemoryStore.add_many`` (embedding included).
2. ``search``: open + first query, then user-scoped ``search()`` (with and without the query
   embedding) and the dense retriever alone.
3. ``single``: the same N memories in one user, loaded inside ``PostgresBackend.bulk_load()``
   (the scope's HNSW index is built once, at the end: timed as ``hnsw_build_s``); HNSW latency
   and recall@10 against exact search over the scope's vectors, and ``search()`` in that scope.
   Then a further batch is added to the indexed scope (``single_indexed_insert_per_s``).
4. ``single-reopen``: open + first query of that store.

Each phase runs in a fresh Python process, so its peak resident set is its own; that is the
client's memory only (the server's processes are not counted: ``peak_rss_mb_note``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
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

SERVER_SETTINGS = ("server_version", "shared_buffers", "work_mem", "maintenance_work_mem",
                   "max_parallel_workers", "max_parallel_maintenance_workers")


def with_schema(url: str, schema: str) -> str:
    return url + ("&" if "?" in url else "?") + "schema=" + schema


def start_server(dsn: str | None) -> tuple[str, Any]:
    """(URL, server or None): ``dsn``, else ``LTM_POSTGRES_URL``, else a temporary pgserver."""
    url = dsn or os.environ.get("LTM_POSTGRES_URL")
    if url:
        return url, None
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import time when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        from ..errors import MissingDependency
        raise MissingDependency("pgserver", "postgres-test") from None
    import logging

    # outside any 0700 folder of ours: pgserver runs postgres as its own user when we are root
    folder = tempfile.mkdtemp(prefix="ltm-pg-bench-")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    server = pgserver.get_server(folder, cleanup_mode="delete")
    return server.get_uri(), server


def stop_server(server: Any) -> None:
    if server is None:
        return
    folder = str(server.pgdata)
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def _sql(url: str, statements: list[str]) -> list[Any]:
    import psycopg

    out = []
    with psycopg.connect(url, autocommit=True) as conn:
        for s in statements:
            cur = conn.execute(s)  # bench-built SQL, no user input
            out.append(cur.fetchone() if cur.description else None)
    return out


def server_info(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        info = {k: conn.execute(f"SHOW {k}").fetchone()[0]  # type: ignore[index]
                for k in SERVER_SETTINGS}
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        info["pgvector"] = row.fetchone()[0]  # type: ignore[index]
    return info


# -- phases (each runs in its own process) -------------------------------------------------
def phase_ingest(a: dict[str, Any]) -> dict[str, Any]:
    import ltm

    corpus = Corpus(a["n"], a["users"], a["seed"])
    single = a.get("single", False)
    store = ltm.open(a["url"], **a.get("settings", {}))
    backend: Any = store.backend
    batch: list[dict[str, Any]] = []
    spent, cpu = 0.0, 0.0
    batches: list[float] = []
    bar = _bar(a["n"], "ingest" + (" (one scope)" if single else ""), a["progress"])

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

    out: dict[str, Any] = {}
    if single:
        # the graph of the whole scope in memory while it is built (pgvector writes it out
        # node by node, far slower, once it outgrows maintenance_work_mem): ~dim * 4 bytes
        # of vector and ~400 of neighbour lists a row, doubled for slack; 1 GB at least
        need_mb = a["n"] * (store.embedder.dim * 4 + 400) * 2 // 2**20
        backend.hnsw_build_mem = f"{max(1024, need_mb)}MB"
        out["hnsw_build_mem"] = backend.hnsw_build_mem
    with backend.bulk_load() if single else nullcontext():
        for item in corpus.items():
            batch.append({"text": item.text, "user": SINGLE_USER if single else item.user,
                          "session": item.session, "time": item.time})
            if len(batch) == a["batch"]:
                flush()
        if batch:
            flush()
        bar.close()
        t_build = time.perf_counter()
    if single:  # bulk_load() built the scope's HNSW index on exit
        out["hnsw_build_s"] = round(time.perf_counter() - t_build, 3)
    t0 = time.perf_counter()
    _sql(a["admin_url"], [f'ANALYZE "{a["schema"]}".memories'])
    analyze_s = time.perf_counter() - t0
    stats = store.stats()
    store.close()
    return {**out, "count": stats["memories"], "ingest_s": round(spent, 3),
            "ingest_per_s": round(rate(a["n"], spent), 1),
            # CPU seconds of this (client) process; the server's work is not in it
            "ingest_client_cpu_s": round(cpu, 3),
            **latency_summary(batches, "ingest_batch"),
            "analyze_s": round(analyze_s, 3), "bytes_on_disk": stats["bytes_on_disk"],
            "peak_rss_mb": _rss_mb()}


def phase_search(a: dict[str, Any]) -> dict[str, Any]:
    import ltm

    corpus = Corpus(a["n"], a["users"], a["seed"])
    queries = corpus.queries(a["queries"], seed=a["seed"] + 1)
    k = a["k"]
    t0 = time.perf_counter()
    store = ltm.open(a["url"])
    t_open = time.perf_counter() - t0
    store.search(queries[0][1], user=queries[0][0], k=k)
    first = time.perf_counter() - t0
    out: dict[str, Any] = {"reopen_s": round(t_open, 4), "reopen_first_query_s": round(first, 4)}
    bar = _bar(3 * len(queries), "user-scoped search", a["progress"])
    lat, cpu, alone, dense = timed_scoped_passes(store, queries, k, bar)
    bar.close()
    store.close()
    out.update(latency_summary(lat, "scoped_search"))
    out.update(latency_summary(cpu, "scoped_search_client_cpu"))
    out.update(latency_summary(alone, "scoped_search_noembed"))
    out.update(latency_summary(dense, "scoped_dense"))
    out["peak_rss_mb"] = _rss_mb()
    return out


def _scope_vectors(url: str, user: str) -> tuple[list[str], Any]:
    """Ids and vectors of one scope, streamed from the server (the ground truth's input)."""
    import numpy as np
    import psycopg

    from ltm.backends.postgres import _register_vector, split_dsn

    dsn, schema = split_dsn(url)
    ids: list[str] = []
    chunks: list[Any] = []
    with psycopg.connect(dsn) as conn:
        _register_vector(conn)
        cur = conn.cursor(name="ltm_bench_truth", binary=True)
        cur.itersize = 10_000
        cur.execute(f'SELECT id, embedding FROM "{schema}".memories WHERE user_id = %s '
                    f"AND embedding IS NOT NULL", [user])
        block: list[Any] = []
        for mid, vec in cur:
            ids.append(mid)
            block.append(vec)
            if len(block) == 65_536:
                chunks.append(np.stack(block))
                block = []
        if block:
            chunks.append(np.stack(block))
        cur.close()
    return ids, np.concatenate(chunks)


def phase_single(a: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    import ltm
    from ltm.backends.base import Filters

    corpus = Corpus(a["n"], a["users"], a["seed"])
    queries = [q for _, q in corpus.queries(a["queries"], seed=a["seed"] + 2)]
    k = a["k"]
    store = ltm.open(a["url"], **a.get("settings", {}))
    backend: Any = store.backend
    qvecs = store.embedder.embed(queries)
    flt = Filters(user=SINGLE_USER)
    hnsw = backend.scope_indexed(SINGLE_USER)
    backend.dense_search(qvecs[0], flt, k)  # one warm-up query
    bar = _bar(2 * len(queries) + a["hybrid_queries"], "one scope", a["progress"])
    lat, cpu, found = [], [], []
    for qv in qvecs:
        t1, c1 = time.perf_counter(), time.process_time()
        hits = backend.dense_search(qv, flt, k)
        lat.append(time.perf_counter() - t1)
        cpu.append(time.process_time() - c1)
        found.append([h[0] for h in hits])
        bar.update()
    t1 = time.perf_counter()
    ids, vecs = _scope_vectors(a["url"], SINGLE_USER)
    fetch_s = time.perf_counter() - t1
    truth, exact_lat, tied = [], [], []
    pos = {mid: i for i, mid in enumerate(ids)}
    for qv, got in zip(qvecs, found):
        t1 = time.perf_counter()
        s = vecs @ qv
        top = np.argpartition(-s, k)[:k] if k < len(s) else np.arange(len(s))
        top = top[np.argsort(-s[top], kind="stable")]
        truth.append([ids[i] for i in top])
        exact_lat.append(time.perf_counter() - t1)
        # duplicate texts tie at the k-th score: a found duplicate of a true neighbour is a hit
        exact = [float(s[pos[h]]) for h in got[:k] if h in pos]
        tied.append(recall_at_k_ties(exact, float(s[top[-1]]), k, len(s)))
        bar.update()
    del vecs
    hybrid = []
    for q in queries[: a["hybrid_queries"]]:
        t1 = time.perf_counter()
        store.search(q, user=SINGLE_USER, k=k)
        hybrid.append(time.perf_counter() - t1)
        bar.update()
    bar.close()
    out: dict[str, Any] = {"single_scope_count": len(ids), "single_scope_hnsw": hnsw,
                           "single_truth_fetch_s": round(fetch_s, 3)}
    out.update(latency_summary(lat, "single_scope"))
    out.update(latency_summary(cpu, "single_scope_client_cpu"))
    out.update(latency_summary(exact_lat, "single_scope_exact_numpy"))
    if hybrid:
        out.update(latency_summary(hybrid, "single_scope_search"))
    # as in the SQLite run: ties counted as hits (ann-benchmarks), strict id overlap beside it
    out["single_scope_recall_at_10"] = round(sum(tied) / len(tied), 4)
    out["single_scope_recall_at_10_ids"] = round(mean_recall(found, truth, k), 4)
    out["hnsw_ef_search"] = backend.hnsw_ef_search
    # a further batch into the indexed scope: the rate of ingest once the graph exists
    extra = [{"text": f"{q} (follow-up {i})", "user": SINGLE_USER}
             for i, q in enumerate((queries * (1 + a["batch"] // len(queries)))[: a["batch"]])]
    t1 = time.perf_counter()
    store.add_many(extra)
    out["single_indexed_insert_per_s"] = round(rate(len(extra), time.perf_counter() - t1), 1)
    store.close()
    out["single_peak_rss_mb"] = _rss_mb()
    return out


def phase_single_reopen(a: dict[str, Any]) -> dict[str, Any]:
    return single_reopen_first_query(a["url"], a)


PHASES = {"ingest": phase_ingest, "search": phase_search, "single": phase_single,
          "single-reopen": phase_single_reopen}


def run_phase(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one phase in a fresh interpreter; its last stdout line is the JSON result."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ltm.bench.scale_pg", "_phase", name,
                           json.dumps(args)], check=False, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "TOKENIZERS_PARALLELISM": "true"})
    if proc.returncode != 0:
        raise PhaseFailed(f"phase {name} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result[f"{name.replace('-', '_')}_process_s"] = round(time.perf_counter() - t0, 3)
    return result


def run_scale_pg(n: int, users: int, *, dsn: str | None = None, queries: int = 1000,
                 batch: int = 1000, seed: int = 0, k: int = 10, single_scope: bool = True,
                 progress: bool = True, hnsw_min_scope: int | None = None,
                 hybrid_queries: int = 200, keep: bool = False, multi_user: bool = True,
                 ef_search: int | None = None) -> dict[str, Any]:
    """All phases against one server; returns the merged result (the JSON of the command).
    ``ef_search`` sets the store's ``hnsw_ef_search`` for the one-scope phases."""
    nothing_to_measure(multi_user, single_scope)
    url, server = start_server(dsn)
    tag = secrets.token_hex(4)
    multi, single = f"bench_{tag}", f"bench1_{tag}"
    base = {"n": n, "users": users, "seed": seed, "batch": batch, "progress": progress,
            "queries": queries, "k": k, "hybrid_queries": min(hybrid_queries, queries),
            "admin_url": url}
    settings: dict[str, Any] = {} if hnsw_min_scope is None else {
        "hnsw_min_scope": hnsw_min_scope}
    if ef_search is not None:
        settings["hnsw_ef_search"] = ef_search
    out: dict[str, Any] = {
        "benchmark": "scale", "backend": "postgres", "n": n, "users": users, "batch": batch,
        "seed": seed, "k": k, "queries": queries, "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_at_start": list(os.getloadavg()),
        "server_started_by_bench": server is not None, "multi_user": multi_user}
    try:
        out["server"] = server_info(url)
        rss: list[float] = []
        if multi_user:
            ing = run_phase("ingest", {**base, "url": with_schema(url, multi), "schema": multi})
            out.update(ing)
            out["ingest_peak_rss_mb"] = ing.pop("peak_rss_mb")
            srch = run_phase("search", {**base, "url": with_schema(url, multi)})
            out["search_peak_rss_mb"] = srch.pop("peak_rss_mb")
            out.update(srch)
            rss += [out["ingest_peak_rss_mb"], out["search_peak_rss_mb"]]
        if single_scope:
            one = {**base, "url": with_schema(url, single), "schema": single,
                   "settings": settings}
            ing1 = run_phase("ingest", {**one, "single": True})
            out["single_ingest_per_s"] = ing1["ingest_per_s"]
            out["single_ingest_s"] = ing1["ingest_s"]
            out["hnsw_build_s"] = ing1["hnsw_build_s"]
            out["hnsw_build_mem"] = ing1["hnsw_build_mem"]
            out["single_ingest_peak_rss_mb"] = ing1["peak_rss_mb"]
            out["single_bytes_on_disk"] = ing1["bytes_on_disk"]
            out.update(run_phase("single", one))
            out.update(run_phase("single-reopen", one))
            rss += [out["single_ingest_peak_rss_mb"], out["single_peak_rss_mb"],
                    out["single_reopen_peak_rss_mb"]]
        out["peak_rss_mb"] = max(rss)
        out["peak_rss_mb_note"] = ("client processes only (each phase its own); the "
                                   "PostgreSQL server's memory is not counted: see "
                                   "server.shared_buffers")
        out["reopen_first_query_note"] = (
            "client open (connection pool, schema check, embedder load) and first query; the "
            "server kept running, so its caches were warm, unlike a SQLite reopen")
        out["load_average_at_end"] = list(os.getloadavg())
    finally:
        if server is not None:
            stop_server(server)  # a temporary server goes, whatever keep says
        elif keep:
            out["kept_schemas"] = [multi, single]
        else:
            _sql(url, [f'DROP SCHEMA IF EXISTS "{s}" CASCADE' for s in (multi, single)])
    return out


KEYS = ("ingest_per_s", "scoped_search_ms_p50", "scoped_search_ms_p95", "scoped_search_ms_p99",
        "single_scope_ms_p95", "single_scope_recall_at_10", "reopen_first_query_s",
        "peak_rss_mb")


def scale_postgres(n: int, users: int, out: Path, *, dsn: str | None, queries: int,
                   batch: int, seed: int, single_scope: bool, hnsw_min_scope: int | None,
                   keep: bool, progress: bool, multi_user: bool = True,
                   ef_search: int | None = None) -> dict[str, Any]:
    """``ltm bench scale --backend postgres``'s run: the result written to ``out`` and
    returned."""
    result = run_scale_pg(n, users, dsn=dsn, queries=queries, batch=batch, seed=seed,
                          single_scope=single_scope, progress=progress,
                          hnsw_min_scope=hnsw_min_scope, keep=keep, multi_user=multi_user,
                          ef_search=ef_search)
    if not single_scope:
        for key in ("single_scope_ms_p95", "single_scope_recall_at_10",
                    "single_scope_recall_at_10_ids"):
            result[key] = None
        result["single_scope_null_reason"] = "not measured (--no-single-scope)"
    if not multi_user:
        for key in ("ingest_per_s", "scoped_search_ms_p50", "scoped_search_ms_p95",
                    "scoped_search_ms_p99", "reopen_first_query_s"):
            result[key] = None
        result["multi_user_null_reason"] = "not measured (--no-multi-user)"
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
