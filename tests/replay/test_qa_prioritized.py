"""QA: prioritized sampling must never reach an empty slot, whatever alpha and eps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ltm.replay import PrioritizedBuffer, open_buffer

SCHEMA = {"i": "int64"}


def _check_only_live(buf: PrioritizedBuffer, stored: int) -> None:
    p = buf.probabilities()
    assert p[stored:].sum() == 0.0
    assert p[:stored] == pytest.approx(np.full(stored, 1.0 / stored))
    batch = buf.sample(400, rng=0)
    assert np.all(batch.stamps >= 0)  # -1 would be an empty slot's zeros
    assert set(batch.data["i"].tolist()) <= set(range(stored))
    counts = np.bincount(batch.indices, minlength=buf.capacity)
    assert counts[stored:].sum() == 0
    assert np.all(counts[:stored] > 0)


def test_alpha_zero_samples_only_stored_items(tmp_path: Path) -> None:
    # alpha = 0 is documented as uniform: 0 ** 0 == 1 must not give empty slots mass
    buf = PrioritizedBuffer(16, SCHEMA, alpha=0.0, seed=0, path=tmp_path / "b")
    buf.extend({"i": np.arange(3)})
    _check_only_live(buf, 3)
    buf.close()
    again = open_buffer(tmp_path / "b")  # the tree is rebuilt from the files on reopen
    assert isinstance(again, PrioritizedBuffer)
    _check_only_live(again, 3)
    again.close()
