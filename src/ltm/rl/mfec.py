"""Model-free episodic control (Blundell et al., 2016).

Per action an :class:`~ltm.rl.tables.EpisodicTable` maps a state's embedding (the raw state,
or a fixed Gaussian random projection of it) to the highest discounted return that followed
taking that action there. The agent acts epsilon-greedily on the table estimates (an action
whose table is still empty is tried first); at the end of each episode every visited
``(state, action)`` is written with the discounted return that followed it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import checks
from .tables import EpisodicTable


@dataclass(frozen=True)
class MFECConfig:
    gamma: float = 0.99  # discount of the returns written to the tables
    k: int = 11  # neighbours averaged for a state not held exactly
    capacity: int = 100_000  # keys per action (least recently used evicted)
    projection_dim: int = 0  # 0: the raw state is the key; else a random projection to this
    eps_start: float = 1.0  # epsilon-greedy exploration, linear from eps_start ...
    eps_end: float = 0.01  # ... to eps_end ...
    eps_steps: int = 5_000  # ... over this many env steps
    # an exploratory action (epsilon's, or a tie of every action while the tables know
    # nothing) is held for this many steps (temporally extended epsilon-greedy)
    eps_repeat: int = 1
    hnsw_threshold: int = 100_000  # keys per table past which the k-NN index is an HNSW graph
    bootstrap_truncated: bool = True  # an episode cut by a time limit ends on its estimate
    # write nothing of an episode cut by a time limit: with negative rewards its returns are
    # optimistic (the goal was not reached in the steps left) and a max never forgets them
    skip_truncated: bool = False
    normalize_steps: int = 0  # >0: after this many steps, divide states by their std so far

    def __post_init__(self) -> None:
        checks.exploration(self)
        checks.counts(self, ("k", "capacity", "eps_repeat", "hnsw_threshold"))
        checks.counts(self, ("projection_dim", "normalize_steps"), minimum=0)


class MFECAgent:
    name = "mfec"

    def __init__(self, obs_dim: int, n_actions: int, cfg: MFECConfig, seed: int) -> None:
        self.cfg, self.n_actions = cfg, n_actions
        self.rng = np.random.default_rng(seed)
        dim = cfg.projection_dim or obs_dim
        self.projection: np.ndarray | None = None
        if cfg.projection_dim:
            proj = np.random.default_rng(seed + 7_919).standard_normal((obs_dim, dim))
            self.projection = (proj / np.sqrt(dim)).astype(np.float32)  # (obs_dim, dim)
        self.tables = [EpisodicTable(dim, cfg.capacity, cfg.k, hnsw_threshold=cfg.hnsw_threshold)
                       for _ in range(n_actions)]
        self.steps = 0
        # per-dimension scale of the states (ones until normalize_steps have been seen)
        self.scale = np.ones(obs_dim, np.float32)
        self._moments = np.zeros((3, obs_dim))  # count, sum, sum of squares
        self._obs: list[np.ndarray] = []
        self._actions: list[int] = []
        self._rewards: list[float] = []
        self._cut_at: np.ndarray | None = None  # last state of an episode cut by a time limit
        self._held, self._hold = 0, 0  # exploratory action held, steps it is still held

    def embed(self, obs: np.ndarray) -> np.ndarray:
        """Keys of states: ``(obs_dim,) -> (dim,)`` or ``(m, obs_dim) -> (m, dim)``."""
        x = np.asarray(obs, np.float32) / self.scale
        return x if self.projection is None else x @ self.projection

    def _observe_moments(self, obs: np.ndarray) -> None:
        if self.cfg.normalize_steps and self.steps <= self.cfg.normalize_steps:
            x = np.asarray(obs, np.float64).reshape(-1)
            self._moments += [np.ones_like(x), x, x * x]
            if self.steps == self.cfg.normalize_steps:
                self._freeze_scale()

    def _freeze_scale(self) -> None:
        """Fix the scale at the states' std so far; keys already stored are rescaled (raw
        keys) or dropped (projected keys: the projection of a rescaled state is another
        key)."""
        n, s1, s2 = self._moments
        std = np.sqrt(np.maximum(s2 / n - (s1 / n) ** 2, 0.0))
        scale = np.where(std > 1e-6, std, 1.0).astype(np.float32)
        ratio = self.scale / scale
        self.scale = scale
        dim = self.tables[0].dim
        for i, table in enumerate(self.tables):
            if self.projection is None:
                slots = np.flatnonzero(table.index.filled)
                table.index.set(slots, table.index.vectors[slots] * ratio)
            else:
                self.tables[i] = EpisodicTable(dim, self.cfg.capacity, self.cfg.k,
                                               hnsw_threshold=self.cfg.hnsw_threshold)

    def epsilon(self) -> float:
        c = self.cfg
        frac = min(1.0, self.steps / max(1, c.eps_steps))
        return c.eps_start + frac * (c.eps_end - c.eps_start)

    def q_values(self, key: np.ndarray) -> np.ndarray:
        q = np.array([t.estimate(key[None, :])[0] for t in self.tables])
        return np.where(np.isnan(q), np.inf, q)  # an untried action first

    def act(self, obs: np.ndarray) -> int:
        key = self.embed(np.asarray(obs, np.float32).reshape(-1))
        self._obs.append(np.asarray(obs, np.float32).reshape(-1))
        if self._hold > 0:
            action, self._hold = self._held, self._hold - 1
        elif self.rng.random() < self.epsilon():
            action = int(self.rng.integers(self.n_actions))
            self._held, self._hold = action, self.cfg.eps_repeat - 1
        else:
            q = self.q_values(key)
            best = np.flatnonzero(q == q.max())
            action = int(best[self.rng.integers(len(best))]) if len(best) > 1 else int(best[0])
            if len(best) == self.n_actions:  # nothing known here: explore
                self._held, self._hold = action, self.cfg.eps_repeat - 1
        self._actions.append(action)
        return action

    def observe(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None:
        self._rewards.append(reward)
        self._cut_at = None if terminated or not truncated else np.asarray(next_obs, np.float32)
        self.steps += 1
        self._observe_moments(obs)

    def end_episode(self) -> None:
        self._hold = 0
        if self._cut_at is not None and self.cfg.skip_truncated:
            self._obs, self._actions, self._rewards, self._cut_at = [], [], [], None
            return
        rewards = np.asarray(self._rewards, np.float64)
        returns = np.zeros(len(rewards))
        acc = 0.0
        if self._cut_at is not None and self.cfg.bootstrap_truncated:
            # cut by a time limit: the state reached is worth its estimate, not nothing
            q = np.array([t.estimate(self.embed(self._cut_at)[None, :])[0] for t in self.tables])
            acc = float(np.nanmax(q)) if not np.isnan(q).all() else 0.0
            self._cut_at = None
        for t in range(len(rewards) - 1, -1, -1):  # discounted return after each step
            acc = rewards[t] + self.cfg.gamma * acc
            returns[t] = acc
        keys = self.embed(np.asarray(self._obs[:len(rewards)], np.float32).reshape(len(rewards), -1))
        actions = np.asarray(self._actions[:len(rewards)], np.int64)
        for a, table in enumerate(self.tables):
            mine = actions == a
            if mine.any():
                table.update(keys[mine], returns[mine])
        self._obs, self._actions, self._rewards = [], [], []

    # -- persistence ----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"config": asdict(self.cfg), "steps": self.steps,
                "rng": self.rng.bit_generator.state, "scale": self.scale.copy(),
                "moments": self._moments.copy(),
                "tables": [t.state() for t in self.tables]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.rng.bit_generator.state = state["rng"]
        self.scale, self._moments = state["scale"].copy(), state["moments"].copy()
        for table, saved in zip(self.tables, state["tables"]):
            table.load_state(saved)
