"""Scale benchmark of the PostgreSQL backend (to become ``ltm bench scale --backend postgres``).

Two stores on one PostgreSQL 16 + pgvector server (from ``pgserver`` in a temporary folder, or
``LTM_POSTGRES_URL``), both filled with the seeded synthetic corpus of ``ltm.bench.corpus``:

- multi-tenant: ``n`` memories over ``users`` users; ingest rate (embedding included, and the
  database part alone), user-scoped ``search()`` p50/p95, and the dense retriever's recall@10
  against exact numpy search over that user's vectors;
- single scope: the same ``n`` memories under one user, which the HNSW index serves; dense
  search p50/p95 and recall@10 against exact search, and ``search()`` p50/p95.

Writes ``benchmarks/results/scale-postgres-<n>.json``.

    nice -n 10 .venv/bin/python benchmarks/postgres_scale.py --n 100000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import secrets
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import ltm
from ltm.backends.base import Filters
from ltm.bench.corpus import Corpus, user_name
from ltm.bench.stats import latency_summary, mean_recall

log = logging.getLogger("postgres_scale")
ROOT = Path(__file__).resolve().parent


def server_url() -> tuple[str, Any]:
    url = os.environ.get("LTM_POSTGRES_URL")
    if url:
        return url, None
    import tempfile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    folder = tempfile.mkdtemp(prefix="ltm-pg-bench-")
    server = pgserver.get_server(folder, cleanup_mode="delete")
    return server.get_uri(), server


def with_schema(url: str, schema: str) -> str:
    return url + ("&" if "?" in url else "?") + "schema=" + schema


def ingest(store: ltm.MemoryStore, corpus: Corpus, vectors: np.ndarray, single: str | None,
           batch: int) -> tuple[float, list[str], list[str]]:
    """Insert every item (precomputed vectors) in batches; returns seconds, ids and users."""
    ids: list[str] = []
    users: list[str] = []
    items = list(corpus.items())
    t0 = time.perf_counter()
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        rows = [{"text": it.text, "user": single or it.user, "session": it.session,
                 "time": it.time} for it in chunk]
        mems = store.add_vectors(rows, vectors[start:start + batch])
        ids.extend(m.id for m in mems)
        users.extend(m.user for m in mems)
        if (start // batch) % 20 == 0:
            log.info("ingested %d / %d (%.0f/s)", start + len(chunk), len(items),
                     (start + len(chunk)) / (time.perf_counter() - t0))
    return time.perf_counter() - t0, ids, users


def exact_top(vectors: np.ndarray, rows: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    scores = vectors[rows] @ q
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(rows[i]) for i in order]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--skip-single", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(2)

    url, server = server_url()
    corpus = Corpus(args.n, args.users, seed=0)
    texts = [it.text for it in corpus.items()]
    from ltm.config import Settings
    from ltm.embed import load_embedder

    emb = load_embedder("wordllama", Settings())
    t0 = time.perf_counter()
    vectors = np.concatenate([np.asarray(emb.embed(texts[i:i + 4096]), dtype=np.float32)
                              for i in range(0, len(texts), 4096)])
    embed_s = time.perf_counter() - t0
    log.info("embedded %d texts in %.1f s", len(texts), embed_s)
    queries = corpus.queries(args.queries)
    qvecs = np.asarray(emb.embed([q for _, q in queries]), dtype=np.float32)
    result: dict[str, Any] = {
        "backend": "postgres", "n": args.n, "users": args.users, "queries": args.queries,
        "embedder": emb.name, "dim": emb.dim, "embed_rate_per_s": round(args.n / embed_s, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }

    # -- multi-tenant --------------------------------------------------------------------
    schema = "bench_" + secrets.token_hex(4)
    store = ltm.open(with_schema(url, schema), embedder="wordllama")
    with store.backend.pool.connection() as conn:  # type: ignore[attr-defined]
        result["server"] = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in  # type: ignore
                            ("server_version", "shared_buffers", "work_mem",
                             "maintenance_work_mem", "max_parallel_workers")}
        result["server"]["pgvector"] = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
    secs, ids, users = ingest(store, corpus, vectors, None, args.batch)
    db_rate = args.n / secs
    result["multi"] = {
        "ingest_s": round(secs, 2), "ingest_db_rate_per_s": round(db_rate, 1),
        # embedding and database in sequence, as add_many does them
        "ingest_rate_per_s": round(args.n / (secs + embed_s), 1),
    }
    with store.backend.pool.connection() as conn:  # type: ignore[attr-defined]
        conn.execute(f'ANALYZE "{schema}".memories')
    by_user: dict[str, np.ndarray] = {}
    users_arr = np.asarray(users)
    for u in set(users):
        by_user[u] = np.flatnonzero(users_arr == u)
    lat: list[float] = []
    dense_lat: list[float] = []
    found: list[list[str]] = []
    truth: list[list[str]] = []
    for _ in range(2):  # warm the caches once
        store.search(queries[0][1], user=queries[0][0], k=10)
    for (user, q), qv in zip(queries, qvecs):
        t = time.perf_counter()
        store.search(q, user=user, k=10)
        lat.append(time.perf_counter() - t)
        flt = Filters(user=user)
        t = time.perf_counter()
        hits = store.backend.dense_search(qv, flt, 10)
        dense_lat.append(time.perf_counter() - t)
        found.append([h for h, _ in hits])
        truth.append([ids[i] for i in exact_top(vectors, by_user[user], qv, 10)])
    result["multi"].update(latency_summary(lat, "search"))
    result["multi"].update(latency_summary(dense_lat, "dense"))
    result["multi"]["dense_recall_at_10"] = round(mean_recall(found, truth, 10), 4)
    result["multi"]["stats"] = {k: v for k, v in store.stats().items() if k != "by_kind"}
    log.info("multi: %s", result["multi"])
    store.close()

    # -- one scope -----------------------------------------------------------------------
    if not args.skip_single:
        schema1 = "bench1_" + secrets.token_hex(4)
        store = ltm.open(with_schema(url, schema1), embedder="wordllama")
        secs, ids, _ = ingest(store, corpus, vectors, "solo", args.batch)
        with store.backend.pool.connection() as conn:  # type: ignore[attr-defined]
            conn.execute(f'ANALYZE "{schema1}".memories')
        result["single"] = {"ingest_s": round(secs, 2),
                            "ingest_db_rate_per_s": round(args.n / secs, 1),
                            "hnsw_ef_search": store.settings.hnsw_ef_search}
        all_rows = np.arange(args.n)
        lat, dense_lat, found, truth = [], [], [], []
        flt = Filters(user="solo")
        for _ in range(3):
            store.backend.dense_search(qvecs[0], flt, 10)
        for (_, q), qv in zip(queries, qvecs):
            t = time.perf_counter()
            hits = store.backend.dense_search(qv, flt, 10)
            dense_lat.append(time.perf_counter() - t)
            found.append([h for h, _ in hits])
            truth.append([ids[i] for i in exact_top(vectors, all_rows, qv, 10)])
        for (_, q), qv in list(zip(queries, qvecs))[:100]:
            t = time.perf_counter()
            store.search(q, user="solo", k=10)
            lat.append(time.perf_counter() - t)
        result["single"].update(latency_summary(dense_lat, "dense"))
        result["single"]["dense_recall_at_10"] = round(mean_recall(found, truth, 10), 4)
        result["single"].update(latency_summary(lat, "search"))
        log.info("single: %s", result["single"])
        store.close()

    out = args.out or ROOT / "results" / f"scale-postgres-{args.n}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if server is not None:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
