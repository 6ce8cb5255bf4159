"""``ltm bench load``, ``fuzz`` and ``soak``: the server's benchmarks. Each parses its options,
calls its runner in ``ltm.server`` (``load``, ``fuzz``, ``soak``), prints the report as JSON,
writes it with ``--out`` and exits 1 when a check failed.

Only click and the standard library are imported at module level.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .common import finite_number

# (--servers 0 was a ZeroDivisionError in a thread and a run that never ended; 0 clients or
# requests, a NaN share or time ran a report of nothing: session-13 sweep)
_COUNT = click.IntRange(min=1)


@click.command()
@click.option("--clients", type=_COUNT, default=50, show_default=True,
              help="Concurrent HTTP clients.")
@click.option("--requests", "requests_", type=_COUNT, default=20_000, show_default=True,
              help="Requests in all (mixed add/search).")
@click.option("--search-ratio", type=click.FloatRange(0.0, 1.0), default=0.5,
              show_default=True, callback=finite_number, help="Share of searches.")
@click.option("--servers", type=_COUNT, default=1, show_default=True,
              help="Separate `ltm serve` processes on the same store.")
@click.option("--workers", type=_COUNT, default=1, show_default=True,
              help="uvicorn workers per server process.")
@click.option("--store", type=click.Path(file_okay=False),
              help="Store folder (default: a fresh temporary one).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the report as JSON here (e.g. benchmarks/results/server-load.json).")
def load(clients: int, requests_: int, search_ratio: float, servers: int, workers: int,
         store: str | None, out: str | None) -> None:
    """Load-test `ltm serve` on loopback and check that no acknowledged write is lost."""
    from ..server.load import load_report

    report, data = load_report(clients=clients, requests=requests_, search_ratio=search_ratio,
                               servers=servers, workers=workers, store=store)
    click.echo(json.dumps(data, indent=1))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    if report.errors or report.lost_writes or report.wrong_content:
        sys.exit(1)


@click.command()
@click.option("--max-examples", default=100, show_default=True,
              help="Test cases per operation and phase.")
@click.option("--phases", default="examples,coverage,fuzzing", show_default=True,
              help="schemathesis phases.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--max-time", type=click.FloatRange(min=0.0, min_open=True), default=None,
              callback=finite_number, help="Stop after this many seconds.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the summary as JSON (e.g. benchmarks/results/server-fuzz.json).")
def fuzz(max_examples: int, phases: str, seed: int, max_time: float | None,
         out: str | None) -> None:
    """Fuzz the REST API with schemathesis against its own OpenAPI schema."""
    from ..server.fuzz import fuzz_served

    summary = fuzz_served(max_examples=max_examples, phases=phases, seed=seed,
                          max_time=max_time)
    click.echo(json.dumps({k: v for k, v in summary.items() if k != "output_tail"}, indent=1))
    if not summary["ok"]:
        click.echo(summary["output_tail"], err=True)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    if not summary["ok"]:
        sys.exit(1)


@click.command("soak")
@click.option("--clients", type=_COUNT, default=20, show_default=True,
              help="Concurrent HTTP clients.")
@click.option("--seconds", type=click.FloatRange(min=0.0), default=300.0, show_default=True,
              callback=finite_number, help="How long the clients run.")
@click.option("--users", type=_COUNT, default=10, show_default=True,
              help="Users the clients share.")
@click.option("--seed", default=0, show_default=True, help="Seed of the clients' request mix.")
@click.option("--store", type=click.Path(file_okay=False),
              help="Store folder (default: a fresh temporary one).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the report as JSON here (e.g. benchmarks/results/soak.json).")
def soak(clients: int, seconds: float, users: int, seed: int, store: str | None,
         out: str | None) -> None:
    """Soak `ltm serve` with adds, searches and forgets; check nothing is lost or comes back."""
    from ..server.soak import soak_report

    report, data = soak_report(clients=clients, seconds=seconds, users=users, seed=seed,
                               store=store)
    click.echo(json.dumps(data, indent=1))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    if report.errors_5xx or report.lost_writes or report.resurrected:
        sys.exit(1)
