"""``ltm train episodic``: episodic control (MFEC, NEC) and the DQN baseline on gymnasium tasks.

    ltm train episodic --env CartPole-v1 --agent mfec --steps 50000 --seeds 0 1 2 --out runs/cp

Writes ``OUT/seed-<s>/metrics.json`` per seed (and a checkpoint that ``--resume`` continues)
and ``OUT/summary.json``. Imports only click and the standard library at module level.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click


def _parse_value(text: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return tuple(value) if isinstance(value, list) else value


@click.command("episodic")
@click.option("--env", "env_id", required=True,
              help="gymnasium environment id: CartPole-v1, Acrobot-v1, LunarLander-v3, "
                   "MiniGrid-DoorKey-5x5-v0, ...")
@click.option("--agent", type=click.Choice(["mfec", "nec", "dqn"]), required=True,
              help="model-free episodic control, neural episodic control, or DQN with replay")
@click.option("--steps", type=click.IntRange(min=1), default=50_000, show_default=True,
              help="env steps per run (the episode in progress is finished)")
@click.option("--seeds", "first_seed", type=int, multiple=True,
              help="seeds, space-separated after the option (--seeds 0 1 2); default 0")
@click.argument("more_seeds", nargs=-1, type=int)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="folder: seed-<s>/metrics.json per seed, summary.json")
@click.option("--replay", type=click.Choice(["uniform", "prioritized"]), default=None,
              help="DQN's replay buffer (default uniform)")
@click.option("--threshold", type=float, default=None,
              help="solved return for steps_to_threshold (default: the environment's)")
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
              help="override an agent setting, e.g. --set k=5 --set 'hidden=[128,128]'")
@click.option("--resume", is_flag=True, help="continue each seed from its checkpoint in --out")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def episodic(env_id: str, agent: str, steps: int, first_seed: tuple[int, ...],
             more_seeds: tuple[int, ...], out_dir: Path, replay: str | None,
             threshold: float | None, assignments: tuple[str, ...], resume: bool,
             as_json: bool) -> None:
    """Train an episodic-control agent (or the DQN baseline) for each seed; report
    steps_to_threshold and auc per seed and their medians."""
    from statistics import median

    from .train import run, settings_for

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    seeds = [*first_seed, *more_seeds] or [0]
    overrides: dict[str, Any] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--set")
        overrides[name.strip()] = _parse_value(value)
    if replay is not None:
        if agent != "dqn":
            raise click.UsageError("--replay applies to --agent dqn")
        overrides["replay"] = replay
    per_seed = []
    for seed in seeds:
        try:
            settings = settings_for(env_id, agent, steps, seed, threshold=threshold,
                                    overrides=overrides)
            m = run(settings, out_dir / f"seed-{seed}", resume=resume)
        except (ValueError, FileNotFoundError, ImportError) as exc:
            raise click.ClickException(str(exc)) from exc
        per_seed.append({"seed": seed, "auc": m["auc"],
                         "steps_to_threshold": m["steps_to_threshold"], "wall_s": m["wall_s"],
                         "episodes": m["episodes"]})
        if not as_json:
            click.echo(f"{agent} {settings['env']} seed {seed}: auc {m['auc']:.2f}, "
                       f"steps_to_threshold {m['steps_to_threshold']}, {m['wall_s']:.0f} s")
    reached = [r["steps_to_threshold"] for r in per_seed]
    summary = {"env": settings["env"], "agent": agent, "steps": steps, "seeds": seeds,
               "auc_median": median(r["auc"] for r in per_seed),
               # a seed that never reached the threshold counts as beyond the budget
               "steps_to_threshold_median": median(float("inf") if s is None else s
                                                   for s in reached),
               "runs": per_seed, "settings": settings}
    if summary["steps_to_threshold_median"] == float("inf"):
        summary["steps_to_threshold_median"] = None
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    else:
        click.echo(f"median auc {summary['auc_median']:.2f}, median steps_to_threshold "
                   f"{summary['steps_to_threshold_median']}")


if __name__ == "__main__":
    episodic()
