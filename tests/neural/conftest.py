"""Shared fast training runs (small widths, short runs) reused by several tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from ltm.neural.train import SeqTrainConfig, train_sequence_task

torch.set_num_threads(1)

# Small enough to train in well under a minute on one core, large enough to learn.
FAST_NTM_COPY = {"preset": "ntm-copy", "bits": 4, "min_len": 1, "max_len": 4, "memory_n": 12,
                     "memory_w": 8, "controller_size": 32, "steps": 800, "batch_size": 16, "lr": 1e-2,
                     "eval_every": 200, "eval_lengths": [4], "progress": False}
FAST_DNC_COPY = {"preset": "dnc-copy", "bits": 4, "min_len": 1, "max_len": 4, "memory_n": 8,
                     "memory_w": 8, "controller_size": 32, "read_heads": 1, "steps": 800, "batch_size": 16,
                     "lr": 1e-2, "eval_every": 200, "eval_lengths": [4], "progress": False}


def _run(tmp_path_factory: pytest.TempPathFactory, name: str,
         kw: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp(name)
    return train_sequence_task(SeqTrainConfig(**kw), out), out


@pytest.fixture(scope="session")
def fast_ntm_copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return _run(tmp_path_factory, "ntm-copy", FAST_NTM_COPY)


@pytest.fixture(scope="session")
def fast_dnc_copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return _run(tmp_path_factory, "dnc-copy", FAST_DNC_COPY)
