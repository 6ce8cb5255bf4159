"""Slot tables with least-recently-used eviction over ltm's k-NN index: the MFEC value table.

A table keeps up to ``capacity`` keys (state embeddings) in a :class:`~ltm.index.knn.KnnIndex`
with a value and a last-used stamp per slot. New keys fill free slots; once the table is
full, a new key takes the slot used longest ago. :class:`~ltm.rl.dnd.DND` is the same table
with differentiable reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ltm.index.knn import KnnIndex

MATCH_POOL = 64  # candidates ``match`` re-ranks by exact distance


class SlotTable:
    """Keys, one float value per key, LRU stamps; ``match`` finds exact duplicates."""

    def __init__(self, dim: int, capacity: int, *, hnsw_threshold: int = 100_000) -> None:
        self.index = KnnIndex(dim, capacity, hnsw_threshold=hnsw_threshold)
        self.values = np.zeros(capacity, np.float64)
        self.last_used = np.zeros(capacity, np.int64)
        self.clock = 0  # advances once per lookup or write batch

    @property
    def dim(self) -> int:
        return self.index.dim

    @property
    def capacity(self) -> int:
        return self.index.capacity

    def __len__(self) -> int:
        return len(self.index)

    def touch(self, slots: np.ndarray) -> None:
        self.clock += 1
        self.last_used[np.asarray(slots, np.int64).reshape(-1)] = self.clock

    def match(self, keys: np.ndarray, tol: float = 0.0) -> np.ndarray:
        """Slot holding each key exactly (squared distance <= ``tol``), -1 where none does."""
        keys = np.asarray(keys, np.float32).reshape(-1, self.dim)
        out = np.full(len(keys), -1, np.int64)
        if len(self) == 0 or len(keys) == 0:
            return out
        # the index picks candidates by float32 scores q.x - |x|^2/2, which can rank a near
        # neighbour above the held key itself when keys are large (raw pixels); its exact
        # re-ranking of a wider pool puts the held key first
        slots, d2 = self.index.search(keys, MATCH_POOL)
        hit = d2[:, 0] <= tol
        out[hit] = slots[hit, 0]
        return out

    def insert(self, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Store new keys (assumed absent) in free slots, else in the least recently used ones;
        returns their slots. More keys than ``capacity``: the last ``capacity`` are kept."""
        keys = np.asarray(keys, np.float32).reshape(-1, self.dim)[-self.capacity:]
        values = np.asarray(values, np.float64).reshape(-1)[-self.capacity:]
        m = len(keys)
        if m == 0:
            return np.zeros(0, np.int64)
        free = self.capacity - len(self)
        if free >= m:
            slots = np.arange(len(self), len(self) + m, dtype=np.int64)  # filled from 0 up
        else:
            fresh = np.arange(len(self), self.capacity, dtype=np.int64)
            need = m - free
            lru = np.argpartition(self.last_used[:len(self)], need - 1)[:need]
            slots = np.concatenate([fresh, lru.astype(np.int64)])
        self.index.set(slots, keys)
        self.values[slots] = values
        self.touch(slots)
        return slots

    # -- persistence ----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        n = self.index.high
        return {"keys": self.index.vectors[:n].copy(), "filled": self.index.filled[:n].copy(),
                "values": self.values[:n].copy(), "last_used": self.last_used[:n].copy(),
                "clock": self.clock}

    def load_state(self, state: dict[str, Any]) -> None:
        filled = np.asarray(state["filled"], bool)
        slots = np.flatnonzero(filled)
        self.index.set(slots, np.asarray(state["keys"], np.float32)[slots])
        n = len(filled)
        self.values[:n] = state["values"]
        self.last_used[:n] = state["last_used"]
        self.clock = int(state["clock"])


class EpisodicTable(SlotTable):
    """MFEC's ``Q_EC(., a)`` for one action: key -> the highest discounted return seen after
    it (Blundell et al., 2016).

    ``estimate``: the stored value for a key held exactly, else the mean value of the ``k``
    nearest keys (the neighbours become recently used). ``update``: a held key keeps the
    larger of its value and the new return; a new key is inserted.
    """

    def __init__(self, dim: int, capacity: int, k: int, *, hnsw_threshold: int = 100_000) -> None:
        super().__init__(dim, capacity, hnsw_threshold=hnsw_threshold)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = k

    def estimate(self, keys: np.ndarray) -> np.ndarray:
        """Value estimates ``(m,)``; NaN while the table is empty."""
        keys = np.asarray(keys, np.float32).reshape(-1, self.dim)
        if len(self) == 0:
            return np.full(len(keys), np.nan)
        slots, d2 = self.index.search(keys, self.k)  # (m, k'), nearest first
        est = self.values[slots].mean(axis=1)
        exact = d2[:, 0] == 0.0
        est[exact] = self.values[slots[exact, 0]]
        self.touch(np.where(exact[:, None], slots[:, :1], slots))
        return est

    def update(self, keys: np.ndarray, returns: np.ndarray) -> None:
        keys = np.asarray(keys, np.float32).reshape(-1, self.dim)
        returns = np.asarray(returns, np.float64).reshape(-1)
        if len(keys) == 0:
            return
        # one entry per distinct key of the batch, with its best return
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        best = np.full(len(uniq), -np.inf)
        np.maximum.at(best, inverse.reshape(-1), returns)
        held = self.match(uniq)
        old = held >= 0
        if old.any():
            slots = held[old]
            self.values[slots] = np.maximum(self.values[slots], best[old])
            self.touch(slots)
        if (~old).any():
            self.insert(uniq[~old], best[~old])
