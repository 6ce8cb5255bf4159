"""DQN (Mnih et al., 2015) with ltm's replay buffers: the replay-based baseline.

An MLP Q-network, a target network copied every ``target_update`` env steps, epsilon-greedy
exploration, Huber loss, and ltm's :class:`~ltm.replay.UniformBuffer` or
:class:`~ltm.replay.PrioritizedBuffer` (priorities = |TD error|, importance weights with
beta annealed to 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ltm.errors import InvalidInput
from ltm.replay import PrioritizedBuffer

from . import checks
from .common import greedy, linear_epsilon, make_replay, mlp


@dataclass(frozen=True)
class DQNConfig:
    gamma: float = 0.99
    lr: float = 1e-3  # Adam
    hidden: tuple[int, ...] = (256, 256)
    batch_size: int = 64
    buffer_size: int = 100_000
    learning_starts: int = 1_000  # env steps before the first update
    train_freq: int = 4  # env steps between rounds of updates ...
    gradient_steps: int = 1  # ... of this many updates
    target_update: int = 1_000  # env steps between target-network copies
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_steps: int = 10_000
    replay: str = "uniform"  # or "prioritized"
    per_alpha: float = 0.6
    per_beta: float = 0.4  # annealed linearly to 1 over beta_steps
    beta_steps: int = 50_000
    max_grad_norm: float = 10.0
    obs_scale: float = 1.0  # observations are multiplied by this before the network

    def __post_init__(self) -> None:
        checks.exploration(self)
        if self.replay not in ("uniform", "prioritized"):
            raise InvalidInput(f"DQNConfig.replay must be 'uniform' or 'prioritized', got {self.replay!r}",
                               field="replay")
        checks.counts(self, ("batch_size", "buffer_size", "train_freq", "gradient_steps",
                             "target_update"))
        checks.counts(self, ("learning_starts", "beta_steps"), minimum=0)
        checks.widths(self, "hidden")
        checks.reals(self, ("lr", "max_grad_norm", "obs_scale"), 0.0, open_lo=True)
        checks.reals(self, ("per_alpha",), 0.0)
        checks.reals(self, ("per_beta",), 0.0, 1.0)


class DQNAgent:
    name = "dqn"

    def __init__(self, obs_dim: int, n_actions: int, cfg: DQNConfig, seed: int,
                 replay_path: Path | None = None) -> None:
        self.cfg, self.n_actions = cfg, n_actions
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        sizes = [obs_dim, *cfg.hidden, n_actions]
        self.q = mlp(sizes)
        self.target = mlp(sizes)
        self.target.load_state_dict(self.q.state_dict())
        self.opt = torch.optim.Adam(self.q.parameters(), lr=cfg.lr)
        schema = {"obs": ((obs_dim,), "float32"), "action": ((), "int64"),
                  "reward": ((), "float32"), "next_obs": ((obs_dim,), "float32"),
                  "done": ((), "float32")}
        self.replay = make_replay(cfg.replay, cfg.buffer_size, schema, replay_path, seed,
                                  cfg.per_alpha, cfg.per_beta)
        self.steps = 0
        self.updates = 0

    def epsilon(self) -> float:
        c = self.cfg
        return linear_epsilon(self.steps, c.eps_start, c.eps_end, c.eps_steps)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> int:
        if self.rng.random() < self.epsilon():
            return int(self.rng.integers(self.n_actions))
        x = torch.from_numpy(np.asarray(obs, np.float32) * self.cfg.obs_scale)[None, :]  # (1, obs)
        return greedy(self.q(x)[0].numpy(), self.rng)

    def observe(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None:
        self.replay.add({"obs": obs, "action": action, "reward": reward,
                         "next_obs": next_obs, "done": float(terminated)})
        self.steps += 1
        c = self.cfg
        if self.steps >= c.learning_starts and self.steps % c.train_freq == 0:
            for _ in range(c.gradient_steps):
                self._update()
        if self.steps % c.target_update == 0:
            self.target.load_state_dict(self.q.state_dict())

    def _update(self) -> None:
        c = self.cfg
        if isinstance(self.replay, PrioritizedBuffer):
            frac = min(1.0, self.steps / max(1, c.beta_steps))
            self.replay.beta = c.per_beta + frac * (1.0 - c.per_beta)
        batch = self.replay.sample(c.batch_size)
        d = batch.data
        obs = torch.from_numpy(d["obs"] * c.obs_scale)  # (B, obs)
        next_obs = torch.from_numpy(d["next_obs"] * c.obs_scale)  # (B, obs)
        actions = torch.from_numpy(d["action"])  # (B,)
        with torch.no_grad():
            best_next = self.target(next_obs).max(dim=1).values  # (B,)
            target = torch.from_numpy(d["reward"]) + c.gamma * (1.0 - torch.from_numpy(d["done"])) * best_next
        q = self.q(obs).gather(1, actions[:, None])[:, 0]  # (B,)
        weights = torch.from_numpy(batch.weights.astype(np.float32))  # (B,)
        loss = (weights * F.smooth_l1_loss(q, target, reduction="none")).mean()
        self.opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.q.parameters(), c.max_grad_norm)
        self.opt.step()
        self.updates += 1
        if isinstance(self.replay, PrioritizedBuffer):
            td = (q - target).detach().abs().numpy().astype(np.float64)
            self.replay.update_priorities(batch.indices, td, batch.stamps)

    def end_episode(self) -> None:
        pass

    # -- persistence ----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        self.replay.checkpoint()
        return {"config": asdict(self.cfg), "steps": self.steps, "updates": self.updates,
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "q": self.q.state_dict(), "target": self.target.state_dict(),
                "opt": self.opt.state_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.steps, self.updates = int(state["steps"]), int(state["updates"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.q.load_state_dict(state["q"])
        self.target.load_state_dict(state["target"])
        self.opt.load_state_dict(state["opt"])
