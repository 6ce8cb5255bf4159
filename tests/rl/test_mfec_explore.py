"""MFEC's held exploratory actions (``eps_repeat``)."""

import numpy as np

from ltm.rl.mfec import MFECAgent, MFECConfig


def _actions(cfg: MFECConfig, steps: int) -> list[int]:
    agent = MFECAgent(4, 3, cfg, seed=0)
    obs = np.zeros(4, np.float32)
    out = []
    for _ in range(steps):
        action = agent.act(obs)
        agent.observe(obs, action, 0.0, obs, False, False)
        out.append(action)
    return out


def test_random_actions_are_held_for_eps_repeat_steps() -> None:
    held = _actions(MFECConfig(eps_start=1.0, eps_end=1.0, eps_repeat=4), 40)
    runs = [held[i:i + 4] for i in range(0, 40, 4)]
    assert all(len(set(r)) == 1 for r in runs)
    assert len({r[0] for r in runs}) > 1
    plain = _actions(MFECConfig(eps_start=1.0, eps_end=1.0), 40)
    assert any(len(set(plain[i:i + 4])) > 1 for i in range(0, 40, 4))


def test_a_hold_ends_with_the_episode() -> None:
    agent = MFECAgent(4, 3, MFECConfig(eps_start=1.0, eps_end=1.0, eps_repeat=100), seed=0)
    obs = np.zeros(4, np.float32)
    first = agent.act(obs)
    agent.observe(obs, first, -1.0, obs, True, False)
    agent.end_episode()
    seen = set()
    for _ in range(30):  # a fresh draw each episode, not the first one held
        agent.act(obs)
        agent.observe(obs, agent._actions[-1], -1.0, obs, True, False)
        seen.add(agent._actions[-1])
        agent.end_episode()
    assert len(seen) > 1
