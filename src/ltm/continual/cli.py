"""``ltm train continual``: continual-learning runs on Split/Permuted-Digits.

Imports only click and the standard library at module level; torch, numpy and
scikit-learn load when the command runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

SCENARIO_CHOICES = ("task", "domain", "class", "permuted")
METHOD_CHOICES = ("finetune", "ewc", "online-ewc", "si", "er", "derpp", "joint")


def _parse_seeds(value: str) -> list[int]:
    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected a comma-separated list of seeds, got {value!r}") from None
    if not seeds:
        raise click.BadParameter("give at least one seed")
    return seeds


@click.command("continual")
@click.option("--scenario", type=click.Choice(SCENARIO_CHOICES), default="class", show_default=True,
              help="task-, domain- or class-incremental Split-Digits, or Permuted-Digits.")
@click.option("--method", type=click.Choice(METHOD_CHOICES), default="er", show_default=True,
              help="Continual-learning strategy.")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("benchmarks/results"), show_default=True,
              help="Folder for the JSON result and the accuracy-matrix PNG.")
@click.option("--grid", is_flag=True,
              help="Run every scenario x method (the benchmark); writes continual.json and "
                   "continual_<scenario>.png into --out.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override epochs per task.")
@click.option("--buffer-size", type=click.IntRange(min=1), default=None,
              help="Override the ER / DER++ buffer capacity.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def continual(scenario: str, method: str, seeds: str, out_dir: Path, grid: bool,
              epochs: int | None, buffer_size: int | None, as_json: bool) -> None:
    """Train a continual-learning strategy through 5 tasks and report average
    accuracy, forgetting and backward transfer (mean +/- std over seeds)."""
    from ltm.continual.train import (
        default_config,
        plot_matrices,
        run_config,
        run_grid,
        with_overrides,
    )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    seed_list = _parse_seeds(seeds)
    out_dir.mkdir(parents=True, exist_ok=True)
    if grid:
        if epochs is not None or buffer_size is not None:
            raise click.UsageError("--grid runs the benchmark settings; drop --epochs/--buffer-size")
        result = run_grid(seeds=seed_list)
        path = out_dir / "continual.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        for scn in SCENARIO_CHOICES:
            plot_matrices(result["results"], scn, str(out_dir / f"continual_{scn}.png"))
        if as_json:
            click.echo(json.dumps(result, indent=1))
        else:
            click.echo(f"{'config':22s} {'avg acc':>15s} {'forgetting':>15s} {'BWT':>8s} {'wall s':>7s} {'cpu s':>6s}")
            for key, r in result["results"].items():
                a, f, b = r["average_accuracy"], r["forgetting"], r["backward_transfer"]
                click.echo(f"{key:22s} {100 * a['mean']:6.1f} +/- {100 * a['std']:4.1f} "
                           f"{100 * f['mean']:6.1f} +/- {100 * f['std']:4.1f} {100 * b['mean']:8.1f} "
                           f"{r['seconds_all_seeds']:7.1f} {r['cpu_seconds_all_seeds']:6.1f}")
            for name, ok in result["targets"].items():
                click.echo(f"target {name}: {'met' if ok else 'NOT met' if ok is False else 'not run'}")
            click.echo(f"wrote {path}")
        return
    cfg = with_overrides(default_config(scenario), epochs=epochs, buffer_size=buffer_size)
    r = run_config(scenario, method, seed_list, cfg)
    path = out_dir / f"continual_{scenario}_{method}.json"
    path.write_text(json.dumps(r, indent=1) + "\n")
    plot_matrices({f"{scenario}/{method}": r}, scenario, str(out_dir / f"continual_{scenario}_{method}.png"))
    if as_json:
        click.echo(json.dumps(r, indent=1))
        return
    a, f, b = r["average_accuracy"], r["forgetting"], r["backward_transfer"]
    click.echo(f"{scenario}-IL / {method}, seeds {seed_list}")
    click.echo(f"average accuracy  {100 * a['mean']:.1f} +/- {100 * a['std']:.1f} %")
    click.echo(f"forgetting        {100 * f['mean']:.1f} +/- {100 * f['std']:.1f} points")
    click.echo(f"backward transfer {100 * b['mean']:.1f} +/- {100 * b['std']:.1f} points")
    click.echo("accuracy matrix (row: after task i; column: task j), mean of seeds:")
    for row in r["acc_matrix_mean"]:
        click.echo("  " + " ".join(f"{100 * v:5.1f}" for v in row))
    click.echo(f"{r['seconds_all_seeds']:.1f}s wall, {r['cpu_seconds_all_seeds']:.1f}s CPU; wrote {path}")


if __name__ == "__main__":
    continual()
