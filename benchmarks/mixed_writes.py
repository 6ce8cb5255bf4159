"""Search latency while other users write: p50/p95 of ``search()`` with no writes, and with one
``add`` by another user before each search (from the same store, or from a second connection
to it, as another process or server worker would), for one or more source trees in one run.

    .venv/bin/python benchmarks/mixed_writes.py --trees base=/tmp/base/src,new=src \
        --out benchmarks/results/mixed-writes.json

Each tree (``name=path`` of a source folder put first on PYTHONPATH; ``src`` for this
checkout) builds its own store of ``--users`` searched users and ``--writers`` other users,
``--per-user`` memories each (``ltm.bench.corpus``: realistic text; the store's default
embedder unless ``--embedder``), then ``--rounds`` rounds measure every tree in turn, each in
a fresh process on its own store, so that the trees share the machine's load. In each process
the queries (``Corpus.queries`` of the searched users, drawn uniformly) are run once untimed,
then in timed passes:

- ``quiet``: the same queries again, nothing written;
- ``tenants-same-store``: each search follows an ``add`` of a random one of the other users
  (``--writers``: users nobody searches here, as other tenants of a server) through the same
  store;
- ``tenants-second-connection``: the same through a second ``ltm.open`` of the store (another
  SQLite connection: another process or server worker);
- ``searched-users-second-connection``: each search follows an ``add`` (second connection)
  of a random searched user other than the one searching (with 30 users, most searches then
  find their own user written since its last search);
- ``new-queries-quiet`` and ``new-queries-tenants``: questions not asked before (their words'
  postings are read cold), without and with the other users' writes (second connection).

Latency runs are not niced; the 1-minute load average is recorded at each measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PASSES = ("quiet", "tenants-same-store", "tenants-second-connection",
          "searched-users-second-connection", "new-queries-quiet", "new-queries-tenants")


def _open(store: str, embedder: str | None) -> Any:
    import ltm

    return ltm.open(store, embedder=embedder) if embedder else ltm.open(store)


def build(store: str, users: int, per_user: int, embedder: str | None, seed: int) -> None:
    from ltm.bench.corpus import Corpus

    corpus = Corpus(users * per_user, users, seed=seed)  # (searched users and writers)
    with _open(store, embedder) as mem:
        batch: list[dict[str, Any]] = []
        for item in corpus.items():
            batch.append({"text": item.text, "user": item.user, "session": item.session,
                          "time": item.time})
            if len(batch) == 1000:
                mem.add_many(batch)
                batch = []
        if batch:
            mem.add_many(batch)


def measure(store: str, users: int, writers: int, queries: int, embedder: str | None,
            seed: int, round_: int) -> dict[str, Any]:
    """One process's timed passes: {pass: [search seconds]}. Users 0..users-1 are searched,
    the next ``writers`` users only written."""
    from ltm.bench.corpus import Corpus, user_name

    corpus = Corpus(users + writers, users + writers, seed=seed)  # (personas, queries)

    def questions(n: int, qseed: int) -> list[tuple[str, str]]:
        pairs = [p for p in corpus.queries(n * (users + writers) // users + 50, seed=qseed)
                 if int(p[0][-5:]) < users]
        return pairs[:n]

    asked = questions(queries, 1)
    fresh = questions(queries, 100 + round_)  # not asked before in this store
    extra = Corpus(queries * 4, users + writers, seed=seed + 1000 + round_)
    texts = [i.text for i in extra.items()]
    rng = random.Random(round_)
    out: dict[str, list[float]] = {}
    with _open(store, embedder) as mem, _open(store, embedder) as second:
        for user, q in asked:  # untimed: caches, the query vectors' cache
            mem.search(q, user=user, k=10)

        def timed(name: str, pairs: list[tuple[str, str]], writer: Any, tenants: bool) -> None:
            lat = []
            for user, q in pairs:
                if writer is not None:
                    if tenants:
                        other = user_name(users + rng.randrange(writers))
                    else:
                        other = user
                        while other == user and users > 1:
                            other = user_name(rng.randrange(users))
                    writer.add(texts.pop(), user=other)
                t0 = time.perf_counter()
                mem.search(q, user=user, k=10)
                lat.append(time.perf_counter() - t0)
            out[name] = lat

        timed("quiet", asked, None, False)
        timed("tenants-same-store", asked, mem, True)
        timed("tenants-second-connection", asked, second, True)
        timed("searched-users-second-connection", asked, second, False)
        half = len(fresh) // 2
        timed("new-queries-quiet", fresh[:half], None, False)
        timed("new-queries-tenants", fresh[half:], second, True)
    return {"round": round_, "load_1m": os.getloadavg()[0], "seconds": out}


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def _run(tree: str, args: list[str]) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.abspath(tree) + os.pathsep + env.get("PYTHONPATH", "")
    got = subprocess.run([sys.executable, __file__, *args], env=env, check=True,
                         capture_output=True, text=True)
    return got.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trees", default="new=src",
                    help="name=source folder, comma separated (e.g. base=/tmp/base/src,new=src)")
    ap.add_argument("--users", type=int, default=30, help="users searched")
    ap.add_argument("--writers", type=int, default=30, help="other users, only written")
    ap.add_argument("--per-user", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--embedder", default=None, help="default: the store's default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--worker", choices=("build", "measure"), default=None)
    ap.add_argument("--store", default=None)
    ap.add_argument("--round", type=int, default=0)
    args = ap.parse_args()
    if args.worker == "build":
        build(args.store, args.users + args.writers, args.per_user, args.embedder, args.seed)
        return
    if args.worker == "measure":
        print(json.dumps(measure(args.store, args.users, args.writers, args.queries,
                                 args.embedder, args.seed, args.round)))
        return
    trees = dict(t.split("=", 1) for t in args.trees.split(","))
    common = ["--users", str(args.users), "--writers", str(args.writers),
              "--per-user", str(args.per_user),
              "--queries", str(args.queries), "--seed", str(args.seed)]
    if args.embedder:
        common += ["--embedder", args.embedder]
    work = tempfile.mkdtemp(prefix="ltm-mixed-")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    try:
        for name, tree in trees.items():
            t0 = time.perf_counter()
            _run(tree, ["--worker", "build", "--store", os.path.join(work, name), *common])
            print(f"{name}: built in {time.perf_counter() - t0:.1f} s", flush=True)
        for r in range(args.rounds):
            for name, tree in trees.items():
                got = json.loads(_run(tree, ["--worker", "measure", "--round", str(r),
                                             "--store", os.path.join(work, name), *common]))
                runs[name].append(got)
                line = ", ".join(f"{p} {1000 * statistics.median(got['seconds'][p]):.2f}"
                                 for p in PASSES)
                print(f"round {r} {name} (load {got['load_1m']:.2f}): p50 ms {line}",
                      flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary: dict[str, Any] = {}
    for name in trees:
        summary[name] = {}
        for p in PASSES:
            lat = [s for run in runs[name] for s in run["seconds"][p]]
            summary[name][p] = {"searches": len(lat), "p50_ms": round(1000 * _pct(lat, 0.5), 3),
                                "p95_ms": round(1000 * _pct(lat, 0.95), 3)}
    print(f"{'pass':34s}" + "".join(f"{n + ' p50/p95 ms':>24s}" for n in trees))
    for p in PASSES:
        print(f"{p:34s}" + "".join(
            f"{summary[n][p]['p50_ms']:>13.2f} / {summary[n][p]['p95_ms']:<8.2f}"
            for n in trees))
    commits = {}
    for name, tree in trees.items():  # the commit of each tree, where it is a git checkout
        got = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True)
        commits[name] = got.stdout.strip() or None
    out = {"users": args.users, "writers": args.writers, "per_user": args.per_user,
           "commits": commits, "queries": args.queries,
           "rounds": args.rounds, "embedder": args.embedder or "default", "k": 10,
           "trees": trees, "summary": summary,
           "rounds_detail": {n: [{"round": r["round"], "load_1m": r["load_1m"],
                                  **{p: round(1000 * statistics.median(r["seconds"][p]), 3)
                                     for p in PASSES}} for r in runs[n]] for n in trees}}
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
