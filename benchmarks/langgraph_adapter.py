"""What LangGraph's store calls cost on ``ltm.integrations.langgraph.LtmStore`` as it grows.

    .venv/bin/python benchmarks/langgraph_adapter.py --sizes 5000 \
        --out benchmarks/results/adapters-langgraph.json

One ltm user holds N items spread over 10 namespaces, written by one ``batch`` of N puts
(timed). Then, each timed ``--repeats`` times (median ms): a put that updates an item, a put
of a new key, a get (of an item the store object wrote; of one it has not seen), a search
without a query (limit 10; offset 100; a value filter), a
search with a query, ``list_namespaces``; and how many history events 20 searches leave on
an item with a TTL. The store uses the hashing embedder.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _median_ms(fn: Callable[[int], Any], repeats: int) -> float:
    fn(-1)  # warm-up, not timed
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def measure(folder: str, n: int, repeats: int, seed: int) -> dict[str, Any]:
    from langgraph.store.base import PutOp

    from ltm.integrations.langgraph import LtmStore

    rng = random.Random(seed)
    words = "hike lisbon cat pasta train river garden piano book coffee".split()
    spaces = [("u", "memories", f"topic{j}") for j in range(10)]
    store = LtmStore.open(folder, embedder="hash")
    try:
        ops = [PutOp(spaces[i % 10], f"k{i}",
                     {"text": f"{rng.choice(words)} {rng.choice(words)} note {i}",
                      "n": i % 7}) for i in range(n)]
        t0 = time.perf_counter()
        store.batch(ops)
        batch_s = time.perf_counter() - t0
        row: dict[str, Any] = {"items": n, "batch_put_s": round(batch_s, 2)}
        row["put_update_ms"] = _median_ms(
            lambda i: store.put(spaces[0], f"k{10 * (i % 50)}", {"text": f"changed {i}"}),
            repeats)
        row["put_new_ms"] = _median_ms(
            lambda i: store.put(spaces[1], f"new{i}", {"text": f"fresh {i}"}), repeats)
        row["get_ms"] = _median_ms(lambda i: store.get(spaces[2], f"k{10 * (i % 50) + 2}"),
                                   repeats)
        cold = LtmStore(store.store)  # a store object that has not seen the items
        row["get_unseen_ms"] = _median_ms(
            lambda i: cold.get(spaces[3], f"k{10 * (i % 50) + 3}"), repeats)
        row["search_no_query_ms"] = _median_ms(lambda i: store.search(("u",), limit=10),
                                               repeats)
        row["search_no_query_offset100_ms"] = _median_ms(
            lambda i: store.search(("u",), limit=10, offset=100), repeats)
        row["search_no_query_filter_ms"] = _median_ms(
            lambda i: store.search(("u", "memories"), filter={"n": 3}, limit=10), repeats)
        row["search_query_ms"] = _median_ms(
            lambda i: store.search(("u",), query="lisbon cat", limit=10), repeats)
        row["list_namespaces_ms"] = _median_ms(lambda i: store.list_namespaces(), repeats)
        store.put(("u", "ttl"), "t", {"text": "kept while read"}, ttl=60)
        for _ in range(20):
            store.search(("u", "ttl"), limit=10)
        mem = store.store.list("u", metadata={"lg_key": "t"}).memories[0]
        row["history_events_after_20_reads"] = len(store.store.history(mem.id, user="u"))
    finally:
        store.close()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--sizes", default="5000")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label", default="")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import ltm

    rows = []
    base = tempfile.mkdtemp(prefix="ltm-lg-")
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            row = measure(os.path.join(base, f"store-{n}"), n, args.repeats, args.seed)
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    out = {"label": args.label, "embedder": "hash", "ltm": ltm.__file__,
           "load_average_1m_end": os.getloadavg()[0], "results": rows}
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
