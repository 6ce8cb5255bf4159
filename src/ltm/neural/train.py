"""One trainer for the NTM and DNC algorithmic tasks.

``train_sequence_task(SeqTrainConfig(...))`` trains, evaluates every ``eval_every`` steps,
checkpoints (weights + dataclass configs), and writes ``metrics.json`` with
``bits_per_sequence`` for each evaluated length and a PNG learning curve.

Optionally the trainer keeps an exponential moving average of the weights
(``weight_average``) and, with ``keep_best``, ends on the weights (live or averaged) with
the lowest cost at ``max_len`` on a validation set: sequences drawn from their own seed,
disjoint from the test sequences behind ``bits_per_sequence``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from .dnc import DNC, DNCConfig
from .ntm import NTM, NTMConfig
from .runs import plot_curve, save_checkpoint, seed_everything, write_metrics
from .tasks import (
    AssociativeRecallTask,
    Batch,
    CopyTask,
    RepeatCopyTask,
    Task,
    chance_bits_per_sequence,
    masked_bce,
    sequence_costs,
)

PRESETS = ("ntm-copy", "ntm-repeat-copy", "ntm-recall", "dnc-copy", "dnc-recall")


@dataclass
class SeqTrainConfig:
    preset: str = "ntm-copy"
    seed: int = 0
    steps: int = 2000
    batch_size: int = 16
    lr: float = 1e-3
    optimizer: str = "adam"  # "adam" or "rmsprop"
    adam_beta2: float = 0.999  # smaller: the step-size normaliser follows gradient spikes sooner
    grad_clip: float = 10.0
    lr_schedule: str = "constant"  # "constant" or "cosine" (to lr_min over the run)
    lr_min: float = 1e-4
    warmup_steps: int = 0  # linear warmup from 0 to lr over this many updates (0: none)
    weight_average: float = 0.0  # EMA decay of the weights, e.g. 0.99 (0: off)
    keep_best: bool = False  # end on the best validation weights among the evaluations
    # task
    bits: int = 8
    item_len: int = 3  # associative recall: vectors per item
    min_len: int = 1
    max_len: int = 20
    # model
    controller: str = "lstm"
    controller_size: int = 100
    memory_n: int = 128
    memory_w: int = 20
    read_heads: int = 1
    output_scale: bool = False  # NTM: learned scale of the output logits
    # evaluation
    eval_every: int = 200
    eval_sequences: int = 100
    eval_lengths: list[int] = field(default_factory=list)
    eval_memory_n: int = 0  # 0: training memory size; otherwise enlarge memory at test time
    stop_bits: float = 0.0  # stop early once eval bits at max_len falls below this (0: never)
    threads: int = 1
    progress: bool = True

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose from {PRESETS}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError("lr_schedule must be 'constant' or 'cosine'")
        if not self.eval_lengths:
            self.eval_lengths = [self.max_len]
        if not 0.0 <= self.weight_average < 1.0:
            raise ValueError("weight_average must be in [0, 1)")
        if self.warmup_steps < 0:
            raise ValueError("warmup_steps must be >= 0")


TEST_SEED_BASE = 10_000  # test sequences: generator seed 10_000 + seed
VALID_SEED_BASE = 20_000  # validation sequences (checkpoint selection): 20_000 + seed


def learning_rate(cfg: SeqTrainConfig, step: int) -> float:
    """Learning rate of update ``step`` (1-based): linear warmup, then constant or cosine."""
    if step <= cfg.warmup_steps:
        return cfg.lr * step / cfg.warmup_steps
    if cfg.lr_schedule == "cosine":
        frac = (step - 1 - cfg.warmup_steps) / max(1, cfg.steps - 1 - cfg.warmup_steps)
        return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * frac))
    return cfg.lr


class WeightAverage:
    """Exponential moving average of a model's floating-point parameters and buffers."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model)
        self.model.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        # warm start: early averages are not dominated by the random initialisation
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        live = model.state_dict()
        for k, v in self.model.state_dict().items():
            if v.is_floating_point():
                v.lerp_(live[k], 1.0 - d)


