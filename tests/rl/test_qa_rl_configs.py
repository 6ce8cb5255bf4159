"""QA: agent settings are checked when a config (or a run's settings) is made."""

from __future__ import annotations

import pytest

from ltm.errors import InvalidInput
from ltm.rl.dqn import DQNConfig
from ltm.rl.mfec import MFECConfig
from ltm.rl.nec import NECConfig
from ltm.rl.train import PRESETS, settings_for

BAD = [
    (MFECConfig, {"gamma": 2.0}),  # trained with returns that grow without bound
    (MFECConfig, {"eps_repeat": 0}),
    (MFECConfig, {"k": 0}),
    (MFECConfig, {"capacity": 0}),
    (MFECConfig, {"eps_start": -0.1}),
    (MFECConfig, {"projection_dim": -4}),
    (NECConfig, {"nstep": 0}),  # raw IndexError 'pop from an empty deque' after an episode
    (NECConfig, {"hidden": (64, 0)}),
    (NECConfig, {"delta": 0.0}),
    (NECConfig, {"dnd_lr": 1.5}),
    (NECConfig, {"write_tol": -1.0}),
    (NECConfig, {"gamma": "0.9"}),
    (DQNConfig, {"replay": "prioritised"}),  # only failed once the agent was built
    (DQNConfig, {"batch_size": 0}),
    (DQNConfig, {"per_beta": 1.5}),
    (DQNConfig, {"lr": float("nan")}),
    (DQNConfig, {"target_update": 0}),
]


@pytest.mark.parametrize(("cls", "kw"), BAD, ids=lambda x: str(x) if isinstance(x, dict) else x.__name__)
def test_bad_settings_are_invalid_input(cls: type, kw: dict) -> None:
    with pytest.raises(InvalidInput):
        cls(**kw)


def test_defaults_and_presets_are_valid() -> None:
    for cls in (MFECConfig, NECConfig, DQNConfig):
        cls()
    for env, agents in PRESETS.items():
        for agent in agents:
            settings_for(env, agent, 100, 0)


def test_a_bad_override_fails_before_the_run() -> None:
    with pytest.raises(InvalidInput, match="nstep"):
        settings_for("CartPole-v1", "nec", 100, 0, overrides={"nstep": 0})
    settings_for("CartPole-v1", "nec", 100, 0, overrides={"hidden": [32, 32]})  # JSON list
