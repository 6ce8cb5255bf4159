"""Episodic control: agents that act from a long-term memory of their own experience
(extra ``ltm[rl]``: gymnasium, PyTorch on CPU).

- :class:`MFECAgent` (model-free episodic control): per action a table from state to the best
  return seen after it, k-nearest-neighbour estimates for unseen states, LRU eviction.
- :class:`NECAgent` (neural episodic control): per action a differentiable neural dictionary
  (:class:`DND`) over a learned embedding, trained from ltm's replay buffer.
- :class:`DQNAgent`: the replay-based baseline, with ltm's uniform or prioritized replay.

The k-NN lookups run on ``ltm.index.knn.KnnIndex`` (ltm's exact scan; HNSW past a threshold).
``ltm train episodic`` runs them (see ``ltm.rl.train``). Names load on first use so that
``ltm.cli.train`` imports neither numpy nor torch.
"""

from __future__ import annotations

from typing import Any

from ..errors import MissingDependency

_EXPORTS = {
    "DND": "ltm.rl.dnd",
    "DQNAgent": "ltm.rl.dqn",
    "DQNConfig": "ltm.rl.dqn",
    "EpisodicTable": "ltm.rl.tables",
    "MFECAgent": "ltm.rl.mfec",
    "MFECConfig": "ltm.rl.mfec",
    "NECAgent": "ltm.rl.nec",
    "NECConfig": "ltm.rl.nec",
    "kernel_read": "ltm.rl.dnd",
    "make_env": "ltm.rl.envs",
    "run": "ltm.rl.train",
    "settings_for": "ltm.rl.train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(MissingDependency.import_module(_EXPORTS[name], "rl"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ltm.rl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