def make_task(cfg: SeqTrainConfig) -> Task:
    if cfg.preset.endswith("repeat-copy"):
        return RepeatCopyTask(bits=cfg.bits, min_len=cfg.min_len, max_len=cfg.max_len)
    if cfg.preset.endswith("recall"):
        return AssociativeRecallTask(bits=cfg.bits, item_len=cfg.item_len,
                                     min_items=cfg.min_len, max_items=cfg.max_len)
    return CopyTask(bits=cfg.bits, min_len=cfg.min_len, max_len=cfg.max_len)


def make_model(cfg: SeqTrainConfig, task: Task) -> tuple[torch.nn.Module, Any, str]:
    if cfg.preset.startswith("ntm"):
        ncfg = NTMConfig(
            input_size=task.input_size, output_size=task.output_size,
            controller=cfg.controller, controller_size=cfg.controller_size,
            memory_n=cfg.memory_n, memory_w=cfg.memory_w, read_heads=cfg.read_heads,
            output_scale=cfg.output_scale,
        )
        return NTM(ncfg), ncfg, "ntm"
    dcfg = DNCConfig(
        input_size=task.input_size, output_size=task.output_size,
        controller_size=cfg.controller_size, memory_n=cfg.memory_n,
        memory_w=cfg.memory_w, read_heads=cfg.read_heads,
    )
    return DNC(dcfg), dcfg, "dnc"


def make_batch(task: Task, batch_size: int, length: int, gen: torch.Generator) -> Batch:
    return task.batch(batch_size, length, gen)


def evaluate(
    model: torch.nn.Module,
    task: Task,
    lengths: list[int],
    sequences: int,
    seed: int,
    memory_n: int = 0,
    seed_base: int = TEST_SEED_BASE,
) -> dict[int, dict[str, float]]:
    """Cost on ``sequences`` fresh sequences per length (fixed eval seed, independent of training)."""
    gen = torch.Generator()
    gen.manual_seed(seed_base + seed)
    out: dict[int, dict[str, float]] = {}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for length in lengths:
            batch = make_batch(task, sequences, length, gen)
            state = model.init_state(sequences, memory_n=memory_n or None)  # type: ignore[operator]
            logits, _ = model(batch.inputs, state)
            bits, errors = sequence_costs(logits, batch)
            out[length] = {"bits": bits, "bit_errors": errors,
                           "chance_bits": chance_bits_per_sequence(batch)}
    model.train(was_training)
    return out


