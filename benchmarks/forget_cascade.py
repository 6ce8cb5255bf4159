"""How long one ``forget(id)`` takes as the user's store grows (the forget cascade's cost).

    nice -n 10 .venv/bin/python benchmarks/forget_cascade.py --sizes 500,20000 \
        --out benchmarks/results/forget-cascade.json [--backend postgres]

One user holds N memories: episodes, plus one summary per 50 episodes whose sources are one
or two of them (so some forgets cascade to the summary and some flag it). The store uses the hashing embedder and
``erase="fast"`` (no compaction per forget), so the time is the forget and its cascade.
Forgets ``--repeats`` episodes chosen at random (half of them sources of a summary) and
reports the median and 90th percentile in ms. PostgreSQL: ``LTM_POSTGRES_URL``, else a
throwaway server from the ``pgserver`` package.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _fill(store: Any, n: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """(episode ids that are sources of a summary, episode ids that are not)."""
    words = "hike lisbon cat pasta train river garden piano book coffee".split()
    n_sum = n // 51
    items = [{"text": f"{rng.choice(words)} {rng.choice(words)} note {i}", "user": "u",
              "session": f"s{i // 20}"} for i in range(n - n_sum)]
    eps = [m.id for m in store.add_many(items)]
    sourced: list[str] = []
    for j in range(n_sum):
        pair = eps[50 * j: 50 * j + 1 + j % 2]  # one source (a forget cascades) or two (flags)
        store.add(f"summary {j}", user="u", kind="summary", sources=pair)
        sourced.extend(pair)
    plain = sorted(set(eps) - set(sourced))
    return sourced, plain


def measure(location: str, n: int, repeats: int, seed: int) -> dict[str, Any]:
    import ltm

    rng = random.Random(seed)
    store = ltm.open(location, embedder="hash", erase="fast")
    try:
        sourced, plain = _fill(store, n, rng)
        picks = rng.sample(sourced, repeats // 2) + rng.sample(plain, repeats - repeats // 2)
        rng.shuffle(picks)
        store.forget(rng.choice(plain), user="u")  # warm-up, not timed
        times = []
        cascaded = 0
        for mid in picks:
            if store.backend.get(mid, "u") is None:  # went with an earlier cascade
                continue
            t0 = time.perf_counter()
            r = store.forget(mid, user="u")
            times.append((time.perf_counter() - t0) * 1000)
            cascaded += r.count - 1
    finally:
        store.close()
    times.sort()
    return {"memories": n, "forgets": len(times), "cascaded": cascaded,
            "median_ms": round(statistics.median(times), 2),
            "p90_ms": round(times[int(0.9 * (len(times) - 1))], 2)}


def _pg_url() -> tuple[str, Any]:
    url = os.environ.get("LTM_POSTGRES_URL")
    if url:
        return url, None
    import pgserver
    import psycopg

    folder = tempfile.mkdtemp(prefix="ltm-pg-")
    server = pgserver.get_server(folder, cleanup_mode="delete")
    url = server.get_uri()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return url, server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="500,20000")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import ltm

    rows = []
    server = None
    base = tempfile.mkdtemp(prefix="ltm-forget-")
    try:
        if args.backend == "postgres":
            url, server = _pg_url()
        for n in (int(s) for s in args.sizes.split(",")):
            if args.backend == "postgres":
                sep = "&" if "?" in url else "?"
                location = f"{url}{sep}schema=f_{secrets.token_hex(4)}"
            else:
                location = os.path.join(base, f"store-{n}")
            row = measure(location, n, args.repeats, args.seed)
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if server is not None:
            server.cleanup()
    out = {"backend": args.backend, "erase": "fast", "embedder": "hash", "ltm": ltm.__file__,
           "load_average_1m_end": os.getloadavg()[0], "results": rows}
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
