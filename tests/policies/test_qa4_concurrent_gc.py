"""QA of issue 4's gc with two writer processes on one store (a server's background worker and
a cron ``ltm gc``): each session is folded into one summary, not two, and a near-duplicate is
merged once (both runs reinforced the survivor and reported the same merge); with originals
removed, the run that comes second neither fails ('sources ... are not memories') nor
double-counts. On SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from store_locations import opener

import ltm

SESSIONS, TURNS, FACTS, COPIES = 4, 4, 5, 3


def _policy(originals: str) -> dict[str, Any]:
    return {"fact": {"dedup_threshold": 0.95},
            "episode": {"consolidate_after_days": 1, "consolidate_min_turns": 3,
                        "originals": originals}}


def _gc(location: Any, originals: str, barrier: Any, out: Any) -> None:
    store = ltm.open(location, embedder="hash", retention=_policy(originals))
    try:
        barrier.wait(timeout=60)
        report = store.gc()
        out.put(("ok", sum(len(v) for v in report.merged.values()), len(report.consolidated),
                 len(report.removed)))
    except Exception as exc:  # reported to the test, which fails on it
        out.put(("error", type(exc).__name__, str(exc)[:300], 0))
    finally:
        store.close()


def test_two_gc_runs_at_once_fold_and_merge_once(
        xstore: Callable[..., ltm.MemoryStore], location: Any) -> None:
    _two_runs(xstore, location, "remove")


def test_two_gc_runs_at_once_keeping_originals(tmp_path: Path) -> None:
    with opener(tmp_path / "s") as open_:
        _two_runs(lambda **kw: open_(embedder="hash", **kw), tmp_path / "s", "keep")


def _two_runs(xstore: Callable[..., ltm.MemoryStore], location: Any, originals: str) -> None:
    store = xstore(retention={"fact": {"dedup_threshold": None}})
    for i in range(FACTS * COPIES):
        store.add(f"fact number {i % FACTS} about the garden shed", user="u", kind="fact")
    for s in range(SESSIONS):
        store.add_conversation([{"role": "user", "content": f"session {s}, turn {t}: boats"}
                                for t in range(TURNS)], user="u", session=f"s{s}",
                               time="2020-01-01")
    store.close()
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_gc, args=(location, originals, barrier, out))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    results = [out.get(timeout=5) for _ in procs]
    assert all(r[0] == "ok" for r in results), results
    assert sum(r[1] for r in results) == FACTS * (COPIES - 1)  # each merge reported once
    assert sum(r[2] for r in results) == SESSIONS
    assert sum(r[3] for r in results) == (SESSIONS * TURNS if originals == "remove" else 0)
    store = xstore(retention=_policy(originals))
    mems = store.list("u", kinds=["fact", "summary", "episode"], limit=200).memories
    summaries = Counter(m.session for m in mems if m.kind == "summary")
    assert summaries == Counter({f"s{s}": 1 for s in range(SESSIONS)})
    facts = [m for m in mems if m.kind == "fact"]
    assert len(facts) == FACTS
    assert all(m.metadata["ltm_reinforced"] == COPIES - 1 for m in facts)
    episodes = sum(1 for m in mems if m.kind == "episode")
    assert episodes == (0 if originals == "remove" else SESSIONS * TURNS)
    assert store.gc().count == 0
