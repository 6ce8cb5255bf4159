"""The differentiable neural dictionary: reads and writes against closed forms, gradients."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ltm.rl.dnd import DND, kernel_read  # noqa: E402
from ltm.rl.nec import NECAgent, NECConfig  # noqa: E402


def test_read_is_the_kernel_weighted_mean_of_the_nearest_values() -> None:
    rng = np.random.default_rng(0)
    keys = rng.standard_normal((50, 4)).astype(np.float32)
    values = rng.uniform(-2, 2, 50)
    dnd = DND(4, 100, k=5, delta=1e-3)
    dnd.write(keys, values)
    q = rng.standard_normal((8, 4)).astype(np.float32)
    got = dnd.read(torch.from_numpy(q).double())
    d2 = ((keys[None] - q[:, None]) ** 2).sum(-1).astype(np.float64)  # (8, 50)
    near = np.argsort(d2, axis=1)[:, :5]
    w = 1.0 / (np.take_along_axis(d2, near, 1) + 1e-3)
    want = (w * values[near]).sum(1) / w.sum(1)
    assert torch.allclose(got, torch.from_numpy(want), rtol=1e-4)
    # a key held exactly dominates its own read (weight 1 / delta)
    own = dnd.read(torch.from_numpy(keys[:3]).double())
    assert torch.allclose(own, torch.from_numpy(values[:3]), atol=0.05)


def test_write_updates_held_keys_tabularly_and_inserts_new_ones() -> None:
    dnd = DND(2, 3, k=1, lr=0.1)
    a, b, c, d = (np.array([[x, 0.0]], np.float32) for x in (1.0, 2.0, 3.0, 4.0))
    slot_a = dnd.write(a, [1.0])[0]
    dnd.write(a, [3.0])  # v += 0.1 (3 - 1)
    assert dnd.values[slot_a] == pytest.approx(1.2)
    assert len(dnd) == 1
    dnd.write(b, [5.0])
    dnd.write(c, [6.0])
    dnd.read(torch.from_numpy(a))  # a used last among a, b, c: b is the least recently used
    dnd.write(d, [7.0])
    assert len(dnd) == 3
    assert dnd.match(np.concatenate([a, b, c, d])).tolist()[1] == -1


def test_kernel_read_gradient_check() -> None:
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    keys = torch.randn(3, 5, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    values = torch.randn(3, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, k, v: kernel_read(x, k, v, 1e-3), (h, keys, values))


def test_dnd_read_gradient_reaches_the_query() -> None:
    rng = np.random.default_rng(1)
    dnd = DND(3, 20, k=4)
    dnd.write(rng.standard_normal((20, 3)).astype(np.float32), rng.standard_normal(20))
    h = torch.from_numpy(rng.standard_normal((2, 3))).requires_grad_(True)
    assert torch.autograd.gradcheck(dnd.read, (h,))  # neighbours fixed near h: smooth in h


def test_nec_loss_trains_the_embedding() -> None:
    agent = NECAgent(4, 2, NECConfig(learning_starts=0, train_every=1, batch_size=8,
                                     refresh_every=0, nstep=3), seed=0)
    rng = np.random.default_rng(2)
    for _ in range(12):
        obs = rng.standard_normal(4).astype(np.float32)
        a = agent.act(obs)
        agent.observe(obs, a, 1.0, obs, False, False)
    before = [p.detach().clone() for p in agent.net.parameters()]
    obs = rng.standard_normal(4).astype(np.float32)
    agent.observe(obs, agent.act(obs), 1.0, obs, True, False)  # one more update
    agent.end_episode()
    assert agent.updates > 0 and len(agent.replay) > 0
    moved = [not torch.equal(a, b) for a, b in zip(before, agent.net.parameters())]
    assert all(moved)


def test_write_within_tolerance_updates_the_held_key() -> None:
    dnd = DND(2, 10, k=1, lr=0.5, write_tol=0.01)
    slot = dnd.write(np.array([[1.0, 0.0]], np.float32), [2.0])[0]
    dnd.write(np.array([[1.05, 0.0]], np.float32), [4.0])  # squared distance 0.0025 <= 0.01
    assert len(dnd) == 1 and dnd.values[slot] == pytest.approx(3.0)
    dnd.write(np.array([[1.2, 0.0]], np.float32), [4.0])  # 0.04 > 0.01: a new key
    assert len(dnd) == 2 and dnd.values[slot] == pytest.approx(3.0)


def test_nec_normalises_states_and_re_embeds_the_stored_ones() -> None:
    agent = NECAgent(3, 2, NECConfig(learning_starts=10_000, normalize_steps=40, nstep=5),
                     seed=0)
    rng = np.random.default_rng(3)
    seen = []
    for t in range(60):
        obs = (rng.standard_normal(3) * [1.0, 10.0, 0.1] + [0.0, 5.0, -1.0]).astype(np.float32)
        if t < 40:
            seen.append(obs)
        a = agent.act(obs)
        agent.observe(obs, a, 1.0, obs, t % 20 == 19, False)
        if t % 20 == 19:
            agent.end_episode()
    seen_arr = np.array(seen, np.float64)
    np.testing.assert_allclose(agent.shift, seen_arr.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(agent.scale, seen_arr.std(0), rtol=1e-4)
    for dnd, states in zip(agent.dnds, agent.states):
        slots = np.flatnonzero(dnd.index.filled)
        assert len(slots)
        np.testing.assert_allclose(dnd.index.vectors[slots], agent.embed(states[slots]),
                                   rtol=1e-5, atol=1e-6)


def test_estimate_is_read_without_gradients() -> None:
    rng = np.random.default_rng(4)
    dnd = DND(5, 200, k=7, delta=1e-2)
    dnd.write(rng.standard_normal((150, 5)).astype(np.float32), rng.uniform(-3, 3, 150))
    q = rng.standard_normal((6, 5)).astype(np.float32)
    want = dnd.read(torch.from_numpy(q)).numpy()
    np.testing.assert_allclose(dnd.estimate(q), want, rtol=1e-4, atol=1e-5)
    assert np.array_equal(DND(5, 10, k=3).estimate(q), np.zeros(6))
