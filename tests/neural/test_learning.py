"""Fast learning runs (< 1 minute each): the loss must fall well below chance.

These catch a broken addressing function: with content/location addressing, allocation or
links broken, the models stay near chance on these tasks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ltm.neural.train import SeqTrainConfig, train_sequence_task

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
