"""``ltm train ...``: training runs. Neural memory (MemN2N, NTM, DNC), continual learning,
episodic control and the relevance model; the work lives in ``ltm.neural``,
``ltm.continual``, ``ltm.rl`` and ``ltm.retrieval.train``.

    ltm train memn2n-babi --task 1 --data ../shared/data/babi/en --out runs/qa1
    ltm train ntm-copy --seed 0 --steps 2000 --out runs/ntm-copy
    ltm train dnc-copy --steps 400 --eval-memory-n 64 --eval-lengths 10,20 --out runs/dnc

The neural runs write ``OUT/checkpoint.pt`` (weights + dataclass configs), ``OUT/metrics.json`` and
``OUT/learning_curve.png``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..progress import progress_default
from .common import LazyGroup

# training commands whose code still lives beside its room (moved here next)
_LAZY_TRAIN: dict[str, str] = {"continual": "ltm.continual.cli:continual",
                               "episodic": "ltm.rl.cli:episodic",
                               "ranker": "ltm.retrieval.train:ranker"}

# Defaults per preset: the paper-scale settings used for the benchmarks.
SEQ_DEFAULTS: dict[str, dict[str, Any]] = {
    "ntm-copy": {"bits": 8, "min_len": 1, "max_len": 20, "memory_n": 128, "memory_w": 20,
                     "controller_size": 100, "read_heads": 1, "steps": 2000, "batch_size": 16, "lr": 1e-3,
                     "eval_lengths": "10,20,30,40,50"},
    "ntm-repeat-copy": {"bits": 8, "min_len": 1, "max_len": 10, "memory_n": 128, "memory_w": 20,
                            "controller_size": 100, "read_heads": 1, "steps": 5000, "batch_size": 16,
                            "lr": 1e-3, "eval_lengths": "10,15,20"},
    "ntm-recall": {"bits": 6, "min_len": 2, "max_len": 6, "memory_n": 128, "memory_w": 20,
                       "controller_size": 100, "read_heads": 1, "steps": 10000, "batch_size": 16, "lr": 1e-3,
                       "eval_lengths": "6,8,10,12"},
    "dnc-copy": {"bits": 8, "min_len": 1, "max_len": 10, "memory_n": 16, "memory_w": 16,
                     "controller_size": 64, "read_heads": 2, "steps": 5000, "batch_size": 16, "lr": 1e-3,
                     "eval_lengths": "10,20"},
    "dnc-recall": {"bits": 6, "min_len": 2, "max_len": 6, "memory_n": 32, "memory_w": 16,
                       "controller_size": 64, "read_heads": 2, "steps": 10000, "batch_size": 16, "lr": 1e-3,
                       "eval_lengths": "6,12"},
}


@click.group(name="train", cls=LazyGroup, lazy=_LAZY_TRAIN)
def train() -> None:
    """Train neural long-term memory models (MemN2N, NTM, DNC)."""


def _lengths(text: str) -> list[int]:
    return [int(x) for x in text.replace(" ", "").split(",") if x]


def _seq_command(preset: str) -> Callable[..., None]:
    d = SEQ_DEFAULTS[preset]
    unit = "items" if preset.endswith("recall") else "length"

    @train.command(name=preset, help=f"Train {preset} (NTM paper task). Writes "
                   "bits_per_sequence per evaluated length to OUT/metrics.json.")
    @click.option("--seed", type=int, default=0, show_default=True,
              help='random seed (weights, data, noise)')
    @click.option("--steps", type=int, default=d["steps"], show_default=True,
                  help="optimizer updates (sequences = steps x batch size)")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help='run folder: metrics.json, checkpoint, learning-curve PNG')
    @click.option("--batch-size", type=int, default=d["batch_size"], show_default=True,
              help='sequences per update')
    @click.option("--lr", type=float, default=d["lr"], show_default=True,
              help='learning rate')
    @click.option("--optimizer", type=click.Choice(["adam", "rmsprop"]), default="adam",
                  show_default=True, help='optimizer')
    @click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]),
                  default="constant", show_default=True,
                  help="cosine: decay lr to --lr-min over the run")
    @click.option("--lr-min", type=float, default=1e-4, show_default=True,
              help='final learning rate of the cosine schedule')
    @click.option("--adam-beta2", type=float, default=0.999, show_default=True,
                  help="Adam's second-moment decay")
    @click.option("--warmup-steps", type=int, default=0, show_default=True,
                  help="linear lr warmup over this many updates (0: none)")
    @click.option("--weight-average", type=float, default=0.0, show_default=True,
                  help="EMA decay of the weights, e.g. 0.99 (0: off); used by --keep-best")
    @click.option("--keep-best/--keep-last", default=False, show_default=True,
                  help="end on the weights (live or averaged) with the lowest cost on "
                       "validation sequences at the max length, among the evaluations")
    @click.option("--min-len", type=int, default=d["min_len"], show_default=True,
                  help=f"minimum training {unit}")
    @click.option("--max-len", type=int, default=d["max_len"], show_default=True,
                  help=f"maximum training {unit}")
    @click.option("--bits", type=int, default=d["bits"], show_default=True,
              help='bits per input vector')
    @click.option("--item-len", type=int, default=3, show_default=True,
                  help="associative recall: vectors per item")
    @click.option("--memory-n", type=int, default=d["memory_n"], show_default=True,
              help='memory slots')
    @click.option("--memory-w", type=int, default=d["memory_w"], show_default=True,
              help='width of a memory slot')
    @click.option("--controller", type=click.Choice(["lstm", "ff"]), default="lstm",
                  show_default=True, help="controller type (NTM only; the DNC uses an LSTM)")
    @click.option("--controller-size", type=int, default=d["controller_size"],
                  show_default=True, help='controller hidden units')
    @click.option("--read-heads", type=int, default=d["read_heads"], show_default=True,
              help='read heads')
    @click.option("--output-scale/--no-output-scale", default=False, show_default=True,
                  help="NTM: learn a scale on the output logits (faster growth of confidence)")
    @click.option("--eval-every", type=int, default=200, show_default=True,
              help='updates between evaluations for the learning curve')
    @click.option("--eval-lengths", default=d["eval_lengths"], show_default=True,
                  help=f"comma-separated {unit} values for the final evaluation")
    @click.option("--eval-sequences", type=int, default=100, show_default=True,
              help='fresh test sequences per evaluated length')
    @click.option("--eval-memory-n", type=int, default=0,
                  help="also evaluate with memory enlarged to this many slots")
    @click.option("--stop-bits", type=float, default=0.0,
                  help="stop once eval bits/sequence at max length drops below this")
    @click.option("--threads", type=int, default=1, show_default=True,
              help='torch CPU threads')
    @click.option("--progress/--no-progress", default=None, callback=progress_default,
              help='show a progress bar (default: on a terminal)')
    def command(out_dir: str, eval_lengths: str, **kw: Any) -> None:
        from ..neural.train import SeqTrainConfig, train_sequence_task

        cfg = SeqTrainConfig(preset=preset, eval_lengths=_lengths(eval_lengths), **kw)
        metrics = train_sequence_task(cfg, out_dir)
        click.echo(json.dumps({"bits_per_sequence": metrics["bits_per_sequence"],
                               "sequences_seen": metrics["sequences_seen"],
                               "wall_seconds": metrics["wall_seconds"],
                               "out": str(Path(out_dir))}))

    return command


for _preset in SEQ_DEFAULTS:
    _seq_command(_preset)


@train.command(name="memn2n-babi")
@click.option("--task", type=click.IntRange(1, 20), default=1, show_default=True, help="bAbI task number")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="bAbI directory (en or en-10k); default $LTM_BABI_DIR, then "
                   "../shared/data/babi/en")
@click.option("--seed", type=int, default=0, show_default=True,
              help='random seed (weights, data, noise)')
@click.option("--steps", type=int, default=0,
              help="stop after this many updates (0: the full epoch schedule)")
@click.option("--epochs", type=int, default=100, show_default=True,
              help="epochs after linear start")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help='run folder: metrics.json, checkpoint, learning-curve PNG')
@click.option("--batch-size", type=int, default=32, show_default=True,
              help='questions per update')
@click.option("--lr", type=float, default=0.01, show_default=True,
              help='learning rate after linear start (halved every 25 epochs)')
@click.option("--hops", type=int, default=3, show_default=True,
              help='memory hops')
@click.option("--embed-dim", type=int, default=20, show_default=True,
              help='embedding size d')
@click.option("--memory-size", type=int, default=50, show_default=True,
              help='most recent sentences kept in memory')
@click.option("--linear-start/--no-linear-start", default=True, show_default=True,
              help='train without softmaxes first (linear start)')
@click.option("--random-noise/--no-random-noise", default=True, show_default=True,
              help='insert 10% empty memories while training')
@click.option("--position-encoding/--bag-of-words", default=True, show_default=True,
              help='sentence encoding')
@click.option("--tying", type=click.Choice(["adjacent", "layerwise"]), default="adjacent",
              show_default=True, help='weight tying between hops')
@click.option("--threads", type=int, default=1, show_default=True,
              help='torch CPU threads')
@click.option("--progress/--no-progress", default=None, callback=progress_default,
              help='show a progress bar (default: on a terminal)')
def memn2n_babi(data_dir: str | None, out_dir: str, **kw: Any) -> None:
    """Train MemN2N on one bAbI task; writes test_error (0..1) to OUT/metrics.json."""
    from ..neural.babi import resolve_data_dir
    from ..neural.babi_train import BabiTrainConfig, train_babi

    try:
        resolved = resolve_data_dir(data_dir)
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc)) from exc
    cfg = BabiTrainConfig(data_dir=str(resolved), **kw)
    metrics = train_babi(cfg, out_dir)
    click.echo(json.dumps({"task": metrics["task"], "test_error": metrics["test_error"],
                           "val_error": metrics["val_error"], "out": str(Path(out_dir))}))

