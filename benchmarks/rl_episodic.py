"""Collect ``ltm train episodic`` runs into benchmarks/results/rl-<env>.json and a learning-curve
plot per environment (mean and min-max spread over seeds of the 20-episode moving mean).

    for a in mfec nec dqn; do
      ltm train episodic --env CartPole-v1 --agent $a --steps 50000 --seeds 0 1 2 \\
          --out runs/rl/CartPole-v1/$a
    done
    python benchmarks/rl_episodic.py --runs runs/rl --env CartPole-v1

(``--merge`` keeps the agents of the existing results file that the runs folder lacks.)
Prints the markdown table rows (median over seeds of steps_to_threshold and auc per agent).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from ltm.rl.train import moving_mean

RESULTS = Path(__file__).parent / "results"
AGENT_ORDER = ("mfec", "nec", "dqn")


def _curve(returns: list[dict[str, float]], grid: np.ndarray, window: int) -> np.ndarray:
    steps = np.array([r["step"] for r in returns])
    level = moving_mean(np.array([r["return"] for r in returns]), window)
    idx = np.searchsorted(steps, grid, side="right") - 1  # last episode finished by each step
    return np.where(idx >= 0, level[np.maximum(idx, 0)], level[0])


def collect(runs: Path, env: str) -> dict[str, Any]:
    out: dict[str, Any] = {"env": env, "agents": {}}
    for agent_dir in sorted((runs / env).iterdir()) if (runs / env).is_dir() else []:
        seeds = sorted(agent_dir.glob("seed-*/metrics.json"))
        if not seeds:
            continue
        ms = [json.loads(p.read_text()) for p in seeds]
        stt = [m["steps_to_threshold"] for m in ms]
        never = float("inf")
        med_stt = statistics.median(never if s is None else s for s in stt)
        out["agents"][agent_dir.name] = {
            "agent": ms[0]["settings"]["agent"],
            "seeds": [m["settings"]["seed"] for m in ms],
            "steps": ms[0]["settings"]["steps"],
            "threshold": ms[0]["settings"]["threshold"],
            "auc": [m["auc"] for m in ms],
            "auc_median": statistics.median(m["auc"] for m in ms),
            "steps_to_threshold": stt,
            "steps_to_threshold_median": None if med_stt == never else med_stt,
            "wall_s": [m["wall_s"] for m in ms],
            "episodes": [m["episodes"] for m in ms],
            "settings": ms[0]["settings"],
            "returns": [[[r["step"], r["return"]] for r in m["returns"]] for m in ms],
        }
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, r in sorted(result["agents"].items()):
        grid = np.linspace(0, r["steps"], 400)
        curves = np.stack([
            _curve([{"step": s, "return": v} for s, v in seed], grid, 20) for seed in r["returns"]
        ])  # (seeds, 400)
        line = ax.plot(grid, curves.mean(0), label=f"{name} (n={len(curves)})")[0]
        ax.fill_between(grid, curves.min(0), curves.max(0), color=line.get_color(), alpha=0.2)
        threshold = r["threshold"]
    ax.axhline(threshold, color="grey", ls="--", lw=1, label=f"threshold {threshold:g}")
    lo, hi = ax.get_ylim()
    pad = 0.05 * (hi - lo)
    ax.set_ylim(min(lo, threshold - pad), max(hi, threshold + pad))
    ax.set_xlabel("env steps")
    ax.set_ylabel("return (mean of last 20 episodes)")
    ax.set_title(f"{result['env']}: mean over seeds, band = min..max")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table_rows(result: dict[str, Any]) -> list[str]:
    rows = []
    for name, r in sorted(result["agents"].items(),
                          key=lambda kv: (AGENT_ORDER.index(kv[1]["agent"]), kv[0])):
        stt = ", ".join("-" if s is None else f"{s:,}" for s in r["steps_to_threshold"])
        med = r["steps_to_threshold_median"]
        auc = ", ".join(f"{a:.3g}" for a in r["auc"])
        rows.append(f"| {result['env']} | {name} | {'never' if med is None else f'{med:,.0f}'} "
                    f"({stt}) | {r['auc_median']:.3g} ({auc}) | "
                    f"{statistics.median(r['wall_s']):.0f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, required=True, help="folder of <env>/<agent>/seed-*")
    ap.add_argument("--env", action="append", required=True, help="environment id (repeat)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the agents of the existing results file that --runs lacks")
    args = ap.parse_args()
    for env in args.env:
        result = collect(args.runs, env)
        slug = env.split("-v")[0].lower()
        old = RESULTS / f"rl-{slug}.json"
        if args.merge and old.exists():
            kept = json.loads(old.read_text())["agents"]
            result["agents"] = {**{k: v for k, v in kept.items()
                                   if k not in result["agents"]}, **result["agents"]}
        (RESULTS / f"rl-{slug}.json").write_text(json.dumps(result) + "\n")
        plot(result, RESULTS / f"rl-{slug}.png")
        print("\n".join(table_rows(result)))


if __name__ == "__main__":
    main()
