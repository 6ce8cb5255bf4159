"""Environments of the episodic-control benchmarks (gymnasium; MiniGrid when installed).

Every environment gives flat float32 observations and a discrete action space. MiniGrid's
observation is the fully observed grid (``FullyObsWrapper``: object, colour and state per
cell, the agent's direction in its cell), flattened; every agent sees the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# return at which an environment counts as solved (mean of the last 20 episodes)
THRESHOLDS: dict[str, float] = {
    "CartPole-v1": 475.0,
    "Acrobot-v1": -100.0,
    "LunarLander-v3": 200.0,
    "MiniGrid-DoorKey-5x5-v0": 0.9,
}
ALIASES = {"MiniGrid-DoorKey-5x5": "MiniGrid-DoorKey-5x5-v0"}


def canonical(env_id: str) -> str:
    return ALIASES.get(env_id, env_id)


def _gym() -> Any:
    try:
        import gymnasium
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("episodic control needs gymnasium: pip install 'ltm[rl]'") from exc
    return gymnasium


class FlatObs:
    """Wraps an environment so that observations are flat float32 vectors."""

    def __init__(self, env: Any, grid: bool) -> None:
        self.env, self.grid = env, grid
        space = env.observation_space["image"] if grid else env.observation_space
        self.obs_dim = int(np.prod(space.shape))
        self.n_actions = int(env.action_space.n)

    def _flat(self, obs: Any) -> np.ndarray:
        arr = obs["image"] if self.grid else obs
        return np.asarray(arr, np.float32).reshape(-1)

    def reset(self, seed: int) -> np.ndarray:
        obs, _ = self.env.reset(seed=seed)
        return self._flat(obs)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool]:
        obs, reward, terminated, truncated, _ = self.env.step(action)
        return self._flat(obs), float(reward), bool(terminated), bool(truncated)

    def close(self) -> None:
        self.env.close()


def make_env(env_id: str) -> FlatObs:
    gym = _gym()
    env_id = canonical(env_id)
    if env_id.startswith("MiniGrid"):
        try:
            import minigrid  # noqa: F401 - registers the MiniGrid environments
            from minigrid.wrappers import FullyObsWrapper
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("MiniGrid environments need the minigrid package") from exc
        return FlatObs(FullyObsWrapper(gym.make(env_id)), grid=True)
    try:
        env = gym.make(env_id)
    except gym.error.DependencyNotInstalled as exc:  # e.g. LunarLander without Box2D
        raise ImportError(f"{env_id} needs a package that is not installed: {exc}") from None
    if not hasattr(env.action_space, "n"):
        raise ValueError(f"{env_id} has no discrete action space")
    return FlatObs(env, grid=False)
