"""Pieces the learning agents share: the MLP, the epsilon schedule, the replay buffer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ltm.replay import PrioritizedBuffer, ReplayBuffer, UniformBuffer, open_buffer


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def linear_epsilon(step: int, start: float, end: float, steps: int) -> float:
    frac = min(1.0, step / max(1, steps))
    return start + frac * (end - start)


def make_replay(kind: str, capacity: int, schema: dict[str, Any], path: Path | None,
                seed: int, alpha: float = 0.6, beta: float = 0.4) -> ReplayBuffer:
    """ltm's uniform or prioritized buffer; in a folder (resumable) when ``path`` is given."""
    if path is not None and (path / "manifest.json").exists():
        return open_buffer(path)
    if kind == "uniform":
        return UniformBuffer(capacity, schema, path=path, seed=seed)
    if kind == "prioritized":
        return PrioritizedBuffer(capacity, schema, alpha=alpha, beta=beta, path=path, seed=seed)
    raise ValueError(f"unknown replay kind {kind!r} (uniform, prioritized)")


def torch_rng_state() -> Any:
    return torch.get_rng_state()


def greedy(q: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the largest value, ties broken at random."""
    best = np.flatnonzero(q == q.max())
    return int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])
