"""The differentiable neural dictionary of NEC (Pritzel et al., 2017), one per action.

Keys are embeddings of states, values N-step Q estimates. A read finds the ``k`` nearest keys
of each query through ltm's k-NN index and returns the kernel-weighted mean of their values,

    w_i = 1 / (|h - key_i|^2 + delta),   Q(h) = sum_i w_i v_i / sum_i w_i,

differentiable in the query ``h`` (so the loss trains the embedding network). A write is
tabular: a key already held moves its value toward the target with rate ``lr``
(``v += lr (target - v)``); a new key is inserted, evicting the least recently used when full.
"""

from __future__ import annotations

import numpy as np
import torch

from .tables import SlotTable


def kernel_read(h: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                delta: float) -> torch.Tensor:
    """Kernel-weighted mean of neighbour values.

    h: (m, p) queries; keys: (m, k, p) their neighbours' keys; values: (m, k) -> (m,).
    """
    d2 = ((h[:, None, :] - keys) ** 2).sum(dim=-1)  # (m, k)
    w = 1.0 / (d2 + delta)  # (m, k)
    return (w * values).sum(dim=1) / w.sum(dim=1)


class DND(SlotTable):
    """One action's dictionary: ``capacity`` keys of ``dim`` floats with scalar values."""

    def __init__(self, dim: int, capacity: int, k: int, *, delta: float = 1e-3, lr: float = 0.1,
                 write_tol: float = 0.0, hnsw_threshold: int = 100_000) -> None:
        super().__init__(dim, capacity, hnsw_threshold=hnsw_threshold)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k, self.delta, self.lr, self.write_tol = k, delta, lr, write_tol

    def read(self, h: torch.Tensor) -> torch.Tensor:
        """Q estimates ``(m,)`` for query embeddings ``h`` ``(m, dim)``, differentiable in ``h``;
        zeros while the dictionary is empty. The neighbours become recently used."""
        if len(self) == 0:
            return h.sum(dim=1) * 0.0  # keeps the graph (and the dtype) of h
        slots, _ = self.index.search(h.detach().cpu().numpy(), self.k)  # (m, k')
        self.touch(slots)
        keys = torch.from_numpy(self.index.vectors[slots]).to(h.dtype)  # (m, k', dim)
        values = torch.from_numpy(self.values[slots]).to(h.dtype)  # (m, k')
        return kernel_read(h, keys, values, self.delta)

    def estimate(self, keys: np.ndarray) -> np.ndarray:
        """``read`` without gradients, in numpy: Q estimates ``(m,)`` of keys ``(m, dim)``
        (the kernel on the index's own squared distances); zeros while empty."""
        keys = np.asarray(keys, np.float32).reshape(-1, self.dim)
        if len(self) == 0:
            return np.zeros(len(keys))
        slots, d2 = self.index.search(keys, self.k)  # (m, k')
        self.touch(slots)
        w = 1.0 / (d2.astype(np.float64) + self.delta)  # (m, k')
        return np.asarray((w * self.values[slots]).sum(axis=1) / w.sum(axis=1))

    def write(self, keys: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Tabular update of held keys (a key within squared distance ``write_tol`` of a held
        one counts as held), insertion of new ones (duplicates in one batch: the first
        insertion holds the key, later ones update it); returns each key's slot."""
        keys = np.asarray(keys, np.float32).reshape(-1, self.dim)
        targets = np.asarray(targets, np.float64).reshape(-1)
        out = np.zeros(len(keys), np.int64)
        for i, (key, target) in enumerate(zip(keys, targets)):
            held = int(self.match(key[None, :], self.write_tol)[0])
            if held >= 0:
                self.values[held] += self.lr * (target - self.values[held])
                self.touch(np.array([held]))
                out[i] = held
            else:
                out[i] = self.insert(key[None, :], np.array([target]))[0]
        return out

    def refresh_keys(self, slots: np.ndarray, keys: np.ndarray) -> None:
        """Replace the keys of held slots (re-embedded states), keeping values and stamps."""
        self.index.set(np.asarray(slots, np.int64), np.asarray(keys, np.float32))
