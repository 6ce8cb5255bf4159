"""One trainer for the NTM and DNC algorithmic tasks.

``train_sequence_task(SeqTrainConfig(...))`` trains, evaluates every ``eval_every`` steps,
checkpoints (weights + dataclass configs), and writes ``metrics.json`` with
``bits_per_sequence`` for each evaluated length and a PNG learning curve.
"""

from __future__ import annotations

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
    grad_clip: float = 10.0
    lr_schedule: str = "constant"  # "constant" or "cosine" (to lr_min over the run)
    lr_min: float = 1e-4
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
) -> dict[int, dict[str, float]]:
    """Cost on ``sequences`` fresh sequences per length (fixed eval seed, independent of training)."""
    gen = torch.Generator()
    gen.manual_seed(10_000 + seed)
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
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    train_x: list[float] = []
    train_bits: list[float] = []
    evals: list[dict[str, Any]] = []
    nonfinite = 0
    start = time.perf_counter()
    reached_at: int | None = None
    ema: float | None = None
    bar = tqdm(range(1, cfg.steps + 1), desc=cfg.preset, disable=not cfg.progress,
               dynamic_ncols=True)
    step = 0
    for step in bar:
        if cfg.lr_schedule == "cosine":
            frac = (step - 1) / max(1, cfg.steps - 1)
            for g in opt.param_groups:
                g["lr"] = cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * frac))
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
        bits, _ = sequence_costs(logits.detach(), batch)
        ema = bits if ema is None else 0.98 * ema + 0.02 * bits
        if step % 10 == 0:
            train_x.append(step * cfg.batch_size)
            train_bits.append(ema)
        bar.set_postfix(bits=f"{ema:.2f}", L=length)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            ev = evaluate(model, task, [cfg.max_len], cfg.eval_sequences, cfg.seed)
            bits_at_max = ev[cfg.max_len]["bits"]
            evals.append({"step": step, "sequences": step * cfg.batch_size,
                          "seconds": time.perf_counter() - start,
                          "bits": bits_at_max, "bit_errors": ev[cfg.max_len]["bit_errors"]})
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
    }
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

