"""Fast learning runs (< 1 minute each): the loss must fall well below chance.

These catch a broken addressing function: with content/location addressing, allocation or
links broken, the models stay near chance on these tasks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from ltm.neural.runs import load_model
from ltm.neural.train import (
    VALID_SEED_BASE,
    SeqTrainConfig,
    evaluate,
    learning_rate,
    make_task,
    train_sequence_task,
)

torch.set_num_threads(1)


def _check(metrics: dict[str, Any], out: Path, length: int, frac: float) -> None:
    bits = metrics["bits_per_sequence"][str(length)]
    chance = metrics["chance_bits_per_sequence"][str(length)]
    assert bits < frac * chance, (bits, chance)
    assert metrics["nonfinite_steps_skipped"] == 0
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["bits_per_sequence"][str(length)] == bits
    assert (out / "learning_curve.png").stat().st_size > 1000
    assert (out / "checkpoint.pt").exists()


def test_ntm_learns_copy(fast_ntm_copy: tuple[dict[str, Any], Path]) -> None:
    metrics, out = fast_ntm_copy
    _check(metrics, out, 4, 0.2)


def test_dnc_learns_copy(fast_dnc_copy: tuple[dict[str, Any], Path]) -> None:
    metrics, out = fast_dnc_copy
    _check(metrics, out, 4, 0.1)


def test_ntm_learns_associative_recall(tmp_path: Path) -> None:
    """Feed-forward controller (fastest on recall in the NTM paper), one-vector items."""
    cfg = SeqTrainConfig(preset="ntm-recall", controller="ff", bits=4, item_len=1, min_len=2,
                         max_len=3, memory_n=8, memory_w=8, controller_size=32, steps=600,
                         batch_size=16, lr=1e-2, eval_every=200, eval_lengths=[3],
                         progress=False)
    metrics = train_sequence_task(cfg, tmp_path)
    _check(metrics, tmp_path, 3, 0.3)


def test_learning_rate_warmup_then_cosine() -> None:
    cfg = SeqTrainConfig(steps=110, lr=1e-2, lr_min=1e-3, lr_schedule="cosine",
                         warmup_steps=10, progress=False)
    assert learning_rate(cfg, 1) == pytest.approx(1e-3)
    assert learning_rate(cfg, 10) == pytest.approx(1e-2)
    assert learning_rate(cfg, 11) == pytest.approx(1e-2)
    assert learning_rate(cfg, 110) == pytest.approx(1e-3)
    flat = SeqTrainConfig(steps=110, lr=1e-2, progress=False)
    assert learning_rate(flat, 1) == learning_rate(flat, 110) == 1e-2


def test_keep_best_ends_on_the_best_validation_weights(tmp_path: Path) -> None:
    """The checkpoint holds the selected weights; their validation cost is the best seen."""
    cfg = SeqTrainConfig(preset="ntm-copy", bits=4, min_len=1, max_len=3, memory_n=8,
                         memory_w=6, controller_size=16, steps=60, batch_size=8, lr=1e-2,
                         eval_every=20, eval_lengths=[3], eval_sequences=20,
                         weight_average=0.9, keep_best=True, progress=False)
    metrics = train_sequence_task(cfg, tmp_path)
    sel = metrics["selected_weights"]
    seen = [e[f"valid_bits_{w}"] for e in metrics["evals"] for w in ("live", "average")]
    assert sel["valid_bits"] == min(seen)
    assert sel["weights"] in ("live", "average")
    assert "3" in metrics["bits_per_sequence_last_weights"]
    model, _ = load_model(tmp_path / "checkpoint.pt")
    task = make_task(cfg)
    again = evaluate(model, task, [3], 20, cfg.seed, seed_base=VALID_SEED_BASE)
    assert again[3]["bits"] == pytest.approx(sel["valid_bits"], rel=1e-5)
