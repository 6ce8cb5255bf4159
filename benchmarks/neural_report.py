"""Print markdown tables from benchmarks/results/neural-*.json (for sections/neural.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def babi_table(path: Path, before: Path | None = None) -> str:
    """Per-task table; with ``before`` (an earlier results file) a column of its errors."""
    doc = json.loads(path.read_text())
    s = doc["summary"]
    old = json.loads(before.read_text())["summary"] if before is not None else None
    extra = " before |" if old else ""
    rows = [f"| task | name | error (chosen seed) | seeds: error |{extra} paper PE LS RN |",
            "|---|---|---|---|---|" + ("---|" if old else "")]
    for t, v in sorted(s["per_task"].items(), key=lambda kv: int(kv[0])):
        seeds = ", ".join(f"{k}: {100 * e:.1f}" for k, e in v["all_seeds_test_error"].items())
        flag = " **fail**" if v["test_error"] > 0.05 else ""
        prev = ""
        if old:
            o = old["per_task"].get(t)
            prev = f" {100 * o['test_error']:.1f}% |" if o else " |"
        rows.append(f"| {t} | {v['name']} | {100 * v['test_error']:.1f}%{flag} "
                    f"(seed {v['chosen_seed']}) | {seeds} |{prev} "
                    f"{100 * v['paper_pe_ls_rn_error']:.1f}% |")
    n = s["tasks_done"]
    prev = f" {100 * old['mean_test_error']:.1f}% |" if old else ""
    rows.append(f"| **mean** | {n} tasks | **{100 * s['mean_test_error']:.1f}%** | |{prev} "
                f"{100 * s['paper_mean_error']:.1f}% |")
    prev = (f" {len(old['failed_tasks_gt_5pct'])}: {old['failed_tasks_gt_5pct']} |"
            if old else "")
    rows.append(f"| failed (> 5%) | | {len(s['failed_tasks_gt_5pct'])}: "
                f"{s['failed_tasks_gt_5pct']} | |{prev} {len(s['paper_failed_tasks'])}: "
                f"{s['paper_failed_tasks']} |")
    return "\n".join(rows)


def seq_table(paths: list[Path]) -> str:
    rows = ["| run | sequences | wall s | bits/seq by length (cross-entropy) | wrong bits/seq |",
            "|---|---|---|---|---|"]
    for p in paths:
        m = json.loads(p.read_text())
        bits = ", ".join(f"{k}: {v:.2f}" for k, v in m["bits_per_sequence"].items())
        errs = ", ".join(f"{k}: {v:.2f}" for k, v in m["bit_errors_per_sequence"].items())
        rows.append(f"| {p.stem} | {m['sequences_seen']} | {m['wall_seconds']:.0f} | {bits} | "
                    f"{errs} |")
        if "bits_per_sequence_enlarged_memory" in m:
            big = ", ".join(f"{k}: {v:.2f}"
                            for k, v in m["bits_per_sequence_enlarged_memory"].items())
            eb = ", ".join(f"{k}: {v:.2f}"
                           for k, v in m["bit_errors_per_sequence_enlarged_memory"].items())
            rows.append(f"| {p.stem}, memory {m['enlarged_memory_n']} slots | | | {big} | {eb} |")
    return "\n".join(rows)


def main() -> int:
    res = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results")
    for name in ("neural-memn2n-babi1k.json", "neural-memn2n-babi10k.json"):
        if (res / name).exists():
            before = res / name.replace(".json", "-before.json")
            table = babi_table(res / name, before if before.exists() else None)
            print(f"#### {name}\n\n{table}\n")
    seq = sorted(p for p in res.glob("neural-*-seed*.json"))
    if seq:
        print(seq_table(seq))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
