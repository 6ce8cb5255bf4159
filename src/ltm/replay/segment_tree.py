"""Sum-tree and min-tree over a fixed number of leaves, vectorized with numpy.

Both trees are stored heap-style in one flat array of ``2 * size`` entries
(``size`` = the next power of two at or above the capacity): node ``i`` has
children ``2i`` and ``2i + 1``, the root is node 1, leaves start at ``size``.
Every internal node is recomputed from its two children on each update (never
adjusted by a delta), so the tree is a pure function of its leaves: rebuilding
from the leaves after a reopen gives bit-identical sums.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray


class SumMinTree:
    """Prefix-sum search (sum-tree) and running minimum (min-tree) over leaf values.

    Empty leaves hold 0 in the sum-tree and +inf in the min-tree, so the minimum
    is taken over occupied leaves only.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        size = 1
        while size < capacity:
            size *= 2
        self.size = size
        self.depth = size.bit_length() - 1  # number of levels below the root
        self.sum = np.zeros(2 * size, dtype=np.float64)
        self.min = np.full(2 * size, np.inf, dtype=np.float64)

    # -- reads ---------------------------------------------------------------
    @property
    def total(self) -> float:
        return float(self.sum[1])

    @property
    def min_value(self) -> float:
        """Smallest occupied leaf value (+inf when every leaf is empty)."""
        return float(self.min[1])

    def leaves(self, idx: NDArray[np.int64]) -> NDArray[np.float64]:
        return self.sum[idx + self.size]

    def find(self, mass: NDArray[np.float64]) -> NDArray[np.int64]:
        """Leaf index for each prefix mass in ``[0, total)``.

        Leaf ``i`` is returned for masses in ``[S_i, S_i + v_i)`` where ``S_i`` is the
        sum of the leaves before it. The descent never enters a subtree whose sum is
        zero, so even a mass rounded up to ``total`` lands on an occupied leaf.
        """
        u = np.asarray(mass, dtype=np.float64).copy()
        node = np.ones(u.shape[0], dtype=np.int64)
        tree = self.sum
        for _ in range(self.depth):
            left = node * 2
            left_sum = tree[left]
            go_right = (u >= left_sum) & (tree[left + 1] > 0.0)
            u -= np.where(go_right, left_sum, 0.0)
            node = left + go_right
        return node - self.size

    # -- writes --------------------------------------------------------------
    def update(self, idx: NDArray[np.int64], values: NDArray[np.float64]) -> None:
        """Set leaves ``idx`` to ``values`` (0 = empty) and refresh their ancestors.

        With repeated indices the last value wins.
        """
        idx = np.asarray(idx, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        if idx.size == 0:
            return
        if np.any(values < 0) or not np.all(np.isfinite(values)):
            raise ValueError("leaf values must be finite and >= 0")
        if idx.size > 1:  # keep the last value of a repeated index
            rev_first = np.unique(idx[::-1], return_index=True)[1]
            keep = idx.size - 1 - rev_first
            idx, values = idx[keep], values[keep]
        node = idx + self.size
        self.sum[node] = values
        self.min[node] = np.where(values > 0, values, np.inf)
        if idx.size > self.size // 32:
            self._rebuild_all()
            return
        if idx.size > 16:
            # idx is sorted and unique here; contiguous runs (ring writes) update by slices
            breaks = np.flatnonzero(np.diff(idx) != 1) + 1
            if breaks.size < 4:
                bounds = np.concatenate(([0], breaks, [idx.size]))
                for a, b in itertools.pairwise(bounds):
                    self._refresh_run(int(idx[a]) + self.size, int(idx[b - 1]) + self.size + 1)
                return
        s, m = self.sum, self.min
        width = self.size  # number of nodes on the level of ``node``
        dense = max(2048, 8 * idx.size)
        while width > 1:
            width //= 2
            if width <= dense:
                # near the root the touched nodes fill their levels: recompute whole levels
                self._rebuild_from(width)
                return
            # all nodes sit on one level; repeated parents get identical values
            node = node >> 1
            left = node * 2
            s[node] = s[left] + s[left + 1]
            m[node] = np.minimum(m[left], m[left + 1])

    def _refresh_run(self, lo: int, hi: int) -> None:
        """Recompute the ancestors of the contiguous node range [lo, hi)."""
        s, m = self.sum, self.min
        for _ in range(self.depth):
            lo, hi = lo >> 1, ((hi - 1) >> 1) + 1
            s[lo:hi] = s[2 * lo : 2 * hi : 2] + s[2 * lo + 1 : 2 * hi : 2]
            m[lo:hi] = np.minimum(m[2 * lo : 2 * hi : 2], m[2 * lo + 1 : 2 * hi : 2])

    def set_all(self, values: NDArray[np.float64]) -> None:
        """Replace every leaf (``values`` has ``capacity`` entries) and rebuild."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.capacity,):
            raise ValueError(f"expected {self.capacity} leaf values, got shape {values.shape}")
        self.sum[self.size : self.size + self.capacity] = values
        self.sum[self.size + self.capacity :] = 0.0
        self.min[self.size :] = np.inf
        self.min[self.size : self.size + self.capacity] = np.where(values > 0, values, np.inf)
        self._rebuild_all()

    def _rebuild_all(self) -> None:
        self._rebuild_from(self.size // 2)

    def _rebuild_from(self, lo: int) -> None:
        """Recompute every level from the one starting at node ``lo`` up to the root."""
        while lo >= 1:
            # level [lo, 2lo) from its children [2lo, 4lo)
            self.sum[lo : 2 * lo] = self.sum[2 * lo : 4 * lo : 2] + self.sum[2 * lo + 1 : 4 * lo : 2]
            self.min[lo : 2 * lo] = np.minimum(
                self.min[2 * lo : 4 * lo : 2], self.min[2 * lo + 1 : 4 * lo : 2]
            )
            lo //= 2
