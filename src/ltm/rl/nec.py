"""Neural episodic control (Pritzel et al., 2017).

An embedding network maps a state to a key ``h``; per action a :class:`~ltm.rl.dnd.DND` reads
``Q(s, a)`` as the kernel-weighted mean of the values of the ``k`` keys nearest ``h``. Once the
N-step return of step ``t`` is known,

    Q_N(s_t, a_t) = sum_{j<N} gamma^j r_{t+j} + gamma^N max_a Q(s_{t+N}, a)

(no bootstrap past a terminal step), ``(h_t, Q_N)`` is written to the DND of ``a_t`` (tabular
update of a held key, else insertion) and ``(s_t, a_t, Q_N)`` goes into ltm's replay buffer.
Every ``train_every`` steps a replayed batch trains the embedding network on
``(Q(s, a) - Q_N)^2`` through the DND read. The stored states are re-embedded every
``refresh_every`` updates, so the keys follow the network (the paper moves them by gradient
instead).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import checks
from .common import greedy, linear_epsilon, make_replay, mlp
from .dnd import DND


@dataclass(frozen=True)
class NECConfig:
    gamma: float = 0.99
    nstep: int = 50  # N of the N-step Q targets
    key_dim: int = 32  # embedding (key) width
    hidden: tuple[int, ...] = (64,)  # embedding network's hidden widths
    k: int = 10  # neighbours per read
    delta: float = 1e-3  # kernel: 1 / (d^2 + delta)
    dnd_lr: float = 0.1  # tabular write rate of a held key
    capacity: int = 50_000  # keys per action
    lr: float = 1e-3  # Adam, embedding network
    batch_size: int = 32
    replay_size: int = 50_000
    learning_starts: int = 1_000
    train_every: int = 4  # env steps between updates
    refresh_every: int = 200  # updates between re-embeddings of the stored states (0: never)
    eps_start: float = 1.0
    eps_end: float = 0.01
    eps_steps: int = 5_000
    obs_scale: float = 1.0
    # >0: after this many env steps, states enter the network as (x - mean) / std of the states
    # seen so far (the stored states are re-embedded then); 0: as they come, times obs_scale
    normalize_steps: int = 0
    # a written key within this squared distance of a held key updates that key's value
    # (v += dnd_lr (target - v)) instead of being inserted; 0: exact duplicates only
    write_tol: float = 0.0
    hnsw_threshold: int = 100_000

    def __post_init__(self) -> None:
        checks.exploration(self)
        checks.counts(self, ("nstep", "key_dim", "k", "capacity", "batch_size", "replay_size",
                             "train_every", "hnsw_threshold"))
        checks.counts(self, ("learning_starts", "refresh_every", "normalize_steps"), minimum=0)
        checks.widths(self, "hidden")
        checks.reals(self, ("delta", "lr", "obs_scale"), 0.0, open_lo=True)
        checks.reals(self, ("dnd_lr",), 0.0, 1.0, open_lo=True)
        checks.reals(self, ("write_tol",), 0.0)


class NECAgent:
    name = "nec"

    def __init__(self, obs_dim: int, n_actions: int, cfg: NECConfig, seed: int,
                 replay_path: Path | None = None) -> None:
        self.cfg, self.n_actions, self.obs_dim = cfg, n_actions, obs_dim
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        self.net = mlp([obs_dim, *cfg.hidden, cfg.key_dim])
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.dnds = [DND(cfg.key_dim, cfg.capacity, cfg.k, delta=cfg.delta, lr=cfg.dnd_lr,
                         write_tol=cfg.write_tol, hnsw_threshold=cfg.hnsw_threshold)
                     for _ in range(n_actions)]
        self.states = [np.zeros((cfg.capacity, obs_dim), np.float32) for _ in range(n_actions)]
        schema = {"obs": ((obs_dim,), "float32"), "action": ((), "int64"),
                  "target": ((), "float32")}
        self.replay = make_replay("uniform", cfg.replay_size, schema, replay_path, seed)
        self.steps = 0
        self.updates = 0
        # the episode's steps whose N-step target is not known yet: (obs, key, action, reward)
        self._pending: deque[list[Any]] = deque()
        self._last_next_obs: np.ndarray | None = None
        # input normalisation: shift and scale (0 and 1 until normalize_steps states are seen)
        self.shift = np.zeros(obs_dim, np.float32)
        self.scale = np.ones(obs_dim, np.float32)
        self._moments = np.zeros((3, obs_dim))  # count, sum, sum of squares

    def _inputs(self, obs: np.ndarray) -> torch.Tensor:
        x = (np.asarray(obs, np.float32).reshape(-1, self.obs_dim) - self.shift) / self.scale
        return torch.from_numpy(np.ascontiguousarray(x * self.cfg.obs_scale, np.float32))

    def _observe_moments(self, obs: np.ndarray) -> None:
        n = self.cfg.normalize_steps
        if n and self.steps <= n:
            x = np.asarray(obs, np.float64).reshape(-1)
            self._moments += [np.ones_like(x), x, x * x]
            if self.steps == n:
                count, s1, s2 = self._moments
                mean = s1 / count
                std = np.sqrt(np.maximum(s2 / count - mean ** 2, 0.0))
                self.shift = mean.astype(np.float32)
                self.scale = np.where(std > 1e-6, std, 1.0).astype(np.float32)
                self.refresh_keys()
                if self._pending:  # the episode's steps not yet written take new keys too
                    keys = self.embed(np.array([p[0] for p in self._pending]))
                    for p, key in zip(self._pending, keys):
                        p[1] = key

    def epsilon(self) -> float:
        c = self.cfg
        return linear_epsilon(self.steps, c.eps_start, c.eps_end, c.eps_steps)

    @torch.no_grad()
    def embed(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(self.net(self._inputs(obs)).numpy(), np.float32)  # (m, key_dim)

    def q_values(self, key: np.ndarray) -> np.ndarray:
        return np.array([float(d.estimate(key[None, :])[0]) for d in self.dnds])

    def act(self, obs: np.ndarray) -> int:
        key = self.embed(obs)[0]
        q = self.q_values(key)
        if len(self._pending) >= self.cfg.nstep:  # this state bootstraps step t - N
            self._finish(float(q.max()), 1)
        if self.rng.random() < self.epsilon():
            action = int(self.rng.integers(self.n_actions))
        else:
            action = greedy(q, self.rng)
        self._pending.append([np.asarray(obs, np.float32), key, action, 0.0])
        return action

    def observe(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None:
        self._pending[-1][3] = reward
        self._last_next_obs = None if terminated else np.asarray(next_obs, np.float32)
        self.steps += 1
        self._observe_moments(obs)
        c = self.cfg
        if self.steps >= c.learning_starts and self.steps % c.train_every == 0 \
                and len(self.replay) >= c.batch_size:
            self._update()

    def _finish(self, bootstrap: float, count: int) -> None:
        """Write the oldest ``count`` pending steps with their N-step (or shorter) targets,
        bootstrapped by ``bootstrap`` (the value of the state after the last pending step)."""
        c = self.cfg
        rewards = np.array([p[3] for p in self._pending], np.float64)
        for _ in range(count):
            obs, key, action, _ = self._pending.popleft()
            n = len(rewards)
            target = float((c.gamma ** np.arange(n) * rewards).sum() + c.gamma ** n * bootstrap)
            rewards = rewards[1:]
            slot = self.dnds[action].write(key[None, :], np.array([target]))[0]
            self.states[action][slot] = obs
            self.replay.add({"obs": obs, "action": action, "target": target})

    def end_episode(self) -> None:
        bootstrap = 0.0
        if self._last_next_obs is not None:  # cut by a time limit: bootstrap from the last state
            bootstrap = float(self.q_values(self.embed(self._last_next_obs)[0]).max())
        self._finish(bootstrap, len(self._pending))
        self._last_next_obs = None

    def _update(self) -> None:
        c = self.cfg
        batch = self.replay.sample(c.batch_size)
        d = batch.data
        h = self.net(self._inputs(d["obs"]))  # (B, key_dim)
        actions = d["action"]
        q = torch.zeros(len(actions))
        for a, dnd in enumerate(self.dnds):
            rows = np.flatnonzero(actions == a)
            if len(rows):
                q = q.index_put((torch.from_numpy(rows),), dnd.read(h[torch.from_numpy(rows)]))
        loss = ((q - torch.from_numpy(d["target"])) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.updates += 1
        if c.refresh_every and self.updates % c.refresh_every == 0:
            self.refresh_keys()

    def refresh_keys(self) -> None:
        """Re-embed every stored state with the current network."""
        for dnd, states in zip(self.dnds, self.states):
            slots = np.flatnonzero(dnd.index.filled)
            if len(slots):
                dnd.refresh_keys(slots, self.embed(states[slots]))

    # -- persistence ----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        self.replay.checkpoint()
        return {"config": asdict(self.cfg), "steps": self.steps, "updates": self.updates,
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "net": self.net.state_dict(), "opt": self.opt.state_dict(),
                "shift": self.shift.copy(), "scale": self.scale.copy(),
                "moments": self._moments.copy(),
                "dnds": [d.state() for d in self.dnds],
                "states": [s[:d.index.high].copy() for s, d in zip(self.states, self.dnds)]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.steps, self.updates = int(state["steps"]), int(state["updates"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.net.load_state_dict(state["net"])
        self.shift, self.scale = state["shift"].copy(), state["scale"].copy()
        self._moments = state["moments"].copy()
        self.opt.load_state_dict(state["opt"])
        for dnd, saved, states, saved_states in zip(self.dnds, state["dnds"], self.states,
                                                     state["states"]):
            dnd.load_state(saved)
            states[:len(saved_states)] = saved_states
