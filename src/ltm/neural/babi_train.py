"""Training MemN2N on bAbI, one model per task (the paper's "independent" setting).

Paper recipe (Sukhbaatar et al. 2015, section 4.2): 10% of the training questions held out
for validation, batch 32, SGD with lr 0.01 halved every 25 epochs for 100 epochs, gradient
norm clipped at 40, weights ~ N(0, 0.1), memory of the 50 most recent sentences, d = 20.
Linear start: train without the attention softmax (lr 0.005), then re-insert it. The paper
ends LS "when the validation loss stopped decreasing"; the authors' code runs it for a fixed
20 epochs, which is the default here (``ls_patience=0``). Ending it on the first two epochs
without a validation-loss gain (the earlier default) stopped LS after 3-18 epochs (median
6), too early for task 16. The weights with the best validation error after LS are kept,
and the test error is measured with them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .babi import BabiTensors, Vocab, load_task, sentence_size, vectorize
from .memn2n import MemN2N, MemN2NConfig, noisy_time
from .runs import plot_curve, save_checkpoint, seed_everything, write_metrics


@dataclass
class BabiTrainConfig:
    task: int = 1
    data_dir: str = ""
    seed: int = 0
    epochs: int = 100
    steps: int = 0  # if > 0, stop after this many updates (overrides epochs)
    batch_size: int = 32
    lr: float = 0.01
    ls_lr: float = 0.005
    anneal_every: int = 25
    grad_clip: float = 40.0
    linear_start: bool = True
    ls_patience: int = 0  # > 0: also end LS after this many epochs without val-loss gain
    ls_max_epochs: int = 20  # LS length (the authors' code: 20 epochs)
    random_noise: bool = True
    hops: int = 3
    embed_dim: int = 20
    memory_size: int = 50
    position_encoding: bool = True
    temporal_encoding: bool = True
    tying: str = "adjacent"
    val_fraction: float = 0.1
    threads: int = 1
    progress: bool = True


@dataclass
class BabiData:
    train: BabiTensors
    val: BabiTensors
    test: BabiTensors
    vocab: Vocab
    sent_size: int


def prepare_data(cfg: BabiTrainConfig, gen: torch.Generator) -> BabiData:
    train_s, test_s = load_task(cfg.data_dir, cfg.task)
    vocab = Vocab.build(train_s, test_s)
    sent = sentence_size(train_s, test_s)
    full = vectorize(train_s, vocab, cfg.memory_size, sent)
    perm = torch.randperm(len(full), generator=gen)
    n_val = max(1, round(cfg.val_fraction * len(full)))
    return BabiData(full.subset(perm[n_val:]), full.subset(perm[:n_val]),
                    vectorize(test_s, vocab, cfg.memory_size, sent), vocab, sent)


def evaluate(model: MemN2N, data: BabiTensors, linear: bool = False,
             batch: int = 256) -> tuple[float, float]:
    """(error rate in 0..1, mean cross-entropy)."""
    model.eval()
    wrong, loss_sum = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(data), batch):
            d = data.subset(torch.arange(i, min(i + batch, len(data))))
            logits = model(d.stories, d.queries, d.mem_mask, linear=linear)
            assert isinstance(logits, torch.Tensor)
            loss_sum += float(F.cross_entropy(logits, d.answers, reduction="sum"))
            wrong += int((logits.argmax(-1) != d.answers).sum())
    model.train()
    n = max(1, len(data))
    return wrong / n, loss_sum / n


def train_babi(cfg: BabiTrainConfig, out_dir: str | Path | None = None) -> dict[str, Any]:
    torch.set_num_threads(max(1, cfg.threads))
    gen = seed_everything(cfg.seed)
    data = prepare_data(cfg, gen)
    mcfg = MemN2NConfig(
        vocab_size=len(data.vocab), sentence_size=data.sent_size,
        memory_size=cfg.memory_size, embed_dim=cfg.embed_dim, hops=cfg.hops,
        position_encoding=cfg.position_encoding, temporal_encoding=cfg.temporal_encoding,
        tying=cfg.tying,
    )
    model = MemN2N(mcfg)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.ls_lr if cfg.linear_start else cfg.lr)
    linear = cfg.linear_start
    ls_best, ls_bad, ls_epochs = math.inf, 0, 0
    epoch_after_ls = 0
    best: tuple[float, float] = (math.inf, math.inf)
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch = 0
    curve: dict[str, list[float]] = {"epoch": [], "train_loss": [], "val_error": []}
    n = len(data.train)
    steps_done = 0
    start = time.perf_counter()
    max_epochs = cfg.epochs + (cfg.ls_max_epochs if cfg.linear_start else 0)
    bar = tqdm(total=max_epochs, desc=f"memn2n qa{cfg.task}", disable=not cfg.progress,
               dynamic_ncols=True)
    epoch = 0
    while epoch < max_epochs:
        epoch += 1
        if not linear:
            epoch_after_ls += 1
            lr = cfg.lr * 0.5 ** ((epoch_after_ls - 1) // cfg.anneal_every)
            for g in opt.param_groups:
                g["lr"] = lr
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, cfg.batch_size):
            d = data.train.subset(perm[i : i + cfg.batch_size])
            t = (noisy_time(d.mem_mask, mcfg.time_size, generator=gen)
                 if cfg.random_noise and cfg.temporal_encoding else None)
            logits = model(d.stories, d.queries, d.mem_mask, time=t, linear=linear)
            assert isinstance(logits, torch.Tensor)
            loss = F.cross_entropy(logits, d.answers, reduction="sum")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            with torch.no_grad():
                for e in model.embeddings:
                    assert isinstance(e, torch.nn.Embedding)
                    e.weight[0].zero_()
            total += float(loss.detach())
            steps_done += 1
            if cfg.steps and steps_done >= cfg.steps:
                break
        val_err, val_loss = evaluate(model, data.val, linear=linear)
        curve["epoch"].append(epoch)
        curve["train_loss"].append(total / n)
        curve["val_error"].append(val_err)
        bar.update(1)
        bar.set_postfix(loss=f"{total / n:.3f}", val_err=f"{val_err:.3f}", ls=linear)
        if linear:
            ls_epochs += 1
            if val_loss < ls_best - 1e-4:
                ls_best, ls_bad = val_loss, 0
            else:
                ls_bad += 1
            if (cfg.ls_patience and ls_bad >= cfg.ls_patience) or ls_epochs >= cfg.ls_max_epochs:
                linear = False  # re-insert the softmax
                max_epochs = epoch + cfg.epochs
                bar.total = max_epochs
        elif (val_err, val_loss) <= best:
            best = (val_err, val_loss)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best_epoch = epoch
        if cfg.steps and steps_done >= cfg.steps:
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    else:  # stopped before leaving linear start
        best = evaluate(model, data.val, linear=linear)
    final_linear = linear and best_state is None
    test_err, test_loss = evaluate(model, data.test, linear=final_linear)
    train_err, _ = evaluate(model, data.train, linear=final_linear)
    wall = time.perf_counter() - start
    metrics: dict[str, Any] = {
        "task": cfg.task,
        "seed": cfg.seed,
        "test_error": test_err,
        "test_loss": test_loss,
        "train_error": train_err,
        "val_error": best[0],
        "val_loss": best[1],
        "best_epoch": best_epoch,
        "linear_start_epochs": ls_epochs,
        "epochs": epoch,
        "updates": steps_done,
        "wall_seconds": round(wall, 1),
        "train_questions": len(data.train),
        "config": dataclasses.asdict(cfg),
        "model_config": dataclasses.asdict(mcfg),
    }
    if out_dir is not None:
        out = Path(out_dir)
        save_checkpoint(out / "checkpoint.pt", kind="memn2n", model=model, model_config=mcfg,
                        train_config=cfg, step=steps_done,
                        extra={"vocab": data.vocab.itos})
        write_metrics(out, metrics)
        plot_curve(out / "learning_curve.png",
                   {"train loss": (curve["epoch"], curve["train_loss"]),
                    "validation error": (curve["epoch"], curve["val_error"])},
                   xlabel="epoch", ylabel="loss / error", title=f"MemN2N bAbI qa{cfg.task}")
    return metrics