def train_sequence_task(cfg: SeqTrainConfig, out_dir: str | Path) -> dict[str, Any]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, cfg.threads))
    gen = seed_everything(cfg.seed)
    task = make_task(cfg)
    model, model_cfg, kind = make_model(cfg, task)
    if cfg.optimizer == "rmsprop":
        opt: torch.optim.Optimizer = torch.optim.RMSprop(model.parameters(), lr=cfg.lr,
                                                         momentum=0.9, alpha=0.95)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, cfg.adam_beta2))

    train_x: list[float] = []
    train_bits: list[float] = []
    evals: list[dict[str, Any]] = []
    nonfinite = 0
    start = time.perf_counter()
    reached_at: int | None = None
    ema: float | None = None
    averaged = WeightAverage(model, cfg.weight_average) if cfg.weight_average else None
    best: dict[str, Any] | None = None  # lowest validation cost: step, weights, state_dict
    bar = tqdm(range(1, cfg.steps + 1), desc=cfg.preset, disable=not cfg.progress,
               dynamic_ncols=True)
    step = 0
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = learning_rate(cfg, step)
        length = task.sample_length(gen)
        batch = make_batch(task, cfg.batch_size, length, gen)
        logits, _ = model(batch.inputs)
        loss = masked_bce(logits, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if not (torch.isfinite(loss) and torch.isfinite(grad_norm)):
            nonfinite += 1  # skip the update; counted in metrics
            continue
        opt.step()
        if averaged is not None:
            averaged.update(model)
        bits, _ = sequence_costs(logits.detach(), batch)
        ema = bits if ema is None else 0.98 * ema + 0.02 * bits
        if step % 10 == 0:
            train_x.append(step * cfg.batch_size)
            train_bits.append(ema)
        bar.set_postfix(bits=f"{ema:.2f}", L=length)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            ev = evaluate(model, task, [cfg.max_len], cfg.eval_sequences, cfg.seed)
            bits_at_max = ev[cfg.max_len]["bits"]
            record: dict[str, Any] = {
                "step": step, "sequences": step * cfg.batch_size,
                "seconds": time.perf_counter() - start,
                "bits": bits_at_max, "bit_errors": ev[cfg.max_len]["bit_errors"]}
            if cfg.keep_best or averaged is not None:
                candidates = {"live": model}
                if averaged is not None:
                    candidates["average"] = averaged.model
                for name, cand in candidates.items():
                    val = evaluate(cand, task, [cfg.max_len], cfg.eval_sequences, cfg.seed,
                                   seed_base=VALID_SEED_BASE)[cfg.max_len]["bits"]
                    record[f"valid_bits_{name}"] = val
                    if cfg.keep_best and math.isfinite(val) and (best is None
                                                                 or val < best["valid_bits"]):
                        best = {"step": step, "weights": name, "valid_bits": val,
                                "state_dict": copy.deepcopy(cand.state_dict())}
            evals.append(record)
            save_checkpoint(out / "checkpoint.pt", kind=kind, model=model, model_config=model_cfg,
                            train_config=cfg, step=step, optimizer=opt)
            tqdm.write(f"[{cfg.preset} seed {cfg.seed}] step {step} seqs {step * cfg.batch_size} "
                       f"eval L={cfg.max_len}: {bits_at_max:.3f} bits, "
                       f"{ev[cfg.max_len]['bit_errors']:.2f} wrong bits "
                       f"({time.perf_counter() - start:.0f}s)", file=sys.stderr)
            if cfg.stop_bits > 0 and bits_at_max < cfg.stop_bits:
                reached_at = step
                break
    bar.close()
    wall = time.perf_counter() - start
    selected: dict[str, Any] = {"step": step, "weights": "live"}
    last: dict[int, dict[str, float]] | None = None
    if best is not None:
        last = evaluate(model, task, cfg.eval_lengths, cfg.eval_sequences, cfg.seed)
        model.load_state_dict(best["state_dict"])
        selected = {k: best[k] for k in ("step", "weights", "valid_bits")}
    save_checkpoint(out / "checkpoint.pt", kind=kind, model=model, model_config=model_cfg,
                    train_config=cfg, step=step, optimizer=opt)

    final = evaluate(model, task, cfg.eval_lengths, cfg.eval_sequences, cfg.seed)
    metrics: dict[str, Any] = {
        "preset": cfg.preset,
        "config": dataclasses.asdict(cfg),
        "model_config": dataclasses.asdict(model_cfg),
        "steps": step,
        "sequences_seen": step * cfg.batch_size,
        "wall_seconds": round(wall, 1),
        "bits_per_sequence": {str(k): v["bits"] for k, v in final.items()},
        "bit_errors_per_sequence": {str(k): v["bit_errors"] for k, v in final.items()},
        "chance_bits_per_sequence": {str(k): v["chance_bits"] for k, v in final.items()},
        "evals": evals,
        "nonfinite_steps_skipped": nonfinite,
        "stopped_early_at_step": reached_at,
        "selected_weights": selected,
    }
    if last is not None:
        metrics["bits_per_sequence_last_weights"] = {str(k): v["bits"] for k, v in last.items()}
        metrics["bit_errors_per_sequence_last_weights"] = {
            str(k): v["bit_errors"] for k, v in last.items()}
    if cfg.eval_memory_n:
        big = evaluate(model, task, cfg.eval_lengths, cfg.eval_sequences, cfg.seed,
                       memory_n=cfg.eval_memory_n)
        metrics["enlarged_memory_n"] = cfg.eval_memory_n
        metrics["bits_per_sequence_enlarged_memory"] = {str(k): v["bits"] for k, v in big.items()}
        metrics["bit_errors_per_sequence_enlarged_memory"] = {
            str(k): v["bit_errors"] for k, v in big.items()}
    write_metrics(out, metrics)
    plot_curve(
        out / "learning_curve.png",
        {"train (EMA)": (train_x, train_bits),
         f"eval, length {cfg.max_len}": ([e["sequences"] for e in evals],
                                         [e["bits"] for e in evals])},
        xlabel="training sequences", ylabel="cost (bits / sequence)",
        title=f"{cfg.preset} seed {cfg.seed}", logy=True,
    )
    return metrics

