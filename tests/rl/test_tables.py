"""k-NN index and episodic tables against closed forms (brute-force numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from ltm.index.knn import KnnIndex, top_k
from ltm.rl.tables import EpisodicTable


def _brute(keys: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    d2 = ((keys[None, :, :] - q[:, None, :]) ** 2).sum(-1)  # (m, n)
    order = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d2, order, 1)


def test_top_k_is_a_sorted_partial_sort() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3], np.float32)
    assert top_k(scores, 3).tolist() == [1, 3, 2]
    assert top_k(scores, 10).tolist() == [1, 3, 2, 4, 0]


def test_exact_scan_equals_brute_force() -> None:
    rng = np.random.default_rng(0)
    keys = rng.standard_normal((300, 6)).astype(np.float32)
    idx = KnnIndex(6, 500, hnsw_threshold=0)
    idx.set(np.arange(300), keys)
    q = rng.standard_normal((20, 6)).astype(np.float32)
    slots, d2 = idx.search(q, 7)
    want, want_d2 = _brute(keys, q, 7)
    assert (slots == want).all()
    np.testing.assert_allclose(d2, want_d2, rtol=1e-5)
    # an exact duplicate is at distance 0; overwriting a slot moves its key
    s, d = idx.search(keys[42:43], 1)
    assert s[0, 0] == 42 and d[0, 0] == 0.0
    idx.set(np.array([42]), q[:1])
    s, d = idx.search(q[:1], 1)
    assert s[0, 0] == 42 and d[0, 0] == 0.0 and len(idx) == 300


def test_hnsw_past_threshold_finds_the_exact_neighbours() -> None:
    rng = np.random.default_rng(1)
    keys = rng.standard_normal((2_000, 8)).astype(np.float32)
    idx = KnnIndex(8, 3_000, hnsw_threshold=500)
    idx.set(np.arange(400), keys[:400])
    assert not idx.uses_graph
    idx.set(np.arange(400, 2_000), keys[400:])
    assert idx.uses_graph
    q = rng.standard_normal((50, 8)).astype(np.float32)
    slots, d2 = idx.search(q, 5)
    want, _ = _brute(keys, q, 5)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(slots.tolist(), want.tolist())])
    assert recall >= 0.95
    exact = ((keys[slots] - q[:, None, :]) ** 2).sum(-1)  # returned distances are exact
    np.testing.assert_allclose(d2, exact, rtol=1e-5)
    idx.set(np.array([7]), q[:1])  # updates go into the graph too
    s, d = idx.search(q[:1], 1)
    assert s[0, 0] == 7 and d[0, 0] == 0.0


def test_episodic_table_closed_form() -> None:
    rng = np.random.default_rng(2)
    keys = rng.standard_normal((40, 3)).astype(np.float32)
    returns = rng.uniform(-1, 1, 40)
    t = EpisodicTable(3, 100, k=4)
    assert np.isnan(t.estimate(keys[:1])).all()
    t.update(keys, returns)
    assert len(t) == 40
    # held keys: their value; max() keeps the better return, a worse one changes nothing
    np.testing.assert_allclose(t.estimate(keys[:5]), returns[:5])
    t.update(keys[:2], returns[:2] + np.array([0.5, -0.5]))
    np.testing.assert_allclose(t.estimate(keys[:2]), [returns[0] + 0.5, returns[1]])
    # duplicates in one batch: the best return counts
    t.update(np.repeat(keys[2:3], 3, axis=0), [returns[2] - 1, returns[2] + 2, returns[2] + 1])
    assert t.estimate(keys[2:3])[0] == pytest.approx(returns[2] + 2)
    values = returns.copy()
    values[0] += 0.5
    values[2] += 2
    # unseen keys: the mean of the k nearest values
    q = rng.standard_normal((10, 3)).astype(np.float32)
    near, _ = _brute(keys, q, 4)
    np.testing.assert_allclose(t.estimate(q), values[near].mean(axis=1))


def test_lru_eviction_keeps_recently_used_keys() -> None:
    keys = np.eye(4, dtype=np.float32)[:, :3] * np.arange(1, 5, dtype=np.float32)[:, None]
    t = EpisodicTable(3, 3, k=1)
    for i in range(3):
        t.update(keys[i:i + 1], [i + 1.0])  # used in order 0, 1, 2
    t.estimate(keys[0:1])  # key 0 used again: key 1 is now the least recently used
    t.update(keys[3:4], [4.0])
    assert len(t) == 3
    held = t.match(keys)
    assert held[1] == -1 and (held[[0, 2, 3]] >= 0).all()
    np.testing.assert_allclose(t.estimate(keys[[0, 2, 3]]), [1.0, 3.0, 4.0])


def test_table_state_round_trip() -> None:
    rng = np.random.default_rng(3)
    keys = rng.standard_normal((30, 2)).astype(np.float32)
    a = EpisodicTable(2, 50, k=3)
    a.update(keys, np.arange(30.0))
    b = EpisodicTable(2, 50, k=3)
    b.load_state(a.state())
    q = rng.standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_array_equal(a.estimate(q), b.estimate(q))
    assert a.clock == b.clock and (a.last_used == b.last_used).all()
