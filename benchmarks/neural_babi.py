"""MemN2N bAbI sweep: 20 tasks x N seeds, one model per task, best seed chosen on validation.

    python benchmarks/neural_babi.py --data ../shared/data/babi/en --seeds 0 1 2 \
        --out benchmarks/results/neural-memn2n-babi1k.json

Runs in one process (torch.set_num_threads(1)); finished runs are kept in the JSON and
skipped on restart, so an interrupted sweep resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from ltm.neural.babi import TASK_NAMES, resolve_data_dir
from ltm.neural.babi_train import BabiTrainConfig, train_babi

# Sukhbaatar et al. 2015, Table 1, 1k training, 3 hops, PE LS RN, one model per task
# (best of 10 runs chosen on validation): test error in percent.
PAPER_1K_PE_LS_RN = {
    1: 0.0, 2: 8.3, 3: 40.3, 4: 2.8, 5: 13.1, 6: 7.6, 7: 17.3, 8: 10.0, 9: 13.2, 10: 15.1,
    11: 0.9, 12: 0.2, 13: 0.5, 14: 1.7, 15: 0.0, 16: 1.3, 17: 51.0, 18: 11.1, 19: 82.8,
    20: 0.0,
}


def summarise(runs: list[dict], tasks: list[int]) -> dict:
    per_task = {}
    for t in tasks:
        rs = [r for r in runs if r["task"] == t]
        if not rs:
            continue
        best = min(rs, key=lambda r: (r["val_error"], r["val_loss"]))
        per_task[str(t)] = {
            "name": TASK_NAMES[t],
            "chosen_seed": best["seed"],
            "test_error": best["test_error"],
            "val_error": best["val_error"],
            "all_seeds_test_error": {str(r["seed"]): r["test_error"] for r in rs},
            "paper_pe_ls_rn_error": PAPER_1K_PE_LS_RN[t] / 100,
        }
    errs = [v["test_error"] for v in per_task.values()]
    return {
        "tasks_done": len(per_task),
        "mean_test_error": statistics.fmean(errs) if errs else None,
        "failed_tasks_gt_5pct": sorted(int(k) for k, v in per_task.items()
                                      if v["test_error"] > 0.05),
        "paper_mean_error": statistics.fmean(PAPER_1K_PE_LS_RN[int(t)] / 100 for t in per_task)
        if per_task else None,
        "paper_failed_tasks": sorted(int(t) for t in per_task if PAPER_1K_PE_LS_RN[int(t)] > 5),
        "seeds_per_task": {t: len(v["all_seeds_test_error"]) for t, v in per_task.items()},
        "per_task": per_task,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=None, help="bAbI dir (default $LTM_BABI_DIR or ../shared)")
    ap.add_argument("--tasks", type=int, nargs="*", default=list(range(1, 21)))
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--out", default="benchmarks/results/neural-memn2n-babi1k.json")
    ap.add_argument("--runs-dir", default="", help="also keep each run's checkpoint/metrics")
    ap.add_argument("--task-major", action="store_true",
                    help="run all seeds of a task before the next task (in --tasks order)")
    ap.add_argument("--summarise-only", action="store_true",
                    help="recompute the summary of an existing results file and exit")
    args = ap.parse_args(argv)
    if args.summarise_only:
        out = Path(args.out)
        doc = json.loads(out.read_text())
        doc["summary"] = summarise(doc["runs"], list(range(1, 21)))
        out.write_text(json.dumps(doc, indent=2) + "\n")
        return 0
    data_dir = resolve_data_dir(args.data)
    out = Path(args.out)
    doc = json.loads(out.read_text()) if out.exists() else {}
    runs: list[dict] = doc.get("runs", [])
    done = {(r["task"], r["seed"]) for r in runs}
    start = time.perf_counter()
    order = ([(s, t) for t in args.tasks for s in args.seeds] if args.task_major
             else [(s, t) for s in args.seeds for t in args.tasks])
    for seed, task in order:
        if (task, seed) in done:
            continue
        try:
            cfg = BabiTrainConfig(task=task, seed=seed, data_dir=str(data_dir),
                                  epochs=args.epochs, progress=False)
        except FileNotFoundError as exc:
            print(f"skip qa{task}: {exc}", file=sys.stderr)
            continue
        run_dir = Path(args.runs_dir) / f"qa{task}-seed{seed}" if args.runs_dir else None
        try:
            m = train_babi(cfg, run_dir)
        except FileNotFoundError as exc:
            print(f"skip qa{task}: {exc}", file=sys.stderr)
            continue
        runs.append({k: m[k] for k in ("task", "seed", "test_error", "val_error",
                                       "val_loss", "best_epoch", "linear_start_epochs",
                                       "epochs", "wall_seconds")})
        print(f"qa{task} seed {seed}: test error {m['test_error']:.3f} "
              f"(val {m['val_error']:.3f}) in {m['wall_seconds']}s", flush=True)
        doc = {
            "benchmark": "MemN2N bAbI, one model per task, 3 hops, PE + TE + LS + RN, "
                         "adjacent tying, d=20, memory 50; PE in the authors' code form, "
                         "LS 20 epochs, empty slots in the attention softmax",
            "data_dir": os.path.basename(os.path.normpath(data_dir)),
            "seeds": sorted({r["seed"] for r in runs}),
            "threads": 1,
            "summary": summarise(runs, list(range(1, 21))),
            "runs": runs,
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"sweep done in {time.perf_counter() - start:.0f}s", flush=True)
    if doc:
        s = doc["summary"]
        print(f"mean test error {s['mean_test_error']:.4f} over {s['tasks_done']} tasks; "
              f"failed {s['failed_tasks_gt_5pct']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
