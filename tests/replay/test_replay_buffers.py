"""Behaviour of the four buffers in memory: writes, sampling laws, removal, sequences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ltm.replay import (
    EmptyBufferError,
    FIFOBuffer,
    PrioritizedBuffer,
    ReplayError,
    ReservoirBuffer,
    SchemaError,
    UniformBuffer,
    nstep_returns,
)

SCHEMA = {"obs": ((3,), "float32"), "action": ((), "int64"), "reward": "float32", "done": "bool"}


def batch(start: int, n: int, done_every: int = 0) -> dict[str, np.ndarray]:
    ids = np.arange(start, start + n)
    done = (ids % done_every == done_every - 1) if done_every else np.zeros(n, bool)
    return {
        "obs": np.repeat(ids[:, None], 3, axis=1).astype(np.float32),
        "action": ids,
        "reward": np.ones(n, np.float32),
        "done": done,
    }


def test_ring_overwrites_oldest_and_samples_only_live_items() -> None:
    buf = UniformBuffer(10, SCHEMA, seed=0)
    slots = buf.extend(batch(0, 25))
    assert len(buf) == 10 and buf.added == 25
    np.testing.assert_array_equal(slots[-10:], (np.arange(15, 25)) % 10)
    b = buf.sample(500, rng=1)
    assert set(b.data["action"].tolist()) == set(range(15, 25))
    np.testing.assert_array_equal(b.data["obs"][:, 0], b.data["action"])  # rows stay together
    np.testing.assert_array_equal(b.stamps, b.data["action"])
    assert b.data["obs"].shape == (500, 3) and b.data["obs"].dtype == np.float32


def test_uniform_sampling_is_uniform() -> None:
    buf = UniformBuffer(50, SCHEMA, seed=0)
    buf.extend(batch(0, 50))
    counts = np.bincount(buf.sample(50_000, rng=3).data["action"], minlength=50)
    assert stats.chisquare(counts).pvalue > 0.001


def test_fifo_returns_oldest_first_and_acts_as_queue() -> None:
    buf = FIFOBuffer(8, SCHEMA, max_times_sampled=1)
    buf.extend(batch(0, 12))  # keeps 4..11
    assert buf.sample(3).data["action"].tolist() == [4, 5, 6]
    assert buf.sample(3).data["action"].tolist() == [7, 8, 9]
    buf.extend(batch(12, 2))
    assert buf.sample(10).data["action"].tolist() == [10, 11, 12, 13]
    assert len(buf) == 0
    with pytest.raises(EmptyBufferError):
        buf.sample(1)


def test_max_times_sampled_removes_items() -> None:
    buf = UniformBuffer(20, SCHEMA, seed=0, max_times_sampled=2)
    buf.extend(batch(0, 20))
    seen: dict[int, int] = {}
    draws = 0
    while len(buf):
        for a in buf.sample(1).data["action"].tolist():
            seen[a] = seen.get(a, 0) + 1
        draws += 1
    # one draw at a time: every item is read exactly twice, then gone
    assert seen == {i: 2 for i in range(20)} and draws == 40
    buf.extend(batch(100, 5))  # freed slots are reused
    assert len(buf) == 5
    assert set(buf.sample(50).data["action"].tolist()) <= set(range(100, 105))


def test_schema_errors() -> None:
    buf = UniformBuffer(4, SCHEMA)
    with pytest.raises(SchemaError):
        buf.extend({"obs": np.zeros((2, 4)), "action": [0, 1], "reward": [0, 0], "done": [0, 0]})
    with pytest.raises(SchemaError):
        buf.extend({"obs": np.zeros((2, 3))})
    with pytest.raises(SchemaError):
        buf.extend({"obs": np.zeros((2, 3)), "action": [0.5, 1.5], "reward": [0, 0], "done": [0, 0]})


def test_object_items_and_item_dicts() -> None:
    buf = ReservoirBuffer(5, seed=0)
    buf.extend([{"text": "a"}, "b", 3])
    assert sorted(set(map(str, buf.sample(100, rng=0).items))) == ["3", "b", "{'text': 'a'}"]
    d = UniformBuffer(5)
    d.add({"x": np.ones(2), "y": 1})
    d.extend([{"x": np.zeros(2), "y": 2}])
    assert d.fields["x"].shape == (2,) and len(d) == 2


def test_reservoir_keeps_exact_uniform_sample() -> None:
    """Every item of a stream of 200 is kept with probability 20/200 (chi-square, seed 7)."""
    n_items, cap, trials = 200, 20, 1500
    counts = np.zeros(n_items)
    rng = np.random.default_rng(7)
    for t in range(trials):
        buf = ReservoirBuffer(cap, {"i": "int64"}, seed=int(rng.integers(1 << 31)))
        sizes = rng.integers(1, 40, size=20)
        start = 0
        for s in sizes:  # uneven batches exercise the vectorized placement
            stop = min(start + int(s), n_items)
            buf.extend({"i": np.arange(start, stop)})
            start = stop
        buf.extend({"i": np.arange(start, n_items)})
        assert len(buf) == cap
        kept = buf._storage.arrays["i"]
        counts[kept] += 1
    expected = np.full(n_items, trials * cap / n_items)
    chi = stats.chisquare(counts, expected)
    assert chi.pvalue > 0.001, chi
    # a biased rule (e.g. probability cap/t instead of cap/(t+1)) tilts early vs late items
    early, late = counts[:100].sum(), counts[100:].sum()
    assert abs(early - late) / (early + late) < 0.03


def test_reservoir_refuses_sequences() -> None:
    buf = ReservoirBuffer(10, SCHEMA)
    buf.extend(batch(0, 10))
    with pytest.raises(ReplayError):
        buf.sample_sequences(2, 3)


def test_prioritized_frequencies_and_weights() -> None:
    alpha, beta = 0.7, 0.5
    buf = PrioritizedBuffer(64, {"i": "int64"}, alpha=alpha, beta=beta, seed=0)
    buf.extend({"i": np.arange(64)})
    pri = np.linspace(0.1, 5.0, 64)
    buf.update_priorities(np.arange(64), pri - buf.eps)
    p = pri**alpha / (pri**alpha).sum()
    np.testing.assert_allclose(buf.probabilities(), p, rtol=1e-12)
    rng = np.random.default_rng(11)
    counts = np.zeros(64)
    for _ in range(400):
        b = buf.sample(256, rng)
        counts += np.bincount(b.indices, minlength=64)
    chi = stats.chisquare(counts, p * counts.sum())
    assert chi.pvalue > 0.001
    b = buf.sample(32, rng)
    expected_w = (64 * p[b.indices]) ** -beta / (64 * p.min()) ** -beta
    np.testing.assert_allclose(b.weights, expected_w, rtol=1e-10)
    np.testing.assert_allclose(b.probabilities, p[b.indices], rtol=1e-10)
    assert b.weights.max() <= 1.0


def test_prioritized_new_items_get_max_priority_and_stale_updates_are_skipped() -> None:
    buf = PrioritizedBuffer(4, {"i": "int64"}, alpha=1.0, seed=0)
    buf.extend({"i": np.arange(4)})
    buf.update_priorities([0, 1], [9.0, 1.0])
    b = buf.sample(4, rng=0)
    buf.extend({"i": np.arange(4, 8)})  # every slot replaced
    before = buf.probabilities().copy()
    buf.update_priorities(b.indices, np.full(4, 100.0), b.stamps)
    np.testing.assert_array_equal(buf.probabilities(), before)  # stale: skipped
    np.testing.assert_allclose(before, 0.25)  # all new items got max priority 9 + eps


def test_prioritized_removal_zeroes_probability() -> None:
    buf = PrioritizedBuffer(16, {"i": "int64"}, seed=0, max_times_sampled=1)
    buf.extend({"i": np.arange(16)})
    got: list[int] = []
    while len(buf):
        got += buf.sample(1).data["i"].tolist()
        assert np.isclose(buf.probabilities().sum(), 1.0) or len(buf) == 0
    assert sorted(got) == list(range(16))


@pytest.mark.parametrize("cls", [UniformBuffer, PrioritizedBuffer, FIFOBuffer])
def test_sequences_never_cross_the_write_position(cls: type) -> None:
    buf = cls(30, SCHEMA, seed=0)
    buf.extend(batch(0, 47))  # wrapped: slot 17 holds the oldest item (17)
    b = buf.sample_sequences(64 if cls is not FIFOBuffer else 5, 4, rng=2)
    a = b.data["action"]
    assert a.shape[1] == 4 and b.data["obs"].shape[1:] == (4, 3)
    np.testing.assert_array_equal(np.diff(a, axis=1), 1)  # consecutive insertions
    assert a.min() >= 17 and a.max() <= 46


def test_nstep_returns_cut_at_terminal() -> None:
    r = np.array([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    d = np.array([[0, 0, 0], [0, 1, 0]], bool)
    g, disc, last = nstep_returns(r, d, 0.5)
    np.testing.assert_allclose(g, [1 + 1 + 1, 1 + 1])
    np.testing.assert_allclose(disc, [0.125, 0.0])
    np.testing.assert_array_equal(last, [2, 1])
    buf = UniformBuffer(40, SCHEMA, seed=0)
    buf.extend(batch(0, 40, done_every=5))
    nb = buf.sample_nstep(50, 3, 0.9, rng=0)
    first = nb.data["action"]
    # items 4, 9, 14, ... are terminal: the return stops there
    steps_to_end = 4 - first % 5
    m = np.minimum(steps_to_end, 2)
    np.testing.assert_allclose(nb.data["n_return"], (1 - 0.9 ** (m + 1)) / (1 - 0.9), rtol=1e-6)
    np.testing.assert_array_equal(nb.data["last_action"], first + m)
    np.testing.assert_allclose(nb.data["n_discount"], np.where(steps_to_end <= 2, 0, 0.9**3))
