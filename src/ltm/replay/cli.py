"""``ltm bench replay``: replay-buffer throughput and sampling accuracy.

Imports only click and the standard library at module level; numpy and the
benchmark code load when the command runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click


@click.command("replay")
@click.option("--capacity", type=click.IntRange(min=1000), default=1_000_000, show_default=True,
              help="Buffer capacity (items) for every measurement.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("benchmarks/results/replay.json"), show_default=True,
              help="Where to write the JSON result.")
@click.option("--freq-samples", type=click.IntRange(min=10_000), default=10_000_000, show_default=True,
              help="Items drawn to measure sampling frequencies against priority/sum.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every generator.")
def replay(capacity: int, out: Path, freq_samples: int, seed: int) -> None:
    """Benchmark the replay buffers: batched inserts/s, prioritized sample+update
    batches of 256 per second, and the largest sampling-frequency error, side by
    side with TorchRL (when importable) or a list + random.choices baseline."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ltm.replay.bench import BenchConfig, run_benchmark

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = run_benchmark(BenchConfig(capacity=capacity, freq_samples=freq_samples, seed=seed))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    peer = result["peer"]
    click.echo(f"capacity                 {capacity:,}")
    click.echo(f"inserts/s                {result['inserts_per_s']:,.0f} (in a folder: "
               f"{result['inserts_per_s_persistent']:,.0f})")
    click.echo(f"PER batches(256)/s       {result['per_batches_per_s']:,.0f} (in a folder: "
               f"{result['per_batches_per_s_persistent']:,.0f}; per CPU second: "
               f"{result['per_batches_per_cpu_s']:,.0f})")
    click.echo(f"max frequency error      {result['max_frequency_error']:.4%}")
    click.echo(f"peer: {peer['name']}: inserts/s {peer['inserts_per_s']:,.0f}, "
               f"PER batches/s {peer['per_batches_per_s']:,.1f}")
    click.echo(f"ratios (ltm / peer)      inserts x{result['ratios']['inserts']:.1f}, "
               f"PER x{result['ratios']['per_batches']:.1f}")
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    replay()
