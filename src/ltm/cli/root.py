"""The ``ltm`` group: the memory commands, and the other commands loaded when used."""

from __future__ import annotations

import click

from .common import LazyGroup
from .memory import (
    add,
    context,
    export_cmd,
    forget,
    get,
    history,
    import_cmd,
    list_cmd,
    search,
    stats,
    update,
)

# Commands of their own modules, imported only when used (keeps `ltm --help` fast).
_LAZY: dict[str, str] = {
    "serve": "ltm.cli.serve:serve",
    "mcp": "ltm.cli.serve:mcp",
    "keys": "ltm.cli.serve:keys",
    "gc": "ltm.cli.policies:gc",
    "process": "ltm.cli.policies:process",
    "reindex": "ltm.cli.policies:reindex",
    "train": "ltm.cli.train:train",
}
_LAZY_BENCH: dict[str, str] = {
    "locomo": "ltm.cli.bench:locomo",
    "beam": "ltm.cli.bench:beam",
    "small": "ltm.cli.bench:small",
    "babi": "ltm.cli.bench:babi",
    "scale": "ltm.cli.bench:scale",
    "peers": "ltm.cli.bench:peers",
    "replay": "ltm.cli.bench:replay",
    "faults": "ltm.cli.bench:faults",
    "load": "ltm.cli.bench_server:load",
    "fuzz": "ltm.cli.bench_server:fuzz",
    "soak": "ltm.cli.bench_server:soak",
}


@click.group(cls=LazyGroup, lazy=_LAZY, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ltm")
@click.option("--store", "store", envvar="LTM_STORE", default="ltm-data", show_default=True,
              type=click.Path(file_okay=False, readable=False),
              help="Store folder or PostgreSQL URL for every command (env LTM_STORE); a "
              "command's own --store wins.")
def main(store: str) -> None:
    """ltm: long-term memory for AI systems (embedded store, hybrid retrieval)."""


for _command in (add, search, context, get, forget, history, list_cmd, update, import_cmd,
                 export_cmd, stats):
    main.add_command(_command)


@main.group(cls=LazyGroup, lazy=_LAZY_BENCH)
def bench() -> None:
    """Benchmarks (retrieval quality, scale, peers, replay)."""
