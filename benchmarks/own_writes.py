"""Search right after the same user's own write: p50 and max of ``search()`` when each search
follows an ``add`` of the searching user (the same store, as an agent that stores a turn and
then recalls), and the steady-state p50 with nothing written, on one user's scope of
``--sizes`` memories, for one or more source trees in one run.

    .venv/bin/python benchmarks/own_writes.py --trees base=/tmp/base/src,new=src \
        --out benchmarks/results/own-writes.json

Each tree (``name=path`` of a source folder put first on PYTHONPATH; ``src`` for this
checkout) builds its own store per size (one user, ``ltm.bench.corpus`` text, the default
embedder unless ``--embedder``). Then ``--rounds`` rounds run every tree and size in turn,
each in a fresh process on a fresh copy of its store (the adds of one round are not in the
next), so that the trees share the machine's load. In each process: ``--queries`` searches
(``Corpus.queries``, k=10) untimed, the same again timed (``steady``), then ``--queries``
times an ``add`` of new text (``Corpus`` of another seed, no session) followed by a timed
search of the next query (``after-own-add``), then as many times a fact that supersedes the
fact added before it (``add(..., kind="fact", supersedes=...)``: an insert and a change of
the older row) followed by a timed search (``after-own-supersede``). Only ``search()`` is
timed. Latency runs are not niced; the 1-minute load average is recorded at each
measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mixed_writes as _mixed  # (this folder: the script runs as a file)

PASSES = ("steady", "after-own-add", "after-own-supersede")


def build(store: str, size: int, embedder: str | None, seed: int) -> None:
    """One user's ``size`` memories of ``ltm.bench.corpus``: the mixed-writes benchmark's
    store (its ``build``) with one user."""
    _mixed.build(store, 1, size, embedder, seed)


def measure(store: str, size: int, queries: int, embedder: str | None, seed: int,
            round_: int) -> dict[str, Any]:
    from ltm.bench.corpus import Corpus

    asked = Corpus(size, 1, seed=seed).queries(queries, seed=1)
    texts = [i.text for i in Corpus(2 * queries, 1, seed=seed + 1000 + round_).items()]
    out: dict[str, list[float]] = {p: [] for p in PASSES}
    with _mixed._open(store, embedder) as mem:
        for user, q in asked:  # untimed: caches, the query vectors' cache
            mem.search(q, user=user, k=10)
        for user, q in asked:
            t0 = time.perf_counter()
            mem.search(q, user=user, k=10)
            out["steady"].append(time.perf_counter() - t0)
        for (user, q), text in zip(asked, texts):
            mem.add(text, user=user)
            t0 = time.perf_counter()
            mem.search(q, user=user, k=10)
            out["after-own-add"].append(time.perf_counter() - t0)
        previous = None
        for (user, q), text in zip(asked, texts[len(asked):]):
            previous = mem.add(text, user=user, kind="fact",
                               supersedes=previous.id if previous is not None else None)
            t0 = time.perf_counter()
            mem.search(q, user=user, k=10)
            out["after-own-supersede"].append(time.perf_counter() - t0)
    return {"round": round_, "size": size, "load_1m": os.getloadavg()[0], "seconds": out}


def _run(tree: str, args: list[str]) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.abspath(tree) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    got = subprocess.run([sys.executable, __file__, *args], env=env, check=True,
                         capture_output=True, text=True)
    return got.stdout


def _ms(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(1000 * s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))], 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trees", default="new=src",
                    help="name=source folder, comma separated (e.g. base=/tmp/base/src,new=src)")
    ap.add_argument("--sizes", default="1000,20000", help="memories of the one user")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--embedder", default=None, help="default: the store's default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--worker", choices=("build", "measure"), default=None)
    ap.add_argument("--store", default=None)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--round", type=int, default=0)
    args = ap.parse_args()
    common = ["--queries", str(args.queries), "--seed", str(args.seed)]
    if args.embedder:
        common += ["--embedder", args.embedder]
    if args.worker == "build":
        build(args.store, args.size, args.embedder, args.seed)
        return
    if args.worker == "measure":
        print(json.dumps(measure(args.store, args.size, args.queries, args.embedder,
                                 args.seed, args.round)))
        return
    trees = dict(t.split("=", 1) for t in args.trees.split(","))
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="ltm-own-writes-"))
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {
        name: {s: [] for s in sizes} for name in trees}
    try:
        for name, tree in trees.items():
            for size in sizes:
                t0 = time.perf_counter()
                _run(tree, ["--worker", "build", "--size", str(size),
                            "--store", str(work / f"{name}-{size}"), *common])
                print(f"{name} {size}: built in {time.perf_counter() - t0:.1f} s", flush=True)
        for r in range(args.rounds):
            for size in sizes:
                for name, tree in trees.items():
                    copy = work / "round"
                    shutil.rmtree(copy, ignore_errors=True)
                    shutil.copytree(work / f"{name}-{size}", copy)
                    got = json.loads(_run(tree, ["--worker", "measure", "--round", str(r),
                                                 "--size", str(size), "--store", str(copy),
                                                 *common]))
                    runs[name][size].append(got)
                    sec = got["seconds"]
                    print(f"round {r} {name} {size} (load {got['load_1m']:.2f}): steady p50 "
                          f"{_ms(sec['steady'], 0.5):.2f} ms, after own add p50 "
                          f"{_ms(sec['after-own-add'], 0.5):.2f} max "
                          f"{_ms(sec['after-own-add'], 1.0):.2f} ms, after own supersede p50 "
                          f"{_ms(sec['after-own-supersede'], 0.5):.2f} max "
                          f"{_ms(sec['after-own-supersede'], 1.0):.2f} ms", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary: dict[str, Any] = {}
    for name in trees:
        summary[name] = {}
        for size in sizes:
            lat = {p: [s for run in runs[name][size] for s in run["seconds"][p]]
                   for p in PASSES}
            summary[name][str(size)] = {
                "steady": {"searches": len(lat["steady"]), "p50_ms": _ms(lat["steady"], 0.5),
                           "p95_ms": _ms(lat["steady"], 0.95)},
                **{p: {"searches": len(lat[p]), "p50_ms": _ms(lat[p], 0.5),
                       "p95_ms": _ms(lat[p], 0.95), "max_ms": _ms(lat[p], 1.0)}
                   for p in PASSES[1:]}}
    print(f"{'size':>6s} {'tree':>9s} {'steady p50':>11s} {'after-add p50':>14s} "
          f"{'p95':>8s} {'max':>8s} {'supersede p50':>14s} {'p95':>8s} {'max':>8s}")
    for size in sizes:
        for name in trees:
            s = summary[name][str(size)]
            a, b = s["after-own-add"], s["after-own-supersede"]
            print(f"{size:>6d} {name:>9s} {s['steady']['p50_ms']:>11.2f} "
                  f"{a['p50_ms']:>14.2f} {a['p95_ms']:>8.2f} {a['max_ms']:>8.2f} "
                  f"{b['p50_ms']:>14.2f} {b['p95_ms']:>8.2f} {b['max_ms']:>8.2f}")
    commits = {}
    for name, tree in trees.items():  # the commit of each tree, where it is a git checkout
        got = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True)
        commits[name] = got.stdout.strip() or None
    out = {"sizes": sizes, "queries": args.queries, "rounds": args.rounds,
           "embedder": args.embedder or "default", "k": 10, "trees": trees,
           "commits": commits, "summary": summary,
           "rounds_detail": {n: {str(size): [
               {"round": r["round"], "load_1m": r["load_1m"],
                **{p: {"p50_ms": _ms(r["seconds"][p], 0.5), "max_ms": _ms(r["seconds"][p], 1.0)}
                   for p in PASSES}} for r in runs[n][size]] for size in sizes} for n in trees}}
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
