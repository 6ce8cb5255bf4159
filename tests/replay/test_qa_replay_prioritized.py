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


def test_sequence_starts_follow_the_priorities() -> None:
    # the stratified draw gives slots in ascending mass order, and sample_sequences kept the
    # first valid ones: only the first half of the mass (slots 0-49 of 100) was ever a start
    from scipy import stats

    buf = PrioritizedBuffer(100, {"i": "int64", "reward": "float32", "done": "bool"}, alpha=1.0, seed=0)
    buf.extend({"i": np.arange(100), "reward": np.ones(100), "done": np.zeros(100, bool)})
    pri = np.random.default_rng(1).uniform(0.5, 3.0, 100)
    buf.update_priorities(np.arange(100), pri)
    valid = np.arange(99)  # a run of 2 from slot 99 would wrap onto the oldest item
    expected = buf.probabilities()[valid]
    expected = expected / expected.sum()
    for draw in (lambda: buf.sample_sequences(10, 2).indices, lambda: buf.sample_nstep(10, 2, 0.9).indices):
        counts = np.zeros(100)
        for _ in range(1500):
            np.add.at(counts, draw(), 1)
        assert counts[99] == 0
        _, p = stats.chisquare(counts[valid], expected * counts.sum())
        assert p > 1e-3, p
