"""``ltm train ...``: training runs. Neural memory (MemN2N, NTM, DNC), continual learning,
episodic control and the relevance model; the work lives in ``ltm.neural``,
``ltm.continual``, ``ltm.rl``, ``ltm.bench.ranker_data`` and ``ltm.retrieval.train``.

    ltm train memn2n-babi --task 1 --data ../shared/data/babi/en --out runs/qa1
    ltm train ntm-copy --seed 0 --steps 2000 --out runs/ntm-copy
    ltm train dnc-copy --steps 400 --eval-memory-n 64 --eval-lengths 10,20 --out runs/dnc

The neural runs write ``OUT/checkpoint.pt`` (weights + dataclass configs), ``OUT/metrics.json`` and
``OUT/learning_curve.png``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .common import (
    OPTIONAL_MODULES,
    errors_to_exit,
    finite_number,
    opened,
    progress_default,
    writable,
)

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


@click.group(name="train")
def train() -> None:
    """Train models: neural memory (MemN2N, NTM, DNC), continual learning, episodic control,
    and the relevance ranker."""


def _lengths(text: str) -> list[int]:
    return [int(x) for x in text.replace(" ", "").split(",") if x]


# The numbers a training run takes: a count of 0 or below, a negative, NaN or infinite rate
# and a list of lengths that is not one broke the run with a traceback (torch's RuntimeError,
# ZeroDivisionError, the config's ValueError; session-13 sweep): now a usage error, exit 2.
_COUNT = click.IntRange(min=1)
_SOME = click.IntRange(min=0)
_RATE = click.FloatRange(min=0.0, min_open=True)
_SOME_RATE = click.FloatRange(min=0.0)
_FRACTION = click.FloatRange(0.0, 1.0, max_open=True)


def _check_lengths(ctx: Any, param: Any, value: str) -> str:
    try:
        got = _lengths(value)
    except ValueError:
        got = []
    if not got or min(got) < 1:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of whole numbers "
                                 "of at least 1")
    return value


def _seq_command(preset: str) -> Callable[..., None]:
    d = SEQ_DEFAULTS[preset]
    unit = "items" if preset.endswith("recall") else "length"

    @train.command(name=preset, help=f"Train {preset} (NTM paper task). Writes "
                   "bits_per_sequence per evaluated length to OUT/metrics.json.")
    @click.option("--seed", type=int, default=0, show_default=True,
              help='random seed (weights, data, noise)')
    @click.option("--steps", type=_SOME, default=d["steps"], show_default=True,
                  help="optimizer updates (sequences = steps x batch size)")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help='run folder: metrics.json, checkpoint, learning-curve PNG')
    @click.option("--batch-size", type=_COUNT, default=d["batch_size"], show_default=True,
              help='sequences per update')
    @click.option("--lr", type=_RATE, default=d["lr"], show_default=True, callback=finite_number,
              help='learning rate')
    @click.option("--optimizer", type=click.Choice(["adam", "rmsprop"]), default="adam",
                  show_default=True, help='optimizer')
    @click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]),
                  default="constant", show_default=True,
                  help="cosine: decay lr to --lr-min over the run")
    @click.option("--lr-min", type=_SOME_RATE, default=1e-4, show_default=True,
                  callback=finite_number,
              help='final learning rate of the cosine schedule')
    @click.option("--adam-beta2", type=_FRACTION, default=0.999, callback=finite_number, show_default=True,
                  help="Adam's second-moment decay")
    @click.option("--warmup-steps", type=_SOME, default=0, show_default=True,
                  help="linear lr warmup over this many updates (0: none)")
    @click.option("--weight-average", type=_FRACTION, default=0.0, callback=finite_number, show_default=True,
                  help="EMA decay of the weights, e.g. 0.99 (0: off); used by --keep-best")
    @click.option("--keep-best/--keep-last", default=False, show_default=True,
                  help="end on the weights (live or averaged) with the lowest cost on "
                       "validation sequences at the max length, among the evaluations")
    @click.option("--min-len", type=_COUNT, default=d["min_len"], show_default=True,
                  help=f"minimum training {unit}")
    @click.option("--max-len", type=_COUNT, default=d["max_len"], show_default=True,
                  help=f"maximum training {unit}")
    @click.option("--bits", type=_COUNT, default=d["bits"], show_default=True,
              help='bits per input vector')
    @click.option("--item-len", type=_COUNT, default=3, show_default=True,
                  help="associative recall: vectors per item")
    @click.option("--memory-n", type=_COUNT, default=d["memory_n"], show_default=True,
              help='memory slots')
    @click.option("--memory-w", type=_COUNT, default=d["memory_w"], show_default=True,
              help='width of a memory slot')
    @click.option("--controller", type=click.Choice(["lstm", "ff"]), default="lstm",
                  show_default=True, help="controller type (NTM only; the DNC uses an LSTM)")
    @click.option("--controller-size", type=_COUNT, default=d["controller_size"],
                  show_default=True, help='controller hidden units')
    @click.option("--read-heads", type=_COUNT, default=d["read_heads"], show_default=True,
              help='read heads')
    @click.option("--output-scale/--no-output-scale", default=False, show_default=True,
                  help="NTM: learn a scale on the output logits (faster growth of confidence)")
    @click.option("--eval-every", type=_COUNT, default=200, show_default=True,
              help='updates between evaluations for the learning curve')
    @click.option("--eval-lengths", default=d["eval_lengths"], show_default=True,
                  callback=_check_lengths,
                  help=f"comma-separated {unit} values for the final evaluation")
    @click.option("--eval-sequences", type=_COUNT, default=100, show_default=True,
              help='fresh test sequences per evaluated length')
    @click.option("--eval-memory-n", type=_SOME, default=0,
                  help="also evaluate with memory enlarged to this many slots")
    @click.option("--stop-bits", type=_SOME_RATE, default=0.0, callback=finite_number,
                  help="stop once eval bits/sequence at max length drops below this")
    @click.option("--threads", type=int, default=1, show_default=True,
              help='torch CPU threads')
    @click.option("--progress/--no-progress", default=None, callback=progress_default,
              help='show a progress bar (default: on a terminal)')
    def command(out_dir: str, eval_lengths: str, **kw: Any) -> None:
        from ..neural.train import SeqTrainConfig, train_sequence_task

        if kw["min_len"] > kw["max_len"]:
            raise click.BadParameter(f"{kw['min_len']} is more than --max-len "
                                     f"{kw['max_len']}", param_hint="--min-len")
        with errors_to_exit():
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
              help="bAbI directory (en or en-10k; the folder above them means en); default "
                   "$LTM_BABI_DIR, then ../shared/data/babi/en")
@click.option("--seed", type=int, default=0, show_default=True,
              help='random seed (weights, data, noise)')
@click.option("--steps", type=_SOME, default=0,
              help="stop after this many updates (0: the full epoch schedule)")
@click.option("--epochs", type=_COUNT, default=100, show_default=True,
              help="epochs after linear start")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help='run folder: metrics.json, checkpoint, learning-curve PNG')
@click.option("--batch-size", type=_COUNT, default=32, show_default=True,
              help='questions per update')
@click.option("--lr", type=_RATE, default=0.01, show_default=True, callback=finite_number,
              help='learning rate after linear start (halved every 25 epochs)')
@click.option("--hops", type=_COUNT, default=3, show_default=True,
              help='memory hops')
@click.option("--embed-dim", type=_COUNT, default=20, show_default=True,
              help='embedding size d')
@click.option("--memory-size", type=_COUNT, default=50, show_default=True,
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
    from ..neural.babi import resolve_data_dir, task_file
    from ..neural.babi_train import BabiTrainConfig, train_babi

    try:
        resolved = resolve_data_dir(data_dir)
        for split in ("train", "test"):
            task_file(resolved, kw["task"], split)
    except FileNotFoundError as exc:
        raise click.UsageError(f"{exc} (the bAbI folder: en or en-10k)") from exc
    with errors_to_exit():
        cfg = BabiTrainConfig(data_dir=str(resolved), **kw)
        metrics = train_babi(cfg, out_dir)
    click.echo(json.dumps({"task": metrics["task"], "test_error": metrics["test_error"],
                           "val_error": metrics["val_error"], "out": str(Path(out_dir))}))


# -- continual learning (ltm.continual) ----------------------------------------------------
SCENARIO_CHOICES = ("task", "domain", "class", "permuted")
METHOD_CHOICES = ("finetune", "ewc", "online-ewc", "si", "er", "derpp", "joint")


def _parse_seeds(value: str) -> list[int]:
    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected a comma-separated list of seeds, got {value!r}",
                                 param_hint="--seeds") from None
    if not seeds:
        raise click.BadParameter("give at least one seed", param_hint="--seeds")
    if min(seeds) < 0:  # (numpy's seeding raised ValueError: a traceback)
        raise click.BadParameter(f"seeds are whole numbers of at least 0, got {value!r}",
                                 param_hint="--seeds")
    return seeds


@train.command("continual")
@click.option("--scenario", type=click.Choice(SCENARIO_CHOICES), default="class", show_default=True,
              help="task-, domain- or class-incremental Split-Digits, or Permuted-Digits.")
@click.option("--method", type=click.Choice(METHOD_CHOICES), default="er", show_default=True,
              help="Continual-learning strategy.")
@click.option("--seeds", default="0,1,2", show_default=True,
              help="Seeds, comma- or space-separated (--seeds 0,1,2 or --seeds 0 1 2).")
@click.argument("more_seeds", nargs=-1, type=click.IntRange(min=0))
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
def continual(scenario: str, method: str, seeds: str, more_seeds: tuple[int, ...],
              out_dir: Path, grid: bool, epochs: int | None, buffer_size: int | None,
              as_json: bool) -> None:
    """Train a continual-learning strategy through 5 tasks and report average
    accuracy, forgetting and backward transfer (mean +/- std over seeds)."""
    from ..continual.train import (
        default_config,
        plot_matrices,
        run_config,
        run_grid,
        with_overrides,
    )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if more_seeds and click.get_current_context().get_parameter_source("seeds") \
            is click.core.ParameterSource.DEFAULT:
        # the seeds after --seeds are its; without it they would join the default 0,1,2
        raise click.UsageError("give the seeds after --seeds (--seeds 0 1 2)")
    seed_list = [*_parse_seeds(seeds), *more_seeds]
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



# -- episodic control (ltm.rl) -----------------------------------------------------------
def _parse_value(text: str) -> Any:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON (or too deep, too many digits): a string
        return text
    return tuple(value) if isinstance(value, list) else value


@train.command("episodic")
@click.option("--env", "env_id", required=True,
              help="gymnasium environment id: CartPole-v1, Acrobot-v1, LunarLander-v3, "
                   "MiniGrid-DoorKey-5x5-v0, ...")
@click.option("--agent", type=click.Choice(["mfec", "nec", "dqn"]), required=True,
              help="model-free episodic control, neural episodic control, or DQN with replay")
@click.option("--steps", type=click.IntRange(min=1), default=50_000, show_default=True,
              help="env steps per run (the episode in progress is finished)")
@click.option("--seeds", "first_seed", multiple=True,
              help="seeds, space- or comma-separated (--seeds 0 1 2 or --seeds 0,1,2); default 0")
@click.argument("more_seeds", nargs=-1, type=click.IntRange(min=0))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="folder: seed-<s>/metrics.json per seed, summary.json")
@click.option("--replay", type=click.Choice(["uniform", "prioritized"]), default=None,
              help="DQN's replay buffer (default uniform)")
@click.option("--threshold", type=float, default=None, callback=finite_number,
              help="solved return for steps_to_threshold (default: the environment's)")
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
              help="override an agent setting, e.g. --set k=5 --set 'hidden=[128,128]'")
@click.option("--resume", is_flag=True, help="continue each seed from its checkpoint in --out")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def episodic(env_id: str, agent: str, steps: int, first_seed: tuple[str, ...],
             more_seeds: tuple[int, ...], out_dir: Path, replay: str | None,
             threshold: float | None, assignments: tuple[str, ...], resume: bool,
             as_json: bool) -> None:
    """Train an episodic-control agent (or the DQN baseline) for each seed; report
    steps_to_threshold and auc per seed and their medians."""
    from statistics import median

    from ..rl.train import run, settings_for

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    seeds = [s for value in first_seed for s in _parse_seeds(value)]
    seeds = [*seeds, *more_seeds] or [0]
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
            module = (exc.name or "").split(".")[0] \
                if isinstance(exc, ModuleNotFoundError) else ""
            if module in OPTIONAL_MODULES:
                from ..errors import MissingDependency  # exit 5 naming the extra
                raise MissingDependency(module, "rl") from None
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


# -- the relevance model (ltm.bench.ranker_data, ltm.retrieval.train) ----------------------
MAX_CONTEXT_WINDOW = 100  # as ltm.retrieval.ranker's (not imported: the CLI loads lazily)


@train.command("ranker")
@click.option("--data", "data", multiple=True, metavar="NAME:PATH",
              help="Labelled data (repeatable): locomo:PATH/locomo10.json, beam:DIR, small:1-3 "
                   "(generated small stores, seeds 1-3), small-lone:1-3 (the same kind, their "
                   "notes lone memories); a bare path is locomo's file or beam's folder.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the fitted weights (JSON).")
@click.option("--store", "store", type=click.Path(), default=None,
              help="Fit this store's own weights from its recorded feedback instead (with "
                   "none left, the store goes back to the shipped weights).")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Cross-validation folds (grouped by conversation).")
@click.option("--l2", type=click.FloatRange(min=0.0), default=None, callback=finite_number,
              help="L2 strength (default: chosen on inner folds of each training split).")
@click.option("--context-window", type=click.IntRange(0, MAX_CONTEXT_WINDOW), default=2,
              show_default=True, help="Neighbouring turns on each side that lend relevance.")
@click.option("--embedder", default=None, help="Embedder (default: wordllama).")
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="Also write the cross-validation report (JSON) here.")
def ranker(data: tuple[str, ...], out: str | None, store: str | None, folds: int,
           l2: float | None, context_window: int, embedder: str | None,
           report: str | None) -> None:
    """Fit the relevance model: on labelled data (--data ... --out FILE, held-out metrics by
    conversation), or a store's own weights from its feedback (--store PATH)."""
    if store is not None:
        if data or out is not None or report is not None:
            raise click.UsageError("--store fits the store's own weights from its feedback; "
                                   "--data, --out and --report go without it")
        from ..retrieval.feedback import save_ranker
        from ..retrieval.ranker import META_KEY
        from ..retrieval.train import fit_store

        with opened(store, create=False) as mem, errors_to_exit():
            model, n = fit_store(mem)
            if model is None:
                # weights fitted before from judgments since erased (or none): the shipped
                why = ("no usable feedback in the store (a query needs a 'useful' judgment of "
                       "a memory it still finds, or a 'not useful' one of a memory that differs "
                       "from its other candidates in more than its match: age, importance, "
                       "speaker)")
                if mem.backend.get_meta(META_KEY):
                    save_ranker(mem.backend, None)
                    click.echo(f"{why}: its own weights are dropped, searches use the "
                               "shipped ones")
                else:
                    click.echo(f"{why}: it keeps the shipped weights")
                return
            save_ranker(mem.backend, model)
            click.echo(f"fitted this store's weights from {n} judgments")
        return
    if not data or out is None:
        raise click.UsageError("give --data NAME:PATH (repeatable) and --out FILE, or --store")
    writable(out, "--out")
    writable(report, "--report")
    from ..bench.ranker_data import UnknownData, fit_on_data

    command = "ltm train ranker " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else ""
    try:
        with errors_to_exit():  # (an unknown --embedder: InvalidInput, exit 2)
            model, cv = fit_on_data(data, folds=folds, l2=l2, context_window=context_window,
                                    embedder=embedder, command=command,
                                    note=lambda line: click.echo(line, err=True))
    except UnknownData as exc:
        raise click.BadParameter(str(exc), param_hint="--data") from None
    except FileNotFoundError as exc:  # locomo:PATH or beam:DIR that holds no such data
        raise click.BadParameter(str(exc), param_hint="--data") from None
    Path(out).write_text(json.dumps(model.to_dict(), indent=1) + "\n")
    if report:
        Path(report).write_text(json.dumps(cv, indent=2) + "\n")
    click.echo(json.dumps(cv, indent=2))
